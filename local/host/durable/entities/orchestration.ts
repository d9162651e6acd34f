// The orchestration side of entities, as the extension's DurableOrchestrationContext does it
// for the out-of-proc actions CallEntity, SignalEntity, LockEntities and ReleaseEntities
// (OOProc schema V4): each message to an entity is an EventSent history event with its own
// event id, whose Input is the RequestMessage; the library re-keys a call or lock task by the
// request id in that Input and completes it on the EventRaised named after it. Releasing a
// critical section sends one "release" message per locked entity (one event id each), and an
// orchestration that ends while holding locks releases them.
import { randomUUID } from "node:crypto";
import { ActionType, EventType, type ActionWire, type HistoryEvent, type Leaf } from "../types";
import { schedulerId, unknownEntityMessage, validateEntityId } from "./ids";
import type { EntityIdWire, EntityMessage, RequestMessage } from "./types";

/** A message an episode sends to an entity once it has committed. */
export type EntitySend = { to: string; msg: EntityMessage };

export const isEntityAction = (t: number): boolean =>
  t === ActionType.CallEntity || t === ActionType.SignalEntity || t === ActionType.LockEntities || t === ActionType.ReleaseEntities;

function lockSet(a: ActionWire): EntityIdWire[] {
  const raw = Array.isArray(a.lockSet) ? (a.lockSet as EntityIdWire[]) : [];
  return raw.map((e) => ({ name: String(e.name).toLowerCase(), key: String(e.key) }));
}

/** What the determinism check compares for an entity action: target and operation, or the lock set. */
export function entityLeafName(a: ActionWire): string {
  if (a.actionType === ActionType.LockEntities) return lockSet(a).map(schedulerId).join(" ");
  if (a.actionType === ActionType.ReleaseEntities) return "";
  return `${String(a.instanceId ?? "")} ${String(a.operation ?? "")}`;
}

/** The critical section an orchestration is in: its last lock, unless released since. */
export function heldLock(leaves: Leaf[]): { req: string; set: string[] } | undefined {
  for (let i = leaves.length - 1; i >= 0; i--) {
    const l = leaves[i]!;
    if (l.t === ActionType.ReleaseEntities) return undefined;
    if (l.t === ActionType.LockEntities && l.lock) return l.lock;
  }
  return undefined;
}

export type EntityActionContext = {
  instanceId: string;
  exec: string;
  at: string;
  leaves: Leaf[];
  nextId(): number;
  hasEntity(name: string): boolean;
};

/** Schedules one new entity action: fills in its leaf, returns its history events and messages, or why the orchestration fails. */
export function scheduleEntityAction(a: ActionWire, leaf: Leaf, c: EntityActionContext): { events: HistoryEvent[]; sends: EntitySend[] } | { error: string } {
  const sent = (id: number, to: string, name: string, input: unknown): HistoryEvent => ({
    EventType: EventType.EventSent,
    EventId: id,
    IsPlayed: false,
    Timestamp: c.at,
    InstanceId: to,
    Name: name,
    Input: JSON.stringify(input),
  });
  const check = (e: EntityIdWire): string | undefined => {
    if (!c.hasEntity(e.name)) return unknownEntityMessage(e.name);
    try {
      validateEntityId(e);
    } catch (err) {
      return (err as Error).message;
    }
    return undefined;
  };
  const parent = { parent: c.instanceId, parentExecution: c.exec };

  if (a.actionType === ActionType.CallEntity || a.actionType === ActionType.SignalEntity) {
    const to = String(a.instanceId ?? "");
    const at = to.indexOf("@", 1);
    const target: EntityIdWire = { name: to.slice(1, at), key: to.slice(at + 1) };
    const bad = at < 0 ? `"${to}" is not an entity id` : check(target);
    if (bad) return { error: bad };
    const signal = a.actionType === ActionType.SignalEntity;
    const req: RequestMessage = {
      op: String(a.operation ?? ""),
      ...(signal ? { signal: true } : {}),
      ...(a.input !== undefined ? { input: JSON.stringify(a.input) } : {}),
      id: randomUUID(),
      ...parent,
    };
    const id = c.nextId();
    // A call waits for the EventRaised named after the request id (like an external event); a signal is done.
    Object.assign(leaf, { id, st: signal ? "done" : "none", req: req.id });
    return { events: [sent(id, to, "op", req)], sends: [{ to, msg: { kind: "op", req } }] };
  }

  if (a.actionType === ActionType.LockEntities) {
    const set = lockSet(a);
    for (const e of set) {
      const bad = check(e);
      if (bad) return { error: bad };
    }
    if (set.length === 0) return { error: "The list of entities to lock must not be null or empty." };
    const reqId = typeof a.lockRequestId === "string" && a.lockRequestId ? a.lockRequestId : randomUUID();
    const req: RequestMessage = { id: reqId, ...parent, lockset: set, pos: 0 };
    const id = c.nextId();
    const ids = set.map(schedulerId);
    Object.assign(leaf, { id, st: "none", req: reqId, lock: { req: reqId, set: ids } });
    return { events: [sent(id, ids[0]!, "op", req)], sends: [{ to: ids[0]!, msg: { kind: "op", req } }] };
  }

  // ReleaseEntities: the library takes one event id per locked entity.
  const lock = heldLock(c.leaves);
  leaf.st = "done";
  if (!lock) return { events: [], sends: [] };
  const events: HistoryEvent[] = [];
  const sends: EntitySend[] = [];
  for (const to of lock.set) {
    const rel = { parent: c.instanceId, id: lock.req };
    events.push(sent(c.nextId(), to, "release", rel));
    sends.push({ to, msg: { kind: "release", rel } });
  }
  return { events, sends };
}

/** Release messages for an orchestration that ends inside a critical section. */
export function releaseOnEnd(instanceId: string, leaves: Leaf[]): EntitySend[] {
  const lock = heldLock(leaves);
  if (!lock) return [];
  return lock.set.map((to) => ({ to, msg: { kind: "release", rel: { parent: instanceId, id: lock.req } } }));
}
