// Rewind of a failed execution, as the Azure Storage provider does it
// (DurableTask.AzureStorage AzureTableTrackingStore.RewindHistoryAsync): in the current
// execution's history, every TaskFailed and SubOrchestrationInstanceFailed event, the
// TaskScheduled of each failed task and the failed ExecutionCompleted become GenericEvent
// rows marked "Rewound: <old type>" (the rows stay, replay ignores them). A failed
// sub-orchestration's SubOrchestrationInstanceCreated stays as it is (only marked), and the
// child is rewound in turn. Replaying without those events, the orchestrator waits again for
// what failed: a failed activity is scheduled anew under its old event id, a failed child
// reports again when it finishes. Work still open at the failure is not started again, nor a
// timer re-armed that was due by the rewind (a reply still on its way is taken; one that came
// after the failure was dropped, and the instance waits for it, as on Azure).
// Pure: the engine stores the rewritten chunks.
import type { Chunk } from "../backend/records";
import { EventType, EventTypeName, type HistoryEvent, type Leaf } from "../types";
import { isSub } from "./leaves";

export type RewoundExecution = {
  /** The chunks that changed (events rewritten; the last one also carries the leaves' changes). */
  chunks: Chunk[];
  /** Instance ids of the failed sub-orchestrations, to rewind in turn. */
  failedChildren: string[];
};

const marked = (e: HistoryEvent): HistoryEvent => ({ ...e, Reason: `Rewound: ${EventTypeName[e.EventType] ?? e.EventType}` });
const generic = (e: HistoryEvent): HistoryEvent => ({ ...marked(e), EventType: EventType.GenericEvent });

/**
 * Rewrites the chunks of a failed execution; `leaves` are the execution's leaves as its chunks
 * leave them, `now` the time of the rewind.
 */
export function rewindExecution(chunks: Chunk[], leaves: Leaf[], now: Date): RewoundExecution {
  const failedTasks = new Set<number>();
  const failedSubs = new Set<number>();
  for (const c of chunks) {
    for (const e of c.events) {
      if (e.EventType === EventType.TaskFailed) failedTasks.add(e.TaskScheduledId as number);
      if (e.EventType === EventType.SubOrchestrationInstanceFailed) failedSubs.add(e.TaskScheduledId as number);
    }
  }
  const failedChildren: string[] = [];
  const rewrite = (e: HistoryEvent): HistoryEvent => {
    switch (e.EventType) {
      case EventType.TaskFailed:
      case EventType.SubOrchestrationInstanceFailed:
        return generic(e);
      case EventType.ExecutionCompleted:
        return e.OrchestrationStatus === "Failed" ? generic(e) : e;
      case EventType.TaskScheduled:
        return failedTasks.has(e.EventId) ? generic(e) : e;
      case EventType.SubOrchestrationInstanceCreated:
        if (!failedSubs.has(e.EventId)) return e;
        failedChildren.push(String(e.InstanceId));
        return marked(e);
      default:
        return e;
    }
  };
  const changed: Chunk[] = [];
  for (const c of chunks) {
    const events = c.events.map(rewrite);
    if (events.some((e, i) => e !== c.events[i])) changed.push({ ...c, events });
  }
  // The leaves that wait again: an activity is scheduled again by the next episode, a child's
  // report is awaited under the same event id.
  const leafPatch: [number, Leaf][] = [];
  leaves.forEach((leaf, i) => {
    if (leaf.id === undefined) return;
    // Open when the execution failed: its reply, if it came, reached a finished instance and was
    // dropped, as the provider drops it (IsExecutableInstanceAsync). On Azure its work item is
    // gone, so the rewound instance waits for it; it is not run again here either.
    if (leaf.st === "task") leafPatch.push([i, { ...leaf, stranded: true }]);
    // A timer due by now fired into the failed instance and was dropped the same way; one due
    // later is still on its way (the provider's timer message is invisible until then) and fires.
    if (leaf.st === "timer" && leaf.fireAt && Date.parse(leaf.fireAt) <= now.getTime()) leafPatch.push([i, { ...leaf, stranded: true }]);
    if (leaf.st !== "done") return;
    if (isSub(leaf.t) ? failedSubs.has(leaf.id) : failedTasks.has(leaf.id)) {
      leafPatch.push([i, { ...leaf, st: isSub(leaf.t) ? "task" : "rewound" }]);
    }
  });
  if (leafPatch.length) {
    const last = chunks[chunks.length - 1]!;
    const i = changed.findIndex((c) => c.seq === last.seq);
    const base = i >= 0 ? changed[i]! : last;
    const withLeaves = { ...base, leafPatch: [...base.leafPatch, ...leafPatch] };
    if (i >= 0) changed[i] = withLeaves;
    else changed.push(withLeaves);
  }
  return { chunks: changed, failedChildren };
}
