// Example for app authors: unit-test an orchestrator without any host, with the library's
// own harness (DummyOrchestrationContext + DurableOrchestrationInput), replay schema V3 as
// the local host uses. Feed a history, read the actions the orchestrator wants next.
import * as df from "durable-functions";
import { createOrchestrator, DurableOrchestrationInput } from "durable-functions/lib/src/util/testingUtils";
import { ReplaySchema } from "durable-functions/lib/src/orchestrations/ReplaySchema";
import { describe, expect, it } from "vitest";
import type { OrchestrationContext } from "durable-functions";

function* approvalFlow(ctx: OrchestrationContext): Generator<unknown, unknown, unknown> {
  const order = ctx.df.getInput() as { id: string };
  const approved = yield ctx.df.waitForExternalEvent("Approved");
  if (!approved) return "rejected";
  return yield ctx.df.callActivity("Ship", order.id);
}

const now = new Date("2024-01-01T00:00:00Z");
const started = (id = -1) => ({ EventType: 12, EventId: id, IsPlayed: false, Timestamp: now });

describe("approvalFlow (example of testing an orchestrator in isolation)", () => {
  it("waits for approval, then schedules Ship", async () => {
    const handler = createOrchestrator(approvalFlow as never);
    const history = [
      started(),
      { EventType: 0, EventId: -1, IsPlayed: false, Timestamp: now, Name: "approvalFlow", Input: '{"id":"o1"}' },
      { EventType: 15, EventId: -1, IsPlayed: false, Timestamp: now, Name: "Approved", Input: "true" },
    ];
    const input = new DurableOrchestrationInput("inst-1", history as never, { id: "o1" }, "3.00:00:00", "6.00:00:00", 30000, ReplaySchema.V3);
    const state = (await handler(input, new df.DummyOrchestrationContext() as never)) as { isDone: boolean; actions: { actionType: number; functionName: string; input: unknown }[][] };
    expect(state.isDone).toBe(false);
    expect(state.actions[0]!.map((a) => [a.actionType, a.functionName ?? null])).toEqual([
      [6, null], // WaitForExternalEvent
      [0, "Ship"], // CallActivity
    ]);
  });

  it("completes with the activity's result when it has run", async () => {
    const handler = createOrchestrator(approvalFlow as never);
    const history = [
      started(),
      { EventType: 0, EventId: -1, IsPlayed: true, Timestamp: now, Name: "approvalFlow", Input: '{"id":"o1"}' },
      { EventType: 15, EventId: -1, IsPlayed: true, Timestamp: now, Name: "Approved", Input: "true" },
      { EventType: 4, EventId: 0, IsPlayed: true, Timestamp: now, Name: "Ship", Input: '"o1"' },
      started(),
      { EventType: 5, EventId: -1, IsPlayed: false, Timestamp: now, TaskScheduledId: 0, Result: '"shipped o1"' },
    ];
    const input = new DurableOrchestrationInput("inst-1", history as never, { id: "o1" }, "3.00:00:00", "6.00:00:00", 30000, ReplaySchema.V3);
    const state = (await handler(input, new df.DummyOrchestrationContext() as never)) as { isDone: boolean; output: unknown };
    expect(state).toMatchObject({ isDone: true, output: "shipped o1" });
  });
});
