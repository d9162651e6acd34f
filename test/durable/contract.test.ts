// Contract tests: our episode logic drives the REAL library orchestrator (no host, no
// storage) through scenarios equivalent to the library's own test histories
// (azure-functions-durable-js test/testobjects/testhistories.ts), and checks that the
// event ids we assign are the ones the library expects, and the outputs match.
import * as df from "durable-functions";
import { createOrchestrator } from "durable-functions/lib/src/util/testingUtils";
import { describe, expect, it } from "vitest";
import { runEpisode, type EpisodeConfig, type OrchestratorCall } from "../../local/host/durable/episode";
import { parseOrchestratorError } from "../../local/host/durable/actions";
import { EventType, type HistoryEvent, type InstanceMessage, type InstanceState } from "../../local/host/durable/types";
import type { OrchestrationContext } from "durable-functions";

type Gen = (ctx: OrchestrationContext) => Generator<unknown, unknown, unknown>;
const cfg: EpisodeConfig = { maximumShortTimerDuration: "00:00:10", longRunningTimerIntervalDuration: "00:00:04", maxShortTimerMs: 10_000, longTimerIntervalMs: 4_000 };

/** Runs an orchestrator to completion with a simulated clock: activities answer from `activities`, timers fire when due. */
async function drive(fn: Gen, activities: Record<string, (input: unknown, attempt: number) => unknown>, input?: unknown, externalEvents: { name: string; value: unknown }[] = []) {
  const handler = createOrchestrator(fn as never);
  const invoke = async (_name: string, payload: unknown): Promise<OrchestratorCall> => {
    const ctx = new df.DummyOrchestrationContext();
    try {
      const state = await handler(JSON.parse(JSON.stringify(payload)), ctx as never);
      return { ok: true, state: JSON.parse(JSON.stringify(state)) };
    } catch (err) {
      const p = parseOrchestratorError((err as Error).message);
      return { ok: false, message: p.state?.error ?? p.message, state: p.state };
    }
  };
  let clock = Date.parse("2024-01-01T00:00:00Z");
  let state: InstanceState = {
    instanceId: "contract", name: "Orch", exec: "e1", status: "Pending", input: input === undefined ? undefined : JSON.stringify(input),
    createdTime: "", lastUpdatedTime: "", history: [], leaves: [], nextId: 0, chunks: 0,
  };
  let inbox: InstanceMessage[] = externalEvents.map((e) => ({ kind: "event", name: e.name, input: JSON.stringify(e.value) }));
  const timers: { id: number; fireAt: string }[] = [];
  const calls = new Map<string, number>();
  for (let episode = 0; episode < 100; episode++) {
    const r = await runEpisode(state, inbox, new Date(clock), cfg, invoke);
    for (const e of r.appended) e.IsPlayed = true;
    state = r.next;
    inbox = [...r.decisions.selfMessages];
    if (r.finished) return { state, history: state.history };
    for (const a of r.decisions.activities) {
      const n = (calls.get(a.name) ?? 0) + 1;
      calls.set(a.name, n);
      try {
        const v = activities[a.name]!(a.input === undefined ? undefined : JSON.parse(a.input), n);
        inbox.push({ kind: "taskCompleted", exec: a.exec, id: a.id, result: v === undefined ? null : JSON.stringify(v) });
      } catch (err) {
        inbox.push({ kind: "taskFailed", exec: a.exec, id: a.id, reason: (err as Error).message, details: "" });
      }
    }
    timers.push(...r.decisions.timers);
    if (inbox.length === 0 && timers.length) {
      timers.sort((a, b) => Date.parse(a.fireAt) - Date.parse(b.fireAt));
      const t = timers.shift()!;
      clock = Math.max(clock, Date.parse(t.fireAt));
      inbox.push({ kind: "timerFired", exec: state.exec, id: t.id, fireAt: t.fireAt });
    }
    if (inbox.length === 0) return { state, history: state.history };
  }
  throw new Error("no progress");
}

const ids = (h: HistoryEvent[], type: number, key = "EventId") => h.filter((e) => e.EventType === type).map((e) => e[key]);

describe("event ids and results match the library", () => {
  it("sequence of activities (HelloCities): 0, 1, 2", async () => {
    const r = await drive(function* (ctx) {
      const out = [];
      for (const c of ["Tokyo", "Seattle", "London"]) out.push(yield ctx.df.callActivity("Hello", c));
      return out;
    }, { Hello: (c) => `Hello, ${c}!` });
    expect(r.state.status).toBe("Completed");
    expect(JSON.parse(r.state.output!)).toEqual(["Hello, Tokyo!", "Hello, Seattle!", "Hello, London!"]);
    expect(ids(r.history, EventType.TaskScheduled)).toEqual([0, 1, 2]);
    expect(ids(r.history, EventType.TaskCompleted, "TaskScheduledId")).toEqual([0, 1, 2]);
  });

  it("fan-out/fan-in with a nested WhenAny: depth-first ids", async () => {
    const r = await drive(function* (ctx) {
      const a = ctx.df.callActivity("Echo", "a");
      const inner = ctx.df.Task.any([ctx.df.callActivity("Echo", "b"), ctx.df.createTimer(new Date(ctx.df.currentUtcDateTime.getTime() + 5000))]);
      const c = ctx.df.callActivity("Echo", "c");
      yield ctx.df.Task.all([a, inner, c]);
      const d = yield ctx.df.callActivity("Echo", "d");
      return [a.result, c.result, d];
    }, { Echo: (v) => v });
    expect(JSON.parse(r.state.output!)).toEqual(["a", "c", "d"]);
    expect(ids(r.history, EventType.TaskScheduled)).toEqual([0, 1, 3, 4]);
    expect(ids(r.history, EventType.TimerCreated)).toEqual([2]);
  });

  it("callActivityWithRetry: each retry takes a timer id, then a new task id", async () => {
    const r = await drive(function* (ctx) {
      const first = yield ctx.df.callActivityWithRetry("Flaky", new df.RetryOptions(1000, 3), "x");
      const after = yield ctx.df.callActivity("Echo", "after");
      return [first, after];
    }, { Flaky: (_v, n) => { if (n < 3) throw new Error(`fail ${n}`); return n; }, Echo: (v) => v });
    expect(JSON.parse(r.state.output!)).toEqual([3, "after"]);
    expect(ids(r.history, EventType.TaskScheduled)).toEqual([0, 2, 4, 5]);
    expect(ids(r.history, EventType.TimerCreated)).toEqual([1, 3]);
    const fires = r.history.filter((e) => e.EventType === EventType.TimerCreated).map((e) => Date.parse(String(e.FireAt)) - Date.parse(String(e.Timestamp)));
    expect(fires).toEqual([1000, 1000]);
  });

  it("retry exhausted: the task fails after maxNumberOfAttempts with backoff", async () => {
    const r = await drive(function* (ctx) {
      const o = new df.RetryOptions(100, 3);
      o.backoffCoefficient = 2;
      try {
        yield ctx.df.callActivityWithRetry("Broken", o);
      } catch (e) {
        return (e as Error).message;
      }
      return "no";
    }, { Broken: () => { throw new Error("always"); } });
    expect(JSON.parse(r.state.output!)).toContain("always");
    expect(ids(r.history, EventType.TaskScheduled)).toEqual([0, 2, 4]);
    const delays = r.history.filter((e) => e.EventType === EventType.TimerCreated).map((e) => Date.parse(String(e.FireAt)) - Date.parse(String(e.Timestamp)));
    expect(delays).toEqual([100, 200, 400]);
  });

  it("long timer: split into sub-timers with consecutive ids, then the next task", async () => {
    const r = await drive(function* (ctx) {
      yield ctx.df.createTimer(new Date(ctx.df.currentUtcDateTime.getTime() + 15_000));
      return yield ctx.df.callActivity("Echo", "late");
    }, { Echo: (v) => v });
    expect(JSON.parse(r.state.output!)).toBe("late");
    // 15 s with maximumShortTimerDuration 10 s, interval 4 s: sub-timers at +4 s, +8 s, then the final +15 s.
    expect(ids(r.history, EventType.TimerCreated)).toEqual([0, 1, 2]);
    const fireAts = r.history.filter((e) => e.EventType === EventType.TimerCreated).map((e) => Date.parse(String(e.FireAt)) - Date.parse("2024-01-01T00:00:00Z"));
    expect(fireAts).toEqual([4000, 8000, 15000]);
    expect(ids(r.history, EventType.TaskScheduled)).toEqual([3]);
  });

  it("external events raised before the wait, and continueAsNew keeps unconsumed ones", async () => {
    const r = await drive(function* (ctx) {
      const x = yield ctx.df.waitForExternalEvent("X");
      const y = yield ctx.df.callActivity("Echo", x);
      return y;
    }, { Echo: (v) => v }, undefined, [{ name: "X", value: 41 }]);
    expect(JSON.parse(r.state.output!)).toBe(41);
    expect(ids(r.history, EventType.TaskScheduled)).toEqual([0]);
  });

  it("nondeterminism is reported with the function and the mismatching action", async () => {
    let replays = 0;
    const r = await drive(function* (ctx) {
      yield ctx.df.callActivity(replays++ === 0 ? "A" : "B", 1);
      return "x";
    }, { A: () => 1, B: () => 2 });
    expect(r.state.status).toBe("Failed");
    expect(r.state.output).toMatch(/Non-deterministic.*CallActivity 'B'.*CallActivity 'A' \(event id 0\)/);
  });
});
