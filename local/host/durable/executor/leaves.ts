// Leaves (the schedulable actions of an orchestration, in the library's depth-first order) and
// the history events that schedule them.
import { HTTP_ACTIVITY } from "../durableHttp";
import { entityLeafName, isEntityAction } from "../entities/orchestration";
import { ActionType, ActionTypeName, EventType, type ActionWire, type HistoryEvent, type Leaf } from "../types";
import type { ChildWork } from "./episode";

/** A history event of this episode (not yet played). */
export const ev = (type: number, id: number, at: string, fields: Record<string, unknown> = {}): HistoryEvent => ({
  EventType: type,
  EventId: id,
  IsPlayed: false,
  Timestamp: at,
  ...fields,
});

export function cloneLeaf(l: Leaf): Leaf {
  return l.retry ? { ...l, retry: { ...l.retry } } : { ...l };
}

export const isRetry = (t: number) => t === ActionType.CallActivityWithRetry || t === ActionType.CallSubOrchestratorWithRetry;
export const isSub = (t: number) => t === ActionType.CallSubOrchestrator || t === ActionType.CallSubOrchestratorWithRetry;

/** What the determinism check compares besides the action type: function, event or entity target. */
export function leafName(a: ActionWire): string {
  if (a.actionType === ActionType.WaitForExternalEvent) return String(a.externalEventName ?? "");
  if (a.actionType === ActionType.CallHttp) return HTTP_ACTIVITY;
  if (isEntityAction(a.actionType)) return entityLeafName(a);
  return typeof a.functionName === "string" ? a.functionName : "";
}

export function describe(t: number, n: string): string {
  return n ? `${ActionTypeName[t] ?? t} '${n}'` : `${ActionTypeName[t] ?? t}`;
}

/** Instance id of a sub-orchestration: the app's, else DurableTask's "<parent execution id>:<event id>" (unique across continueAsNew generations and retry attempts). */
export function childInstanceId(leaf: Leaf, id: number, exec: string): string {
  return leaf.childId ?? `${exec}:${id}`;
}

/** TaskScheduled or SubOrchestrationInstanceCreated for one attempt of a leaf. */
export function scheduledEvent(leaf: Leaf, id: number, at: string, exec: string): HistoryEvent {
  if (isSub(leaf.t)) {
    return ev(EventType.SubOrchestrationInstanceCreated, id, at, {
      Name: leaf.n,
      Input: leaf.in,
      InstanceId: childInstanceId(leaf, id, exec),
      ...(leaf.ver !== undefined ? { Version: leaf.ver } : {}),
    });
  }
  return ev(EventType.TaskScheduled, id, at, { Name: leaf.n, Input: leaf.in });
}

/** The start of a sub-orchestration attempt: scheduled now, or again when its parent is loaded. */
export function childWork(instanceId: string, exec: string, id: number, leaf: Leaf, childId: string): ChildWork {
  return { instanceId, exec, id, name: leaf.n, childId, input: leaf.in, ...(leaf.ver !== undefined ? { version: leaf.ver } : {}) };
}
