// Regression: after a restart the engine loads unfinished orchestrations one by one, while the
// ones already loaded run their activities; those raise events to orchestrations not loaded yet
// (the job queue's apply raising Start). Each orchestration must be loaded once: two in-memory
// copies ran episodes side by side, one overwrote the other's history chunk, and an event (a
// job's Start) was lost for good (test/e2e/jobs.crash.test.ts: jobs Queued forever).
// The engine is driven directly with hand-written functions speaking the orchestrator wire protocol.
import { afterAll, beforeAll, expect, it } from "vitest";
import { DurableEngine } from "../../local/host/durable/engine";
import { TaskHubStore } from "../../local/host/durable/backend/store";
import { ActionType, EventType } from "../../local/host/durable/types";
import type { RegisteredFunction, RpcTypedData } from "../../local/host/functionsCore";
import { startTestAzurite, type AzuriteProcess } from "../support/azurite";

const COUNT = 8;
let azurite: AzuriteProcess;
beforeAll(async () => {
  azurite = await startTestAzurite();
});
afterAll(async () => {
  await azurite?.stop();
});

const fn = (name: string, type: string) => ({ name, trigger: { type, name: "t" } }) as unknown as RegisteredFunction;
type Hist = { EventType: number; Name?: string };

/**
 * The task hub store, with a hook into loading a partition: `onLoad` runs when a load of an
 * orchestration begins, and a load waits (at most 300 ms) for a second load of the same one to
 * begin, so that two loads of one orchestration, if the engine makes them, overlap.
 */
class LoadHookStore extends TaskHubStore {
  onLoad?: (id: string) => void;
  private readonly waiting = new Map<string, () => void>();
  override async loadPartition(id: string): ReturnType<TaskHubStore["loadPartition"]> {
    if (this.onLoad) {
      const other = this.waiting.get(id);
      if (other) {
        this.waiting.delete(id);
        other();
      } else {
        const hook = this.onLoad;
        await new Promise<void>((resolve) => {
          this.waiting.set(id, resolve);
          hook(id);
          setTimeout(() => {
            if (this.waiting.get(id) === resolve) this.waiting.delete(id);
            resolve();
          }, 300);
        });
      }
    }
    return super.loadPartition(id);
  }
}

/** An orchestration that runs activity "Work" and waits for event "go" (Task.all), then completes. */
function orchestrator(payload: { history: Hist[] }): RpcTypedData {
  const h = payload.history;
  const worked = h.some((e) => e.EventType === EventType.TaskCompleted);
  const went = h.some((e) => e.EventType === EventType.EventRaised && e.Name === "go");
  const actions = [[{ actionType: ActionType.WhenAll, compoundActions: [{ actionType: ActionType.CallActivity, functionName: "Work" }, { actionType: ActionType.WaitForExternalEvent, externalEventName: "go" }] }]];
  return { json: JSON.stringify({ isDone: worked && went, actions, ...(worked && went ? { output: "done" } : {}) }) };
}

function engine(store: TaskHubStore, work: () => Promise<void>): DurableEngine {
  const fns = new Map([
    ["Wait", fn("Wait", "orchestrationTrigger")],
    ["Work", fn("Work", "activityTrigger")],
  ]);
  return new DurableEngine({
    store,
    hubName: "race",
    maxActivities: 10,
    maxOrchestrators: 10,
    episode: { maximumShortTimerDuration: "6.00:00:00", longRunningTimerIntervalDuration: "3.00:00:00", maxShortTimerMs: 6 * 86_400_000, longTimerIntervalMs: 3 * 86_400_000, hasEntity: () => false },
    functions: {
      get: (name) => fns.get(name),
      invoke: async (f, data) => {
        if (f.name === "Wait") {
          // An orchestrator takes a moment, as a real worker does: episodes overlap the loading.
          await new Promise((r) => setTimeout(r, 10));
          return orchestrator(JSON.parse(String(data.json)) as { history: Hist[] });
        }
        await work();
        return { json: "1" };
      },
    },
    log: () => undefined,
  });
}

it("loads each orchestration once when events arrive while the engine resumes (no event lost)", async () => {
  const hub = `race${Date.now()}`;
  const store = () => new LoadHookStore(azurite.connectionString, hub, `${hub}-large`);
  // First run: every orchestration waits for its activity (which never ends) and its event; then it "crashes".
  const first = engine(store(), () => new Promise(() => undefined));
  await first.start();
  const ids = Array.from({ length: COUNT }, (_, i) => `race-${i}`);
  for (const id of ids) await first.startNew("Wait", id, undefined);
  for (;;) {
    const rows = await Promise.all(ids.map((id) => first.getState(id)));
    if (rows.every((r) => (r?.row.chunks ?? 0) > 0)) break;
    await new Promise((r) => setTimeout(r, 50));
  }
  await first.stop();

  // Second run: resuming re-runs the activities; each event is raised while its orchestration loads.
  const hub2 = store();
  const second = engine(hub2, () => new Promise((r) => setTimeout(r, 10)));
  const raised: Promise<void>[] = [];
  hub2.onLoad = (id) => void raised.push(second.send(id, { kind: "event", name: "go", input: "1" }));
  await second.start();
  await Promise.all(raised);
  expect(raised.length).toBe(COUNT);
  // Each has its event and its activity's result: all complete (polled, not timed: a lost event never arrives).
  let rows: Awaited<ReturnType<DurableEngine["getState"]>>[] = [];
  for (let i = 0; i < 300; i++) {
    rows = await Promise.all(ids.map((id) => second.getState(id)));
    if (rows.every((r) => r?.row.status === "Completed")) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  await second.stop();
  expect(rows.filter((r) => r?.row.status !== "Completed").map((r) => r?.row.instanceId)).toEqual([]);
}, 60_000);
