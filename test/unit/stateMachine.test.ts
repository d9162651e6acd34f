import { describe, expect, it } from "vitest";
import { ConflictError, InvalidStateTransitionError } from "../../shared/errors";
import { normaliseVmState, reconcileState } from "../../shared/instances/azureState";
import {
  BUSY_STATES,
  canStart,
  checkTransition,
  isAllowedTransition,
  OPERATION_RULES,
  TRANSITIONS,
  type Operation,
  type StateOrAbsent,
  type UserOperation,
} from "../../shared/instances/stateMachine";
import { INSTANCE_STATES, type InstanceState } from "../../shared/instances/states";

// Every transition of compute-instance.md, with its owner.
const expected: [Operation, StateOrAbsent, StateOrAbsent][] = [
  ["create", "none", "Creating"],
  ["create", "Creating", "SettingUp"],
  ["create", "Creating", "CreateFailed"],
  ["setup", "SettingUp", "Running"],
  ["setup", "SettingUp", "SetupFailed"],
  ["jobs", "Running", "JobRunning"],
  ["jobs", "JobRunning", "Running"],
  ["stop", "Running", "Stopping"],
  ["stop", "JobRunning", "Stopping"],
  ["stop", "Stopping", "Stopped"],
  ["start", "Stopped", "Starting"],
  ["start", "Starting", "SettingUp"],
  ["start", "Starting", "Running"],
  ["restart", "Running", "Restarting"],
  ["restart", "Restarting", "Running"],
  ["delete", "Running", "Deleting"],
  ["delete", "Stopped", "Deleting"],
  ["delete", "CreateFailed", "Deleting"],
  ["delete", "SetupFailed", "Deleting"],
  ["delete", "Unusable", "Deleting"],
  ["delete", "Deleting", "gone"],
  ["sync", "Running", "Unusable"],
  ["sync", "Stopped", "Unknown"],
  ["sync", "Unknown", "Running"],
];

const forbidden: [Operation, StateOrAbsent, StateOrAbsent][] = [
  ["create", "Creating", "Running"],
  ["setup", "Creating", "Running"],
  ["start", "Running", "Starting"],
  ["stop", "Stopped", "Stopping"],
  ["stop", "Running", "Stopped"],
  ["jobs", "Stopped", "JobRunning"],
  ["restart", "Stopped", "Restarting"],
  ["delete", "Creating", "Deleting"],
  ["delete", "Running", "gone"],
  ["start", "Stopped", "Running"],
  ["sync", "Deleting", "Unknown"],
  ["sync", "Starting", "Unusable"],
  ["jobs", "Running", "Stopped"],
];

describe("state machine transitions", () => {
  it.each(expected)("%s may move %s → %s", (op, from, to) => {
    expect(isAllowedTransition(op, from, to)).toBe(true);
    expect(() => checkTransition(op, from, to)).not.toThrow();
  });

  it.each(forbidden)("%s may not move %s → %s", (op, from, to) => {
    expect(isAllowedTransition(op, from, to)).toBe(false);
    expect(() => checkTransition(op, from, to)).toThrow(InvalidStateTransitionError);
  });

  it("each transition has exactly one owner", () => {
    const seen = new Map<string, Operation>();
    for (const t of TRANSITIONS) {
      const key = `${t.from}->${t.to}`;
      expect(seen.get(key) ?? t.op, key).toBe(t.op);
      seen.set(key, t.op);
    }
  });

  it("names the owner when another operation tries a transition", () => {
    expect(() => checkTransition("start", "Stopping", "Stopped")).toThrow(/belongs to stop/);
  });

  it("every state can be deleted once settled and reached from somewhere", () => {
    for (const s of INSTANCE_STATES) {
      expect(TRANSITIONS.some((t) => t.to === s), s).toBe(true);
      if (!BUSY_STATES.includes(s)) expect(isAllowedTransition("delete", s, "Deleting"), s).toBe(true);
    }
  });
});

describe("canStart: every user operation × every state", () => {
  const ops: UserOperation[] = ["create", "start", "stop", "restart", "delete"];
  const states: StateOrAbsent[] = ["none", ...INSTANCE_STATES];
  const cases = ops.flatMap((op) => states.map((s) => [op, s] as const));

  it.each(cases)("%s from %s", (op, state) => {
    const r = canStart(op, state);
    const allowed = OPERATION_RULES[op].from.includes(state);
    expect(r.ok).toBe(allowed);
    if (r.ok) {
      expect(r.enters).toBe(OPERATION_RULES[op].enters);
      expect(isAllowedTransition(op, state, r.enters)).toBe(true);
      return;
    }
    expect(r.error.status).toBe(409);
    if (op !== "create" && BUSY_STATES.includes(state as InstanceState)) {
      expect(r.error).toBeInstanceOf(ConflictError);
      expect(r.error.message).toContain("in progress");
    } else if (op !== "create") {
      expect(r.error).toBeInstanceOf(InvalidStateTransitionError);
      expect(r.error.code).toBe("InvalidStateTransition");
    }
  });

  it("explains the rule", () => {
    const r = canStart("start", "Running");
    expect(!r.ok && r.error.message).toBe("Cannot start an instance that is Running; start is allowed from: Stopped.");
  });
});

describe("Azure instance view → state", () => {
  const view = (...codes: string[]) => ({ exists: true as const, statuses: codes.map((code) => ({ code })) });
  it.each<[ReturnType<typeof view> | { exists: false }, InstanceState]>([
    [view("ProvisioningState/succeeded", "PowerState/running"), "Running"],
    [view("ProvisioningState/succeeded", "PowerState/deallocated"), "Stopped"],
    [view("ProvisioningState/succeeded", "PowerState/stopped"), "Stopped"],
    [view("ProvisioningState/updating", "PowerState/deallocating"), "Stopping"],
    [view("ProvisioningState/updating", "PowerState/starting"), "Starting"],
    [view("ProvisioningState/creating"), "Creating"],
    [view("ProvisioningState/deleting", "PowerState/running"), "Deleting"],
    [view("ProvisioningState/failed/InternalOperationError", "PowerState/running"), "Unusable"],
    [view("ProvisioningState/succeeded"), "Unknown"],
    [view("PowerState/unknown"), "Unknown"],
    [{ exists: false }, "Unusable"],
  ])("%j → %s", (vm, state) => {
    expect(normaliseVmState(vm).state).toBe(state);
  });

  it.each<[InstanceState, InstanceState, InstanceState]>([
    ["JobRunning", "Running", "JobRunning"],
    ["SettingUp", "Running", "SettingUp"],
    ["Running", "Stopped", "Stopped"],
    ["Stopped", "Running", "Running"],
    ["Running", "Unusable", "Unusable"],
    ["Stopping", "Running", "Stopping"],
    ["Unknown", "Running", "Running"],
  ])("record %s + cloud %s → %s", (recorded, observed, result) => {
    expect(reconcileState(recorded, observed)).toBe(result);
  });
});
