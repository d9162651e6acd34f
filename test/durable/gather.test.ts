// When an episode of the local engine starts: as the Azure Storage provider batches an
// instance's messages, the replies to a fan-out that come back together are one episode
// (local/host/durable/dispatch/gather.ts). The rewind test shows what a user sees; these pin the rule.
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { gatherReplies, MAX_GATHER_MS, QUIET_MS, repliesAwaited } from "../../local/host/durable/dispatch/gather";
import { newLive, type Live } from "../../local/host/durable/dispatch/live";
import { ActionType, EventType, type InstanceMessage, type InstanceState, type Leaf } from "../../local/host/durable/types";

const EXEC = "exec1";
const activity = (id: number, st: Leaf["st"] = "task"): Leaf => ({ t: ActionType.CallActivity, n: "A", id, st });
const call = (req: string): Leaf => ({ t: ActionType.CallEntity, n: "@e@k", id: 9, st: "none", req });

function live(leaves: Leaf[], history: InstanceState["history"] = []): Live {
  return newLive({ instanceId: "i", name: "O", exec: EXEC, status: "Running", createdTime: "", lastUpdatedTime: "", history, leaves, nextId: 10, chunks: 1 });
}
const done = (id: number, exec = EXEC): InstanceMessage => ({ kind: "taskCompleted", exec, id, result: "1" });

/** Delivers a message as the engine does: into the inbox, then tells a gathering episode. */
function arrive(l: Live, m: InstanceMessage) {
  l.inbox.push(m);
  l.arrived?.();
}

describe("replies an episode waits for", () => {
  it("counts open activities and unanswered entity calls, not finished work", () => {
    const answered = { EventType: EventType.EventRaised, EventId: -1, IsPlayed: true, Timestamp: "", Name: "r1" };
    const l = live([activity(0), activity(1, "done"), call("r1"), call("r2")], [answered]);
    expect([...repliesAwaited(l.state)].sort()).toEqual(["#0", "r2"]);
  });
});

describe("gathering an episode's messages", () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  const settled = (p: Promise<void>) => {
    let yes = false;
    void p.then(() => (yes = true));
    return async () => {
      await vi.advanceTimersByTimeAsync(0);
      return yes;
    };
  };

  it("does not wait when only one reply is awaited (a sequential orchestration)", async () => {
    const l = live([activity(0)]);
    l.inbox.push(done(0));
    expect(await settled(gatherReplies(l))()).toBe(true);
  });

  it("starts as soon as every awaited reply is in", async () => {
    const l = live([activity(0), activity(1), activity(2)]);
    l.inbox.push(done(0));
    const isDone = settled(gatherReplies(l));
    expect(await isDone()).toBe(false);
    arrive(l, done(1));
    expect(await isDone()).toBe(false);
    arrive(l, done(2));
    expect(await isDone()).toBe(true);
  });

  it("does not count a second copy of a reply, or a reply to another execution", async () => {
    const l = live([activity(0), activity(1)]);
    l.inbox.push(done(0));
    const isDone = settled(gatherReplies(l));
    arrive(l, done(0));
    arrive(l, done(1, "older-execution"));
    expect(await isDone()).toBe(false);
    arrive(l, done(1));
    expect(await isDone()).toBe(true);
  });

  it("stops waiting once replies stop coming for the quiet period", async () => {
    const l = live([activity(0), activity(1), activity(2)]);
    l.inbox.push(done(0));
    const isDone = settled(gatherReplies(l));
    await vi.advanceTimersByTimeAsync(QUIET_MS - 10);
    arrive(l, done(1)); // a reply restarts the quiet period
    await vi.advanceTimersByTimeAsync(QUIET_MS - 10);
    expect(await isDone()).toBe(false);
    await vi.advanceTimersByTimeAsync(10);
    expect(await isDone()).toBe(true);
    expect(l.arrived).toBeUndefined();
  });

  it("never waits longer than the cap while replies trickle in", async () => {
    const l = live(Array.from({ length: 100 }, (_, i) => activity(i)));
    l.inbox.push(done(0));
    const isDone = settled(gatherReplies(l));
    for (let i = 1; i < 100 && !(await isDone()); i++) {
      await vi.advanceTimersByTimeAsync(QUIET_MS / 2);
      if (!(await isDone())) arrive(l, done(i));
    }
    expect(await isDone()).toBe(true);
    expect(l.inbox.length).toBeLessThan(100);
    expect(l.inbox.length * (QUIET_MS / 2)).toBeLessThanOrEqual(MAX_GATHER_MS + QUIET_MS);
  });
});
