import { ConflictError, InvalidStateTransitionError } from "../errors";
import type { InstanceState } from "./states";

// The instance lifecycle as data (compute-instance.md). Each transition has one owner: the
// operation (orchestration) allowed to make it. Triggers ask `canStart` before starting an
// operation; orchestrations ask `checkTransition` before writing a new state, which catches
// races such as a delete landing while a start was running.

export const OPERATIONS = ["create", "setup", "start", "stop", "restart", "delete", "jobs", "sync"] as const;
export type Operation = (typeof OPERATIONS)[number];
/** Operations a caller can request through the API. */
export type UserOperation = "create" | "start" | "stop" | "restart" | "delete";

/** "none" stands for "no record yet" (create) and "gone" for "record removed" (delete). */
export type StateOrAbsent = InstanceState | "none" | "gone";

export interface Transition {
  from: StateOrAbsent;
  to: StateOrAbsent;
  op: Operation;
}

/** States in which an operation is in flight: another one gets 409 Conflict. */
export const BUSY_STATES: readonly InstanceState[] = ["Creating", "SettingUp", "Starting", "Stopping", "Restarting", "Deleting"];

const SETTLED: InstanceState[] = ["CreateFailed", "SetupFailed", "Running", "JobRunning", "Stopped", "Unusable", "Unknown"];

const t = (op: Operation, from: StateOrAbsent[], to: StateOrAbsent): Transition[] => from.map((f) => ({ from: f, to, op }));

export const TRANSITIONS: readonly Transition[] = [
  ...t("create", ["none"], "Creating"),
  ...t("create", ["Creating"], "SettingUp"),
  ...t("create", ["Creating"], "CreateFailed"),
  ...t("setup", ["SettingUp"], "Running"),
  ...t("setup", ["SettingUp"], "SetupFailed"),
  ...t("jobs", ["Running"], "JobRunning"),
  ...t("jobs", ["JobRunning"], "Running"),
  ...t("stop", ["Running", "JobRunning", "SetupFailed", "Unknown"], "Stopping"),
  ...t("stop", ["Stopping"], "Stopped"),
  ...t("stop", ["Stopping"], "Unknown"), // the deallocate failed and the VM's state is unclear until the next sync
  ...t("start", ["Stopped"], "Starting"),
  ...t("start", ["Starting"], "SettingUp"), // the startup script runs on every start
  ...t("start", ["Starting"], "Running"), // no startup script
  ...t("start", ["Starting"], "Stopped"), // the VM did not start (capacity, quota): still deallocated
  ...t("restart", ["Running", "JobRunning", "SetupFailed", "Unusable", "Unknown"], "Restarting"),
  ...t("restart", ["Restarting"], "Running"),
  ...t("restart", ["Restarting"], "SettingUp"),
  ...t("restart", ["Restarting"], "Unknown"),
  ...t("delete", SETTLED, "Deleting"),
  ...t("delete", ["Deleting"], "gone"),
  ...t("delete", ["Deleting"], "Unusable"), // cleanup failed: keep the record so the delete can be retried
  // A read found the VM lost or unreadable, or found it again. Busy states belong to their
  // orchestration, so a read only ever moves settled states.
  ...t("sync", SETTLED.filter((s) => s !== "Unusable"), "Unusable"),
  ...t("sync", SETTLED.filter((s) => s !== "Unknown"), "Unknown"),
  ...t("sync", ["Unknown", "Unusable"], "Running"),
  ...t("sync", ["Unknown", "Unusable"], "Stopped"),
];

/** For a requested operation: the states it may start from, and the state it enters. */
export const OPERATION_RULES: Record<UserOperation, { from: readonly StateOrAbsent[]; enters: InstanceState }> = {
  create: { from: ["none"], enters: "Creating" },
  start: { from: ["Stopped"], enters: "Starting" },
  stop: { from: ["Running", "JobRunning", "SetupFailed", "Unknown"], enters: "Stopping" },
  restart: { from: ["Running", "JobRunning", "SetupFailed", "Unusable", "Unknown"], enters: "Restarting" },
  delete: { from: SETTLED, enters: "Deleting" },
};

const byKey = new Set(TRANSITIONS.map((x) => `${x.op}|${x.from}|${x.to}`));

export function isBusy(state: StateOrAbsent): boolean {
  return (BUSY_STATES as readonly string[]).includes(state);
}

export type CanStart = { ok: true; enters: InstanceState } | { ok: false; error: ConflictError | InvalidStateTransitionError };

/** May `op` be started while the instance is in `state`? Busy → Conflict; otherwise explain the rule. */
export function canStart(op: UserOperation, state: StateOrAbsent): CanStart {
  const rule = OPERATION_RULES[op];
  if (rule.from.includes(state)) return { ok: true, enters: rule.enters };
  if (op === "create") {
    return { ok: false, error: new ConflictError("An instance with this name already exists.", { retryable: false, target: "name" }) };
  }
  if (state === "none" || state === "gone") {
    return { ok: false, error: new InvalidStateTransitionError(`Cannot ${op} an instance that does not exist.`, state, op) };
  }
  if (isBusy(state)) {
    return {
      ok: false,
      error: new ConflictError(
        `The instance is ${state}; another operation is in progress. Retry ${op} when it has finished.`,
      ),
    };
  }
  // Only create starts from "none" (answered above) and no rule starts from "gone".
  const allowed = rule.from.join(", ");
  return {
    ok: false,
    error: new InvalidStateTransitionError(`Cannot ${op} an instance that is ${state}; ${op} is allowed from: ${allowed}.`, state, op),
  };
}

export function isAllowedTransition(op: Operation, from: StateOrAbsent, to: StateOrAbsent): boolean {
  return byKey.has(`${op}|${from}|${to}`);
}

/** Guard for orchestrations writing a state: a forbidden move means someone else owns the instance now. */
export function checkTransition(op: Operation, from: StateOrAbsent, to: StateOrAbsent): void {
  if (isAllowedTransition(op, from, to)) return;
  const owner = TRANSITIONS.find((x) => x.from === from && x.to === to)?.op;
  throw new InvalidStateTransitionError(
    owner
      ? `The ${op} operation may not move the instance from ${from} to ${to}; that transition belongs to ${owner}.`
      : `No operation moves an instance from ${from} to ${to}.`,
    from,
    op,
  );
}
