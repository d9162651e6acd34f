// Regression: messages between orchestrations and entities are delivered from the sender's outbox
// at least once (the outbox row is deleted after delivery, in another partition), and after a
// restart the same outbox row is found twice (the start-up scan and the entity's own load). A copy
// must be recognised, never processed again (seen in test/e2e/jobs.crash.test.ts):
// - an orchestration that received a copy while the episode consuming the original ran stored it,
//   then failed every later commit (deleting a row already deleted: 404) and never moved again;
// - an entity that processed a copy of a job's "step" spilled that job a second time, and the
//   spill row that copy allotted was never written: every job spilled behind it waited forever.
// Both are driven directly with hand-written functions speaking the wire protocols.
import { TableClient } from "@azure/data-tables";
import { afterAll, beforeAll, expect, it } from "vitest";
import { DurableEngine } from "../../local/host/durable/engine";
import { EntityRuntime } from "../../local/host/durable/entities/runtime";
import { EntityStore } from "../../local/host/durable/entities/store";
import type { EntityBatchRequest, EntityMessage } from "../../local/host/durable/entities/types";
import { TaskHubStore } from "../../local/host/durable/backend/store";
import { ActionType, EventType } from "../../local/host/durable/types";
import type { RegisteredFunction, RpcTypedData } from "../../local/host/functionsCore";
import { startTestAzurite, type AzuriteProcess } from "../support/azurite";

let azurite: AzuriteProcess;
beforeAll(async () => {
  azurite = await startTestAzurite();
});
afterAll(async () => {
  await azurite?.stop();
});

const fn = (name: string, type: string) => ({ name, trigger: { type, name: "t" } }) as unknown as RegisteredFunction;
type Hist = { EventType: number; Name?: string };
const poll = async <T>(read: () => Promise<T>, done: (v: T) => boolean, tries = 200): Promise<T> => {
  let v = await read();
  for (let i = 0; i < tries && !done(v); i++) {
    await new Promise((r) => setTimeout(r, 50));
    v = await read();
  }
  return v;
};

it("an orchestration ignores a copy of a message delivered while the episode consuming it runs", async () => {
  const hub = `redeliver${Date.now()}`;
  const store = new TaskHubStore(azurite.connectionString, hub, `${hub}-large`);
  let engine!: DurableEngine;
  let copied = false;
  const fns = new Map([["Two", fn("Two", "orchestrationTrigger")]]);
  engine = new DurableEngine({
    store,
    hubName: hub,
    maxActivities: 4,
    maxOrchestrators: 4,
    episode: { maximumShortTimerDuration: "6.00:00:00", longRunningTimerIntervalDuration: "3.00:00:00", maxShortTimerMs: 6 * 86_400_000, longTimerIntervalMs: 3 * 86_400_000, hasEntity: () => false },
    functions: {
      get: (name) => fns.get(name),
      invoke: async (_f, data): Promise<RpcTypedData> => {
        const h = (JSON.parse(String(data.json)) as { history: Hist[] }).history;
        const raised = h.filter((e) => e.EventType === EventType.EventRaised);
        // The sender delivers the same row again while the episode that consumes it runs.
        if (!copied && raised.some((e) => e.Name === "a")) {
          copied = true;
          await engine.receive("two-1", "M000000000000001000001", { kind: "event", name: "a", input: "1" });
        }
        const done = raised.some((e) => e.Name === "a") && raised.some((e) => e.Name === "b");
        const actions = [[{ actionType: ActionType.WhenAll, compoundActions: [{ actionType: ActionType.WaitForExternalEvent, externalEventName: "a" }, { actionType: ActionType.WaitForExternalEvent, externalEventName: "b" }] }]];
        return { json: JSON.stringify({ isDone: done, actions, ...(done ? { output: raised.length } : {}) }) };
      },
    },
    log: () => undefined,
  });
  await engine.start();
  await engine.startNew("Two", "two-1", undefined);
  await poll(() => engine.getState("two-1"), (s) => (s?.row.chunks ?? 0) > 0);
  await engine.receive("two-1", "M000000000000001000001", { kind: "event", name: "a", input: "1" });
  await poll(async () => copied, (c) => c);
  await engine.receive("two-1", "M000000000000002000001", { kind: "event", name: "b", input: "1" });
  const end = await poll(() => engine.getState("two-1"), (s) => s?.row.status === "Completed");
  await engine.stop();
  expect(end?.row.status).toBe("Completed");
  expect(end?.row.output).toBe("2"); // "a" once, "b" once
}, 30_000);

it("an entity processes a redelivered operation once: the same outbox row twice, and a copy after a restart", async () => {
  const table = TableClient.fromConnectionString(azurite.connectionString, `ents${Date.now()}`, { allowInsecureConnection: true });
  await table.createTable();
  const counter = fn("counter", "entityTrigger");
  const runtime = () =>
    new EntityRuntime({
      store: new EntityStore(table, () => undefined),
      findEntity: (name) => (name === "counter" ? counter : undefined),
      // The entity counts its operations.
      invoke: async (_f, data) => {
        const req = JSON.parse(String(data.json)) as EntityBatchRequest;
        const n = Number(req.state ?? "0") + req.batch.length;
        return { json: JSON.stringify({ entityExists: true, entityState: String(n), results: req.batch.map(() => ({ isError: false, result: "null" })), signals: [] }) };
      },
      toOrchestration: async () => undefined,
      maxConcurrent: 4,
      maxBatch: 50,
      log: () => undefined,
    });
  const op = (id: string): EntityMessage => ({ kind: "op", req: { op: "add", signal: true, id, parent: "job-sender" } });
  const first = runtime();
  // The sender's outbox row, found twice after a restart (the scan and the entity's load).
  const entries = [{ to: "@counter@k", rowKey: "M000000000000001000001", msg: op("r1") }];
  first.deliver("job-sender", "O000000000000001000001", entries);
  first.deliver("job-sender", "O000000000000001000001", entries);
  const state = async () => (await first.read({ name: "counter", key: "k" }))?.state;
  expect(await poll(state, (s) => s === "1")).toBe("1");
  await first.receive("@counter@k", "M000000000000002000001", op("r2"));
  expect(await poll(state, (s) => s === "2")).toBe("2");
  first.stop();
  // A restarted process gets the first message again (its outbox row was not deleted before the crash).
  const second = runtime();
  await second.receive("@counter@k", "M000000000000001000001", op("r1"));
  await second.receive("@counter@k", "M000000000000003000001", op("r3"));
  const after = async () => (await second.read({ name: "counter", key: "k" }))?.state;
  expect(await poll(after, (s) => s === "3")).toBe("3");
  // Nothing is left to process (the copy was not kept either).
  await new Promise((r) => setTimeout(r, 200));
  expect(await after()).toBe("3");
  second.stop();
}, 30_000);
