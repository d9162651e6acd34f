import { describe, expect, it } from "vitest";
import { ConflictError, InvalidStateTransitionError } from "../../shared/errors";
import { normaliseVmState, reconcileState } from "../../shared/instances/azureState";
import {
  BUSY_STATES,
  canStart,
  checkTransition,
  isAllowedTransition,
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

// The whole lifecycle graph, stated literally: every (operation, from, to) that is allowed.
// Anything not listed must be refused.
const SETTLED_BUT = (...but: InstanceState[]): InstanceState[] =>
  (["CreateFailed", "SetupFailed", "Running", "JobRunning", "Stopped", "Unusable", "Unknown"] as InstanceState[]).filter((s) => !but.includes(s));
const GRAPH: Record<Operation, [StateOrAbsent[], StateOrAbsent][]> = {
  create: [[["none"], "Creating"], [["Creating"], "SettingUp"], [["Creating"], "CreateFailed"]],
  setup: [[["SettingUp"], "Running"], [["SettingUp"], "SetupFailed"]],
  jobs: [[["Running"], "JobRunning"], [["JobRunning"], "Running"]],
  stop: [
    [["Running", "JobRunning", "SetupFailed", "Unknown"], "Stopping"],
    [["Stopping"], "Stopped"],
    [["Stopping"], "Unknown"], // the deallocate failed
  ],
  start: [
    [["Stopped"], "Starting"],
    [["Starting"], "SettingUp"],
    [["Starting"], "Running"],
    [["Starting"], "Stopped"], // the VM did not start
  ],
  restart: [
    [["Running", "JobRunning", "SetupFailed", "Unusable", "Unknown"], "Restarting"],
    [["Restarting"], "Running"],
    [["Restarting"], "SettingUp"],
    [["Restarting"], "Unknown"],
  ],
  delete: [
    [SETTLED_BUT(), "Deleting"],
    [["Deleting"], "gone"],
    [["Deleting"], "Unusable"], // cleanup failed: the record stays for a retry
  ],
  sync: [
    [SETTLED_BUT("Unusable"), "Unusable"],
    [SETTLED_BUT("Unknown"), "Unknown"],
    [["Unknown", "Unusable"], "Running"],
    [["Unknown", "Unusable"], "Stopped"],
  ],
};
const ALL_OPS = Object.keys(GRAPH) as Operation[];
const ALL_STATES: StateOrAbsent[] = ["none", "gone", ...INSTANCE_STATES];
const allowed = new Set(ALL_OPS.flatMap((op) => GRAPH[op].flatMap(([froms, to]) => froms.map((f) => `${op}|${f}|${to}`))));

describe("the lifecycle graph, stated literally", () => {
  const triples = ALL_OPS.flatMap((op) => ALL_STATES.flatMap((from) => ALL_STATES.map((to) => [op, from, to] as const)));

  it("allows exactly the listed transitions", () => {
    const wrong = triples.filter(([op, from, to]) => isAllowedTransition(op, from, to) !== allowed.has(`${op}|${from}|${to}`));
    expect(wrong).toEqual([]);
  });

  it.each<[Operation, StateOrAbsent, StateOrAbsent]>([
    ["stop", "Stopping", "Unknown"],
    ["start", "Starting", "Stopped"],
    ["restart", "Restarting", "SettingUp"],
    ["delete", "Deleting", "Unusable"],
  ])("failure path %s: %s → %s is allowed", (op, from, to) => {
    expect(() => checkTransition(op, from, to)).not.toThrow();
  });

  it("a transition nobody owns says so", () => {
    expect(() => checkTransition("start", "Stopped", "Running")).toThrow(
      new InvalidStateTransitionError("No operation moves an instance from Stopped to Running.", "Stopped", "start"),
    );
    expect(() => checkTransition("sync", "Stopping", "Stopped")).toThrow(
      "The sync operation may not move the instance from Stopping to Stopped; that transition belongs to stop.",
    );
  });
});

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

// The rules stated literally (compute-instance.md), not read back from the tables under test.
const ALLOWED_FROM: Record<UserOperation, StateOrAbsent[]> = {
  create: ["none"],
  start: ["Stopped"],
  stop: ["Running", "JobRunning", "SetupFailed", "Unknown"],
  restart: ["Running", "JobRunning", "SetupFailed", "Unusable", "Unknown"],
  delete: ["CreateFailed", "SetupFailed", "Running", "JobRunning", "Stopped", "Unusable", "Unknown"],
};
const ENTERS: Record<UserOperation, InstanceState> = {
  create: "Creating",
  start: "Starting",
  stop: "Stopping",
  restart: "Restarting",
  delete: "Deleting",
};
const BUSY: StateOrAbsent[] = ["Creating", "SettingUp", "Starting", "Stopping", "Restarting", "Deleting"];

describe("canStart: every user operation × every state", () => {
  const ops: UserOperation[] = ["create", "start", "stop", "restart", "delete"];
  const states: StateOrAbsent[] = ["none", "gone", ...INSTANCE_STATES];
  const cases = ops.flatMap((op) => states.map((s) => [op, s] as const));

  it.each(cases)("%s from %s", (op, state) => {
    const r = canStart(op, state);
    expect(r.ok).toBe(ALLOWED_FROM[op].includes(state));
    if (r.ok) {
      expect(r.enters).toBe(ENTERS[op]);
      return;
    }
    expect(r.error.status).toBe(409);
    if (op === "create") {
      expect(r.error).toBeInstanceOf(ConflictError);
      expect(r.error.message).toBe("An instance with this name already exists.");
      expect(r.error.target).toBe("name");
      expect(r.error.retryable).toBe(false);
    } else if (state === "none" || state === "gone") {
      expect(r.error).toBeInstanceOf(InvalidStateTransitionError);
      expect(r.error.message).toBe(`Cannot ${op} an instance that does not exist.`);
    } else if (BUSY.includes(state)) {
      expect(r.error).toBeInstanceOf(ConflictError);
      expect(r.error.message).toBe(`The instance is ${state}; another operation is in progress. Retry ${op} when it has finished.`);
      expect(r.error.retryable).toBe(true);
    } else {
      expect(r.error).toBeInstanceOf(InvalidStateTransitionError);
      expect(r.error.code).toBe("InvalidStateTransition");
      expect(r.error.message).toBe(`Cannot ${op} an instance that is ${state}; ${op} is allowed from: ${ALLOWED_FROM[op].join(", ")}.`);
      expect(r.error).toMatchObject({ from: state, operation: op });
    }
  });

  it("explains the rule", () => {
    const r = canStart("start", "Running");
    expect(!r.ok && r.error.message).toBe("Cannot start an instance that is Running; start is allowed from: Stopped.");
  });

  it("the busy states are exactly the in-flight ones", () => {
    expect([...BUSY_STATES].sort()).toEqual([...BUSY].sort());
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
