// The history rewrite of a rewind, against the rows the Azure Storage provider's
// RewindHistoryAsync leaves: failures, their scheduling events and the failed completion become
// GenericEvent rows marked "Rewound: <type>"; a failed child's creation stays, marked.
import { describe, expect, it } from "vitest";
import type { Chunk } from "../../local/host/durable/backend/records";
import { rewindExecution } from "../../local/host/durable/executor/rewind";
import { ActionType, EventType, type HistoryEvent, type Leaf } from "../../local/host/durable/types";

const at = "2026-12-01T00:00:00.000Z";
const e = (type: number, id: number, fields: Record<string, unknown> = {}): HistoryEvent => ({ EventType: type, EventId: id, IsPlayed: true, Timestamp: at, ...fields });

describe("rewindExecution", () => {
  const chunks: Chunk[] = [
    {
      exec: "x",
      seq: 0,
      events: [
        e(EventType.OrchestratorStarted, -1),
        e(EventType.ExecutionStarted, -1, { Name: "P" }),
        e(EventType.TaskScheduled, 0, { Name: "Ok" }),
        e(EventType.TaskScheduled, 1, { Name: "Bad" }),
        e(EventType.SubOrchestrationInstanceCreated, 2, { Name: "Child", InstanceId: "child-1" }),
        e(EventType.OrchestratorCompleted, -1),
      ],
      leafPatch: [],
      nextId: 3,
    },
    {
      exec: "x",
      seq: 1,
      events: [
        e(EventType.OrchestratorStarted, -1),
        e(EventType.TaskCompleted, -1, { TaskScheduledId: 0, Result: "1" }),
        e(EventType.TaskFailed, -1, { TaskScheduledId: 1, Reason: "boom" }),
        e(EventType.SubOrchestrationInstanceFailed, -1, { TaskScheduledId: 2, Reason: "child failed" }),
        e(EventType.OrchestratorCompleted, -1),
        e(EventType.ExecutionCompleted, -1, { OrchestrationStatus: "Failed", Result: '"boom"' }),
      ],
      leafPatch: [],
      nextId: 3,
    },
  ];
  const leaves: Leaf[] = [
    { t: ActionType.CallActivity, n: "Ok", id: 0, st: "done" },
    { t: ActionType.CallActivity, n: "Bad", id: 1, st: "done" },
    { t: ActionType.CallSubOrchestrator, n: "Child", id: 2, st: "done", child: "child-1" },
  ];
  const r = rewindExecution(chunks, leaves, new Date(at));
  const all = r.chunks.flatMap((c) => c.events);

  it("turns the failures, the failed task's scheduling and the failed completion into GenericEvent rows", () => {
    const generic = all.filter((x) => x.EventType === EventType.GenericEvent).map((x) => x.Reason);
    expect(generic).toEqual(["Rewound: TaskScheduled", "Rewound: TaskFailed", "Rewound: SubOrchestrationInstanceFailed", "Rewound: ExecutionCompleted"]);
    expect(all.find((x) => x.Reason === "Rewound: TaskScheduled")).toMatchObject({ EventId: 1, Name: "Bad" });
  });

  it("keeps what succeeded and marks the failed child's creation without removing it", () => {
    expect(all.filter((x) => x.EventType === EventType.TaskScheduled).map((x) => x.EventId)).toEqual([0]);
    expect(all.find((x) => x.EventType === EventType.SubOrchestrationInstanceCreated)).toMatchObject({ EventId: 2, Reason: "Rewound: SubOrchestrationInstanceCreated" });
    expect(r.failedChildren).toEqual(["child-1"]);
  });

  it("sets the failed activity to run again and the failed child to be awaited again", () => {
    const patch = r.chunks.at(-1)!.leafPatch;
    expect(patch).toEqual([
      [1, { ...leaves[1], st: "rewound" }],
      [2, { ...leaves[2], st: "task" }],
    ]);
  });

  it("leaves a history without failures as it is", () => {
    const ok = rewindExecution([chunks[0]!], leaves.slice(0, 1), new Date(at));
    expect(ok).toEqual({ chunks: [], failedChildren: [] });
  });

  it("leaves work open at the failure awaited but not started again, and a timer due by the rewind unarmed", () => {
    const open: Leaf[] = [
      ...leaves,
      { t: ActionType.CallActivity, n: "Slow", id: 3, st: "task", in: "1" },
      { t: ActionType.CreateTimer, n: "", id: 4, st: "timer", fireAt: "2026-11-30T23:59:00.000Z" },
      { t: ActionType.CreateTimer, n: "", id: 5, st: "timer", fireAt: "2026-12-01T00:10:00.000Z" },
    ];
    const patch = rewindExecution(chunks, open, new Date(at)).chunks.at(-1)!.leafPatch;
    expect(patch).toContainEqual([3, { ...open[3], stranded: true }]);
    expect(patch).toContainEqual([4, { ...open[4], stranded: true }]);
    // Due after the rewind: its message is still on its way, so it fires.
    expect(patch.map(([i]) => i)).not.toContain(5);
  });
});
