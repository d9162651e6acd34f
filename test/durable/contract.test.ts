// Contract tests: the scenarios of the library's own recorded histories
// (Azure/azure-functions-durable-js, test/testobjects/testhistories.ts, driven by
// TestOrchestrations.ts and checked in test/integration/orchestrator-spec.ts), re-run
// through OUR episode logic with the REAL library orchestrator. Each table is the
// library's history as rows (episode markers aside, see `rows`): we must assign the same
// event ids and the orchestrations must end with the outputs the library's spec expects.
// The orchestrators below are our own code with the same logic as the library's.
import * as df from "durable-functions";
import type { OrchestrationContext } from "durable-functions";
import { describe, expect, it } from "vitest";
import { EventType } from "../../local/host/durable/types";
import { output, rows, run, T0, timerDelays, timerFireAts, type ActivityImpl, type App, type Gen } from "./contract-driver";

const hello: ActivityImpl = (name) => `Hello, ${String(name)}!`;
const fails = (message: string): ActivityImpl => () => {
  throw new Error(message);
};
/** Fails the first `n` runs for each input, then greets. */
const failsFirst = (n: number, only?: string): ActivityImpl => (name, attempt) => {
  if ((only === undefined || name === only) && attempt <= n) throw new Error("Result: Failure");
  return `Hello, ${String(name)}!`;
};

const O: Record<string, Gen> = {
  *SayHelloSequence(ctx) {
    const out: unknown[] = [];
    for (const city of ["Tokyo", "Seattle", "London"]) out.push(yield ctx.df.callActivity("Hello", city));
    return out;
  },
  *SayHelloWithActivity(ctx) {
    return yield ctx.df.callActivity("Hello", ctx.df.getInput());
  },
  *SayHelloWithActivityYieldTwice(ctx) {
    const t = ctx.df.callActivity("Hello", ctx.df.getInput());
    yield t;
    yield t;
    return yield t;
  },
  *SayHelloInline(ctx) {
    return `Hello, ${String(ctx.df.getInput())}!`;
  },
  *FanOutFanInDiskUsage(ctx) {
    const files = (yield ctx.df.callActivity("GetFileList", ctx.df.getInput())) as string[];
    const sizes = (yield ctx.df.Task.all(files.map((f) => ctx.df.callActivity("GetFileSize", f)))) as number[];
    return sizes.reduce((a, b) => a + b, 0);
  },
  *ThrowsExceptionFromActivity(ctx) {
    yield ctx.df.callActivity("ThrowsErrorActivity");
  },
  *ThrowsExceptionFromActivityWithCatch(ctx) {
    try {
      yield ctx.df.callActivity("ThrowsErrorActivity");
    } catch {
      return yield ctx.df.callActivity("Hello", ctx.df.getInput());
    }
    return "not reached";
  },
  *SayHelloWithActivityRetry(ctx) {
    return yield ctx.df.callActivityWithRetry("Hello", new df.RetryOptions(10_000, 2), ctx.df.getInput());
  },
  *SayHelloWithActivityRetryFanout(ctx) {
    const retry = new df.RetryOptions(100, 5);
    return yield ctx.df.Task.all(["Tokyo", "Seattle"].map((c) => ctx.df.callActivityWithRetry("Hello", retry, c)));
  },
  *SayHelloWithSubOrchestrator(ctx) {
    return yield ctx.df.callSubOrchestrator("SayHelloWithActivity", ctx.df.getInput(), `${ctx.df.instanceId}:0`);
  },
  *MultipleSubOrchestratorNoSubId(ctx) {
    const input = String(ctx.df.getInput());
    const names = ["SayHelloWithActivity", "SayHelloInline", "SayHelloWithActivity", "SayHelloInline"];
    return yield ctx.df.Task.all(names.map((n, i) => ctx.df.callSubOrchestrator(n, `${input}_${n}_${i}`)));
  },
  *SayHelloWithSubOrchestratorRetry(ctx) {
    return yield ctx.df.callSubOrchestratorWithRetry("SayHelloInline", new df.RetryOptions(10_000, 2), ctx.df.getInput(), `${ctx.df.instanceId}:0`);
  },
  *SayHelloWithSubOrchestratorRetryFanout(ctx) {
    const retry = new df.RetryOptions(100, 5);
    return yield ctx.df.Task.all(["Tokyo", "Seattle"].map((c) => ctx.df.callSubOrchestratorWithRetry("SayHelloInline", retry, c)));
  },
  *AnyAOrB(ctx) {
    const inOrder = ctx.df.getInput();
    const winner = (yield ctx.df.Task.any([ctx.df.callActivity("TaskA", inOrder), ctx.df.callActivity("TaskB", inOrder)])) as { result: unknown };
    return winner.result;
  },
  *AnyAOrBYieldATwice(ctx) {
    const inOrder = ctx.df.getInput();
    const a = ctx.df.callActivity("TaskA", inOrder);
    const winner = (yield ctx.df.Task.any([a, ctx.df.callActivity("TaskB", inOrder)])) as { result: unknown };
    yield a; // already scheduled: must not schedule TaskA again
    return winner.result;
  },
  *TimerActivityRace(ctx) {
    const timer = ctx.df.createTimer(new Date(ctx.df.currentUtcDateTime.getTime() + 1000));
    const a = ctx.df.callActivity("TaskA");
    const winner = yield ctx.df.Task.any([timer, a]);
    if (winner === timer) return "Timer finished";
    const b = ctx.df.callActivity("TaskB");
    yield b;
    return b.result;
  },
  *AnyWithTaskSet(ctx) {
    const timeout = ctx.df.createTimer(new Date(ctx.df.currentUtcDateTime.getTime() + 300_000));
    const both = ctx.df.Task.all([ctx.df.waitForExternalEvent("firstRequiredEvent"), ctx.df.waitForExternalEvent("secondRequiredEvent")]);
    const winner = yield ctx.df.Task.any([both, timeout]);
    if (winner === timeout) return ["timeout"];
    const ok = yield ctx.df.callActivity("Hello", "Tokyo");
    timeout.cancel();
    return [ok];
  },
  *WaitForExternalEvent(ctx) {
    const name = yield ctx.df.waitForExternalEvent("start");
    return yield ctx.df.callActivity("Hello", name);
  },
  *TimestampExhaustion(ctx) {
    const payload = ctx.df.getInput() as { delayMergeUntilSecs?: number };
    yield ctx.df.callActivity("Merge");
    if (payload.delayMergeUntilSecs) {
      yield ctx.df.createTimer(new Date(ctx.df.currentUtcDateTime.getTime() + payload.delayMergeUntilSecs * 1000));
    }
    for (let x = 0; x < 10; x++) {
      const r = (yield ctx.df.callActivity("CheckIfMerged")) as { output: boolean };
      if (r.output) return "Merge successful";
      yield ctx.df.waitForExternalEvent("CheckPrForMerge");
    }
    return "gave up";
  },
  *WaitOnTimer(ctx) {
    yield ctx.df.createTimer(new Date(String(ctx.df.getInput())));
    return "Timer fired!";
  },
  *ContinueAsNewCounter(ctx) {
    const value = ((ctx.df.getInput() as { value?: number } | undefined)?.value ?? 0) + 1;
    if (value < 8) {
      ctx.df.continueAsNew({ value });
      return value;
    }
    return value;
  },
};

const app = (activities: App["activities"], orchestrators: Record<string, Gen> = O): App => ({ orchestrators, activities });
const ES = (name: string) => `ExecutionStarted ${name}`;

describe("activities (testhistories: GetHelloSequenceReplayFinal, GetSayHelloWithActivityReplayOne, GetFanOutFanInDiskUsage*, GetThrowsExceptionFromActivityReplayOne)", () => {
  it("SayHelloSequence: ids 0, 1, 2 in order", async () => {
    const r = await run(app({ Hello: hello }), "SayHelloSequence");
    // Mirrors GetHelloSequenceReplayFinal.
    expect(rows(r.state.history)).toEqual([
      ES("SayHelloSequence"),
      "TaskScheduled#0 Hello", "TaskCompleted->0",
      "TaskScheduled#1 Hello", "TaskCompleted->1",
      "TaskScheduled#2 Hello", "TaskCompleted->2",
    ]);
    expect(output(r)).toEqual(["Hello, Tokyo!", "Hello, Seattle!", "Hello, London!"]);
  });

  it("a task yielded three times is scheduled once", async () => {
    const r = await run(app({ Hello: hello }), "SayHelloWithActivityYieldTwice", { input: "World" });
    // Mirrors GetSayHelloWithActivityReplayOne as used by "is yielded twice, only scheduled once".
    expect(rows(r.state.history)).toEqual([ES("SayHelloWithActivityYieldTwice"), "TaskScheduled#0 Hello", "TaskCompleted->0"]);
    expect(output(r)).toBe("Hello, World!");
    expect(r.runs.get("Hello")).toBe(1);
  });

  const files = ["file1.txt", "file2.png", "file3.csx"];
  const sizes: ActivityImpl = (f) => files.indexOf(String(f)) + 1;

  it("FanOutFanInDiskUsage: fan-out ids follow the list, results arrive in two episodes", async () => {
    const r = await run(app({ GetFileList: () => files, GetFileSize: sizes }), "FanOutFanInDiskUsage", {
      input: "C:\\Dev",
      script: [[{ activity: "GetFileList" }], [{ activity: "GetFileSize", input: "file1.txt" }, { activity: "GetFileSize", input: "file2.png" }], [{ activity: "GetFileSize" }]],
    });
    // Mirrors GetFanOutFanInDiskUsageComplete.
    expect(rows(r.state.history)).toEqual([
      ES("FanOutFanInDiskUsage"),
      "TaskScheduled#0 GetFileList", "TaskCompleted->0",
      "TaskScheduled#1 GetFileSize", "TaskScheduled#2 GetFileSize", "TaskScheduled#3 GetFileSize",
      "TaskCompleted->1", "TaskCompleted->2",
      "TaskCompleted->3",
    ]);
    expect(output(r)).toBe(6);
  });

  it("FanOutFanInDiskUsage: Task.all fails with the first failed task", async () => {
    const size: ActivityImpl = (f) => {
      if (f !== "file1.txt") throw new Error(`Could not find file ${String(f)}`);
      return 1;
    };
    const r = await run(app({ GetFileList: () => files, GetFileSize: size }), "FanOutFanInDiskUsage", { input: "C:\\Dev" });
    // Mirrors GetFanOutFanInDiskUsageFaulted.
    expect(rows(r.state.history)).toEqual([
      ES("FanOutFanInDiskUsage"),
      "TaskScheduled#0 GetFileList", "TaskCompleted->0",
      "TaskScheduled#1 GetFileSize", "TaskScheduled#2 GetFileSize", "TaskScheduled#3 GetFileSize",
      "TaskCompleted->1", "TaskFailed->2", "TaskFailed->3",
    ]);
    expect(r.state.status).toBe("Failed");
    expect(output(r)).toContain("Activity function 'GetFileSize' failed: Could not find file file2.png");
  });

  it("an unhandled activity failure fails the orchestration; a caught one lets it go on", async () => {
    const acts = { ThrowsErrorActivity: fails("boom"), Hello: hello };
    const failed = await run(app(acts), "ThrowsExceptionFromActivity");
    // Mirrors GetThrowsExceptionFromActivityReplayOne.
    expect(rows(failed.state.history)).toEqual([ES("ThrowsExceptionFromActivity"), "TaskScheduled#0 ThrowsErrorActivity", "TaskFailed->0"]);
    expect(failed.state.status).toBe("Failed");
    expect(output(failed)).toContain("Activity function 'ThrowsErrorActivity' failed");

    const caught = await run(app(acts), "ThrowsExceptionFromActivityWithCatch", { input: "World" });
    expect(rows(caught.state.history)).toEqual([
      ES("ThrowsExceptionFromActivityWithCatch"), "TaskScheduled#0 ThrowsErrorActivity", "TaskFailed->0", "TaskScheduled#1 Hello", "TaskCompleted->1",
    ]);
    expect(output(caught)).toBe("Hello, World!");
  });
});

describe("activity retries (testhistories: GetSayHelloWithActivityRetry*)", () => {
  it("each failure takes a timer id, each retry a new task id; the last failure still waits for its timer", async () => {
    const r = await run(app({ Hello: fails("Result: Failure") }), "SayHelloWithActivityRetry", { input: "World" });
    // Mirrors GetSayHelloWithActivityRetryRetryTwo (RetryOptions(10000, 2)).
    expect(rows(r.state.history)).toEqual([
      ES("SayHelloWithActivityRetry"),
      "TaskScheduled#0 Hello", "TaskFailed->0", "TimerCreated#1", "TimerFired->1",
      "TaskScheduled#2 Hello", "TaskFailed->2", "TimerCreated#3", "TimerFired->3",
    ]);
    expect(timerDelays(r.state.history)).toEqual([10_000, 10_000]);
    expect(r.state.status).toBe("Failed");
    expect(output(r)).toContain("Activity function 'Hello' failed: Result: Failure");
    expect(r.runs.get("Hello")).toBe(2);
  });

  it("a retry that succeeds completes with the activity's result", async () => {
    const r = await run(app({ Hello: failsFirst(1) }), "SayHelloWithActivityRetry", { input: "World" });
    // Mirrors GetSayHelloWithActivityRetryRetryOne, then the second attempt completing.
    expect(rows(r.state.history)).toEqual([
      ES("SayHelloWithActivityRetry"),
      "TaskScheduled#0 Hello", "TaskFailed->0", "TimerCreated#1", "TimerFired->1",
      "TaskScheduled#2 Hello", "TaskCompleted->2",
    ]);
    expect(output(r)).toBe("Hello, World!");
  });

  it("fan-out of retried activities: the retry timer takes the next id", async () => {
    const r = await run(app({ Hello: failsFirst(1, "Tokyo") }), "SayHelloWithActivityRetryFanout");
    // Mirrors GetSayHelloWithActivityRetryFanout (iteration 4). That hand-built history lists
    // TimerCreated#2 between the two results of its second episode; a host appends the
    // events it creates after the ones it received (as the sub-orchestration twin,
    // GetSayHelloWithSuborchestratorRetryFanout, shows), so ours has it after both.
    expect(rows(r.state.history)).toEqual([
      ES("SayHelloWithActivityRetryFanout"),
      "TaskScheduled#0 Hello", "TaskScheduled#1 Hello",
      "TaskFailed->0", "TaskCompleted->1", "TimerCreated#2",
      "TimerFired->2", "TaskScheduled#3 Hello",
      "TaskCompleted->3",
    ]);
    expect(timerDelays(r.state.history)).toEqual([100]);
    expect(output(r)).toEqual(["Hello, Tokyo!", "Hello, Seattle!"]);
  });
});

describe("sub-orchestrations (testhistories: GetSayHelloWithSubOrchestrator*, GetMultipleSubOrchestratorNoIds*)", () => {
  it("with an explicit instance id", async () => {
    const r = await run(app({ Hello: hello }), "SayHelloWithSubOrchestrator", { input: "World" });
    // Mirrors GetSayHelloWithSubOrchestratorReplayOne.
    expect(rows(r.state.history)).toEqual([
      ES("SayHelloWithSubOrchestrator"), "SubOrchestrationInstanceCreated#0 SayHelloWithActivity", "SubOrchestrationInstanceCompleted->0",
    ]);
    expect(r.state.history.find((e) => e.EventType === EventType.SubOrchestrationInstanceCreated)?.InstanceId).toBe("contract:0");
    const child = r.children.get("contract:0#0")!;
    expect(rows(child.state.history)).toEqual([ES("SayHelloWithActivity"), "TaskScheduled#0 Hello", "TaskCompleted->0"]);
    expect(output(r)).toBe("Hello, World!");
  });

  it("several without instance ids: consecutive ids, distinct child instances", async () => {
    const r = await run(app({ Hello: hello }), "MultipleSubOrchestratorNoSubId", { input: "World" });
    // Mirrors GetMultipleSubOrchestratorNoIdsSubOrchestrationsFinished.
    expect(rows(r.state.history)).toEqual([
      ES("MultipleSubOrchestratorNoSubId"),
      "SubOrchestrationInstanceCreated#0 SayHelloWithActivity", "SubOrchestrationInstanceCreated#1 SayHelloInline",
      "SubOrchestrationInstanceCreated#2 SayHelloWithActivity", "SubOrchestrationInstanceCreated#3 SayHelloInline",
      "SubOrchestrationInstanceCompleted->0", "SubOrchestrationInstanceCompleted->1",
      "SubOrchestrationInstanceCompleted->2", "SubOrchestrationInstanceCompleted->3",
    ]);
    // DurableTask names them "<parent execution id>:<event id>" (the library's history has placeholders).
    const ids = r.state.history.filter((e) => e.EventType === EventType.SubOrchestrationInstanceCreated).map((e) => e.InstanceId);
    expect(ids).toEqual(["e1:0", "e1:1", "e1:2", "e1:3"]);
    expect(output(r)).toEqual(["Hello, World_SayHelloWithActivity_0!", "Hello, World_SayHelloInline_1!", "Hello, World_SayHelloWithActivity_2!", "Hello, World_SayHelloInline_3!"]);
  });

  it("a failed sub-orchestration fails the parent with its message", async () => {
    const r = await run(app({ Hello: fails("Result: Failure") }), "SayHelloWithSubOrchestrator", { input: "World" });
    // Mirrors GetSayHelloWithSubOrchestratorFail.
    expect(rows(r.state.history)).toEqual([
      ES("SayHelloWithSubOrchestrator"), "SubOrchestrationInstanceCreated#0 SayHelloWithActivity", "SubOrchestrationInstanceFailed->0",
    ]);
    expect(r.state.status).toBe("Failed");
    expect(output(r)).toContain("Orchestrator function 'SayHelloWithActivity' failed");
    expect(output(r)).toContain("Result: Failure");
  });

  it("with retry: timer id, then a new sub-orchestration id under the same instance id", async () => {
    const failing: Record<string, Gen> = {
      ...O,
      // eslint-disable-next-line require-yield
      *SayHelloInline() {
        throw new Error("Result: Failure");
      },
    };
    const r = await run(app({}, failing), "SayHelloWithSubOrchestratorRetry", { input: "World" });
    // Mirrors GetSayHelloWithSubOrchestratorRetryRetryTwo (RetryOptions(10000, 2)).
    expect(rows(r.state.history)).toEqual([
      ES("SayHelloWithSubOrchestratorRetry"),
      "SubOrchestrationInstanceCreated#0 SayHelloInline", "SubOrchestrationInstanceFailed->0", "TimerCreated#1", "TimerFired->1",
      "SubOrchestrationInstanceCreated#2 SayHelloInline", "SubOrchestrationInstanceFailed->2", "TimerCreated#3", "TimerFired->3",
    ]);
    const ids = r.state.history.filter((e) => e.EventType === EventType.SubOrchestrationInstanceCreated).map((e) => e.InstanceId);
    expect(ids).toEqual(["contract:0", "contract:0"]);
    expect(timerDelays(r.state.history)).toEqual([10_000, 10_000]);
    expect(r.state.status).toBe("Failed");
    expect(output(r)).toContain("Orchestrator function 'SayHelloInline' failed: Result: Failure");
  });

  it("fan-out with retry: results first, then the retry timer, then the new attempt", async () => {
    const runs = new Map<string, number>();
    const flaky: Record<string, Gen> = {
      ...O,
      *SayHelloInline(ctx) {
        const city = String(ctx.df.getInput());
        const n = (runs.get(city) ?? 0) + 1;
        runs.set(city, n);
        if (city === "Tokyo" && n === 1) throw new Error("Result: Failure");
        return `Hello, ${city}!`;
      },
    };
    const r = await run(app({}, flaky), "SayHelloWithSubOrchestratorRetryFanout");
    // Mirrors GetSayHelloWithSuborchestratorRetryFanout (iteration 4).
    expect(rows(r.state.history)).toEqual([
      ES("SayHelloWithSubOrchestratorRetryFanout"),
      "SubOrchestrationInstanceCreated#0 SayHelloInline", "SubOrchestrationInstanceCreated#1 SayHelloInline",
      "SubOrchestrationInstanceFailed->0", "SubOrchestrationInstanceCompleted->1", "TimerCreated#2",
      "TimerFired->2", "SubOrchestrationInstanceCreated#3 SayHelloInline",
      "SubOrchestrationInstanceCompleted->3",
    ]);
    const ids = r.state.history.filter((e) => e.EventType === EventType.SubOrchestrationInstanceCreated).map((e) => e.InstanceId);
    expect(ids).toEqual(["e1:0", "e1:1", "e1:3"]); // each attempt its own instance
    expect(output(r)).toEqual(["Hello, Tokyo!", "Hello, Seattle!"]);
  });
});

describe("Task.any / Task.all (testhistories: GetAnyAOrB, GetTimerActivityRace*, GetAnyWithTaskSet)", () => {
  it("Task.any returns the first finished task", async () => {
    const acts = { TaskA: () => "A", TaskB: () => "B" };
    const r = await run(app(acts), "AnyAOrB", { input: true, script: [[{ activity: "TaskA" }]] });
    // Mirrors GetAnyAOrB(completeInOrder = true).
    expect(rows(r.state.history)).toEqual([ES("AnyAOrB"), "TaskScheduled#0 TaskA", "TaskScheduled#1 TaskB", "TaskCompleted->0"]);
    expect(output(r)).toBe("A");
  });

  it("a task yielded in Task.any and then on its own is scheduled once", async () => {
    const acts = { TaskA: () => "A", TaskB: () => "B" };
    const r = await run(app(acts), "AnyAOrBYieldATwice", { input: false, script: [[{ activity: "TaskB" }], [{ activity: "TaskA" }]] });
    // Mirrors GetAnyAOrB(completeInOrder = false), then TaskA finishing for the second yield.
    expect(rows(r.state.history)).toEqual([ES("AnyAOrBYieldATwice"), "TaskScheduled#0 TaskA", "TaskScheduled#1 TaskB", "TaskCompleted->1", "TaskCompleted->0"]);
    expect(output(r)).toBe("B");
    expect(r.runs.get("TaskA")).toBe(1);
  });

  it("timer/activity race, activity wins: the late timer changes nothing", async () => {
    const acts = { TaskA: () => ({}), TaskB: () => ({}) };
    const r = await run(app(acts), "TimerActivityRace", { script: [[{ activity: "TaskA" }], [{ timer: true }], [{ activity: "TaskB" }]] });
    // Mirrors GetTimerActivityRaceActivityWinsHistory (iteration 4).
    expect(rows(r.state.history)).toEqual([
      ES("TimerActivityRace"), "TimerCreated#0", "TaskScheduled#1 TaskA",
      "TaskCompleted->1", "TaskScheduled#2 TaskB",
      "TimerFired->0",
      "TaskCompleted->2",
    ]);
    expect(timerDelays(r.state.history)).toEqual([1000]);
    expect(output(r)).toEqual({});
  });

  it("timer/activity race, timer wins", async () => {
    const r = await run(app({ TaskA: () => ({}) }), "TimerActivityRace", { script: [[{ timer: true }]] });
    // Mirrors GetTimerActivityRaceTimerWinsHistory (iteration 2).
    expect(rows(r.state.history)).toEqual([ES("TimerActivityRace"), "TimerCreated#0", "TaskScheduled#1 TaskA", "TimerFired->0"]);
    expect(output(r)).toBe("Timer finished");
  });

  it("Task.any of (Task.all of two events) and a timer: events win; waits take no id", async () => {
    const r = await run(app({ Hello: hello }), "AnyWithTaskSet", {
      script: [[{ raise: "firstRequiredEvent" }, { raise: "secondRequiredEvent" }, { timer: true }]],
    });
    // Mirrors GetAnyWithTaskSet(eventsBeatTimer = true), whose second episode also fires the
    // timer; then the activity completes. The library throws from `cancel()` of a timer
    // that has fired, so finishing that recorded run fails the orchestration.
    expect(rows(r.state.history)).toEqual([
      ES("AnyWithTaskSet"), "TimerCreated#0",
      "EventRaised firstRequiredEvent", "EventRaised secondRequiredEvent", "TimerFired->0", "TaskScheduled#1 Hello",
      "TaskCompleted->1",
    ]);
    expect(timerDelays(r.state.history)).toEqual([300_000]);
    expect(r.state.status).toBe("Failed");
    expect(output(r)).toContain("Cannot cancel a completed task");

    // The same with the timer still pending: cancel() works and the orchestration completes.
    const ok = await run(app({ Hello: hello }), "AnyWithTaskSet", { script: [[{ raise: "firstRequiredEvent" }, { raise: "secondRequiredEvent" }]] });
    expect(rows(ok.state.history)).toEqual([
      ES("AnyWithTaskSet"), "TimerCreated#0", "EventRaised firstRequiredEvent", "EventRaised secondRequiredEvent", "TaskScheduled#1 Hello", "TaskCompleted->1",
    ]);
    expect(output(ok)).toEqual(["Hello, Tokyo!"]);
  });

  it("Task.any of (Task.all of two events) and a timer: timer wins", async () => {
    const r = await run(app({ Hello: hello }), "AnyWithTaskSet", {
      script: [[{ raise: "firstRequiredEvent" }, { timer: true }, { raise: "secondRequiredEvent" }]],
    });
    // Mirrors GetAnyWithTaskSet(eventsBeatTimer = false).
    expect(rows(r.state.history)).toEqual([
      ES("AnyWithTaskSet"), "TimerCreated#0", "EventRaised firstRequiredEvent", "TimerFired->0", "EventRaised secondRequiredEvent",
    ]);
    expect(output(r)).toEqual(["timeout"]);
  });
});

describe("external events (testhistories: GetWaitForExternalEventEventReceived, GetTimestampExhaustion)", () => {
  it("only the awaited name resumes the orchestrator", async () => {
    const r = await run(app({ Hello: hello }), "WaitForExternalEvent", {
      script: [[{ raise: "wrongEvent", value: "Reykjavik" }], [{ raise: "start", value: "Reykjavik" }]],
    });
    // Mirrors GetWaitForExternalEventEventReceived("start" and "wrongEvent").
    expect(rows(r.state.history)).toEqual([
      ES("WaitForExternalEvent"), "EventRaised wrongEvent", "EventRaised start", "TaskScheduled#0 Hello", "TaskCompleted->0",
    ]);
    expect(output(r)).toBe("Hello, Reykjavik!");
  });

  it("events raised before anyone waits are kept in order; a timer delivered twice fires once", async () => {
    let checks = 0;
    const acts = { Merge: () => "", CheckIfMerged: () => ({ output: ++checks >= 5 }) };
    const ev = (value: number) => ({ raise: "CheckPrForMerge", value: { value } });
    const r = await run(app(acts), "TimestampExhaustion", {
      input: { delayMergeUntilSecs: 1 },
      raisedBefore: [{ name: "CheckPrForMerge", value: { value: 0 } }],
      script: [
        [ev(1)],
        [{ activity: "Merge" }],
        [{ timer: true }, { timerAgain: true }],
        [{ activity: "CheckIfMerged" }],
        [{ activity: "CheckIfMerged" }],
        [{ activity: "CheckIfMerged" }],
        [ev(2), ev(3), ev(4)],
        [{ activity: "CheckIfMerged" }],
      ],
    });
    // Mirrors GetTimestampExhaustion, then run to the end. Its history records the
    // duplicated TimerFired twice; we drop a duplicate delivery (the library ignores the
    // second one anyway: no task waits for that id any more).
    expect(rows(r.state.history)).toEqual([
      ES("TimestampExhaustion"), "EventRaised CheckPrForMerge", "TaskScheduled#0 Merge",
      "EventRaised CheckPrForMerge",
      "TaskCompleted->0", "TimerCreated#1",
      "TimerFired->1", "TaskScheduled#2 CheckIfMerged",
      "TaskCompleted->2", "TaskScheduled#3 CheckIfMerged",
      "TaskCompleted->3", "TaskScheduled#4 CheckIfMerged",
      "TaskCompleted->4",
      "EventRaised CheckPrForMerge", "EventRaised CheckPrForMerge", "EventRaised CheckPrForMerge", "TaskScheduled#5 CheckIfMerged",
      "TaskCompleted->5", "TaskScheduled#6 CheckIfMerged",
      "TaskCompleted->6",
    ]);
    expect(timerDelays(r.state.history)).toEqual([1000]);
    expect(output(r)).toBe("Merge successful");
  });
});

describe("timers and continueAsNew (testhistories: GetWaitOnTimerFired, GetWaitOnLongTimerHalfway; spec: ContinueAsNewCounter)", () => {
  it("a short timer", async () => {
    const r = await run(app({}), "WaitOnTimer", { input: new Date(T0 + 300_000).toISOString() });
    // Mirrors GetWaitOnTimerFired(fireAt = start + 5 min).
    expect(rows(r.state.history)).toEqual([ES("WaitOnTimer"), "TimerCreated#0", "TimerFired->0"]);
    expect(timerFireAts(r.state.history)).toEqual([300_000]);
    expect(output(r)).toBe("Timer fired!");
  });

  it("a 10-day timer with the host's 6-day maximum: sub-timers every 3 days take consecutive ids", async () => {
    const DAY = 86_400_000;
    const r = await run(app({}), "WaitOnTimer", { input: new Date(T0 + 10 * DAY).toISOString() });
    // Mirrors GetWaitOnTimerFired(fireAt = start + 10 d) and, for its first part, GetWaitOnLongTimerHalfway.
    expect(rows(r.state.history)).toEqual([
      ES("WaitOnTimer"), "TimerCreated#0", "TimerFired->0", "TimerCreated#1", "TimerFired->1", "TimerCreated#2", "TimerFired->2",
    ]);
    expect(timerFireAts(r.state.history)).toEqual([3 * DAY, 6 * DAY, 10 * DAY]);
    expect(output(r)).toBe("Timer fired!");
  });

  it("continueAsNew starts a new execution with the new input and ids from 0", async () => {
    const r = await run(app({}), "ContinueAsNewCounter", { input: { value: 5 } });
    // The library's spec: input {value: 5} → continueAsNew({value: 6}). Ours continues up to 8.
    expect(r.executions.map((e) => e.input)).toEqual(['{"value":5}', '{"value":6}', '{"value":7}']);
    const ends = r.executions.map((e) => e.history.find((h) => h.EventType === EventType.ExecutionCompleted));
    expect(ends.map((e) => [e?.OrchestrationStatus, e?.Result])).toEqual([
      ["ContinuedAsNew", '{"value":6}'],
      ["ContinuedAsNew", '{"value":7}'],
      ["Completed", "8"],
    ]);
    for (const e of r.executions) expect(rows(e.history)).toEqual([ES("ContinueAsNewCounter")]);
    expect(output(r)).toBe(8);
  });
});

// Beyond the library's recorded histories: cases where the id rules interact.
const X: Record<string, Gen> = {
  *ReyieldInNewAll(ctx) {
    const slow = ctx.df.callActivity("Slow");
    yield ctx.df.Task.any([slow, ctx.df.createTimer(new Date(ctx.df.currentUtcDateTime.getTime() + 1000))]);
    const other = ctx.df.callActivity("Other");
    return yield ctx.df.Task.all([slow, other]);
  },
  *RetryRace(ctx) {
    const flaky = ctx.df.callActivityWithRetry("Flaky", new df.RetryOptions(1000, 3));
    yield ctx.df.Task.any([flaky, ctx.df.callActivity("Quick")]);
    const next = yield ctx.df.callActivity("Next");
    return [next, yield flaky];
  },
  *ChildPerGeneration(ctx) {
    const n = (ctx.df.getInput() as number | undefined) ?? 0;
    yield ctx.df.callSubOrchestrator("SayHelloInline", n);
    if (n < 1) ctx.df.continueAsNew(n + 1);
    return n;
  },
  SayHelloInline: O.SayHelloInline!,
  *CancelLongTimer(ctx) {
    const timer = ctx.df.createTimer(new Date(ctx.df.currentUtcDateTime.getTime() + 10 * 86_400_000));
    const winner = yield ctx.df.Task.any([timer, ctx.df.callActivity("A")]);
    if (winner === timer) return "timer";
    timer.cancel();
    return yield ctx.df.callActivity("B");
  },
  *NestedAny(ctx) {
    const a = ctx.df.callActivity("Echo", "a");
    const inner = ctx.df.Task.any([ctx.df.callActivity("Echo", "b"), ctx.df.createTimer(new Date(ctx.df.currentUtcDateTime.getTime() + 5000))]);
    const c = ctx.df.callActivity("Echo", "c");
    yield ctx.df.Task.all([a, inner, c]);
    const d = yield ctx.df.callActivity("Echo", "d");
    return [a.result, c.result, d];
  },
  *Backoff(ctx) {
    const o = new df.RetryOptions(100, 4);
    o.backoffCoefficient = 2;
    o.maxRetryIntervalInMilliseconds = 250;
    try {
      yield ctx.df.callActivityWithRetry("Broken", o);
    } catch (e) {
      return (e as Error).message;
    }
    return "not reached";
  },
  // Generation 1 continues as new once A is done; generation 2 reports an "x" it finds, else the timer.
  *Relay(ctx) {
    if (ctx.df.getInput() === undefined) {
      yield ctx.df.callActivity("A");
      ctx.df.continueAsNew(1);
      return 0;
    }
    const x = ctx.df.waitForExternalEvent("x");
    const winner = yield ctx.df.Task.any([x, ctx.df.createTimer(new Date(ctx.df.currentUtcDateTime.getTime() + 5000))]);
    return winner === x ? x.result : "timer";
  },
  *Adder(ctx) {
    const sum = ((ctx.df.getInput() as number | undefined) ?? 0) + ((yield ctx.df.waitForExternalEvent("add")) as number);
    if (sum < 3) {
      ctx.df.continueAsNew(sum);
      return sum;
    }
    return sum;
  },
};

describe("where the id rules interact", () => {
  it("a task re-yielded inside a NEW Task.all is scheduled again, as the real host does (durable-js issue #574)", async () => {
    // The library keeps the old task's id and numbers only `Other` (id 2), but it sends the
    // new WhenAll with both sub-actions and the host's out-of-proc shim starts every
    // sub-action of a compound as a new task: Slow again as #2, Other as #3. We do the same,
    // so the app sees here what it would see in Azure: Slow runs twice and the library
    // hands the second Slow's result to `Other`.
    const r = await run(app({ Slow: () => "slow", Other: () => "other" }, X), "ReyieldInNewAll", {
      script: [[{ timer: true }], [{ activity: "Slow" }, { activity: "Slow" }, { activity: "Other" }]],
    });
    expect(rows(r.state.history)).toEqual([
      ES("ReyieldInNewAll"), "TaskScheduled#0 Slow", "TimerCreated#1",
      "TimerFired->1", "TaskScheduled#2 Slow", "TaskScheduled#3 Other",
      "TaskCompleted->0", "TaskCompleted->2", "TaskCompleted->3",
    ]);
    expect(r.runs.get("Slow")).toBe(2);
    expect(output(r)).toEqual(["slow", "slow"]);
  });

  it("a retryable failure and a completion that resumes user code in one episode: the retry timer's id comes first", async () => {
    const acts = { Flaky: (_: unknown, attempt: number) => { if (attempt === 1) throw new Error("first"); return "flaky"; }, Quick: () => "quick", Next: () => "next" };
    // Quick's result arrives before Flaky's failure; we put the failure first in the
    // history so that the library, replaying in history order, numbers the retry timer
    // before the activity that the resumed code schedules, as we do.
    const r = await run(app(acts, X), "RetryRace", { script: [[{ activity: "Quick" }, { activity: "Flaky" }]] });
    expect(rows(r.state.history)).toEqual([
      ES("RetryRace"), "TaskScheduled#0 Flaky", "TaskScheduled#1 Quick",
      "TaskFailed->0", "TaskCompleted->1", "TimerCreated#2", "TaskScheduled#3 Next",
      "TaskCompleted->3",
      "TimerFired->2", "TaskScheduled#4 Flaky",
      "TaskCompleted->4",
    ]);
    expect(output(r)).toEqual(["next", "flaky"]);
  });

  it("sub-orchestrations without an id get a new instance id in each continueAsNew generation", async () => {
    const r = await run(app({}, X), "ChildPerGeneration");
    const created = r.executions.map((e) => e.history.filter((h) => h.EventType === EventType.SubOrchestrationInstanceCreated).map((h) => h.InstanceId));
    expect(created).toEqual([["e1:0"], ["e2:0"]]);
    expect(output(r)).toBe(1);
  });

  it("a long timer's sub-timer takes its id before the code it resumes; once cancelled, its firing is dropped", async () => {
    const r = await run(app({ A: () => "a", B: () => "b" }, X), "CancelLongTimer", {
      script: [[{ timer: true }], [{ activity: "A" }], [{ timer: true }], [{ activity: "B" }]],
    });
    expect(rows(r.state.history)).toEqual([
      ES("CancelLongTimer"), "TimerCreated#0", "TaskScheduled#1 A",
      "TimerFired->0", "TimerCreated#2",
      "TaskCompleted->1", "TaskScheduled#3 B",
      "TaskCompleted->3",
    ]);
    expect(output(r)).toBe("b");
  });

  it("nested Task.any inside Task.all: ids depth-first in yield order", async () => {
    const r = await run(app({ Echo: (v) => v }, X), "NestedAny");
    expect(rows(r.state.history).filter((x) => x.includes("#"))).toEqual([
      "TaskScheduled#0 Echo", "TaskScheduled#1 Echo", "TimerCreated#2", "TaskScheduled#3 Echo", "TaskScheduled#4 Echo",
    ]);
    expect(output(r)).toEqual(["a", "c", "d"]);
  });

  it("retry delays follow backoffCoefficient, capped by maxRetryInterval", async () => {
    const r = await run(app({ Broken: fails("always") }, X), "Backoff");
    expect(rows(r.state.history).filter((x) => x.startsWith("TaskScheduled"))).toEqual(["TaskScheduled#0 Broken", "TaskScheduled#2 Broken", "TaskScheduled#4 Broken", "TaskScheduled#6 Broken"]);
    expect(timerDelays(r.state.history)).toEqual([100, 200, 250, 250]);
    expect(output(r)).toContain("Activity function 'Broken' failed: always");
  });

  it("events raised before the wait are carried across continueAsNew, none lost", async () => {
    const r = await run(app({}, X), "Adder", { raisedBefore: [{ name: "add", value: 1 }, { name: "add", value: 1 }, { name: "add", value: 1 }] });
    expect(r.executions.map((e) => rows(e.history))).toEqual([
      [ES("Adder"), "EventRaised add", "EventRaised add", "EventRaised add"],
      [ES("Adder"), "EventRaised add", "EventRaised add"],
      [ES("Adder"), "EventRaised add"],
    ]);
    expect(output(r)).toBe(3);
  });

  // What Azure keeps across a JavaScript continueAsNew: see runEpisode's header for the sources.
  const relay = (o: Parameters<typeof run>[2]) => run(app({ A: () => "a" }, X), "Relay", o);
  const raisedIn = (r: Awaited<ReturnType<typeof run>>, gen: number) =>
    (gen < r.executions.length ? r.executions[gen]! : r.state).history.filter((h) => h.EventType === EventType.EventRaised).length;

  it("an event received in an earlier episode that no wait took is lost at continueAsNew", async () => {
    const r = await relay({ raisedBefore: [{ name: "x", value: 1 }], script: [[{ activity: "A" }]] });
    expect(raisedIn(r, 0)).toBe(1);
    expect(raisedIn(r, 1)).toBe(0);
    expect(output(r)).toBe("timer");
  });

  it("an event of the same batch ahead of the message that lets it continue is lost", async () => {
    const r = await relay({ script: [[{ raise: "x", value: 1 }, { activity: "A" }]] });
    expect(raisedIn(r, 1)).toBe(0);
    expect(output(r)).toBe("timer");
  });

  it("an event of the same batch behind that message starts the next generation, after its ExecutionStarted", async () => {
    const r = await relay({ script: [[{ activity: "A" }, { raise: "x", value: 2 }]] });
    expect(rows(r.state.history).slice(0, 2)).toEqual([ES("Relay"), "EventRaised x"]);
    expect(output(r)).toBe(2);
  });

  it("an event aimed at the execution that continued (an entity's response) is dropped by the next one", async () => {
    const stale = await relay({ script: [[{ activity: "A" }], [{ raise: "x", value: 3, exec: "e1" }]] });
    expect(raisedIn(stale, 1)).toBe(0);
    expect(output(stale)).toBe("timer");
    const current = await relay({ script: [[{ activity: "A" }], [{ raise: "x", value: 3, exec: "e2" }]] });
    expect(output(current)).toBe(3);
  });

  it("nondeterminism is reported with the function and the mismatching action", async () => {
    let replays = 0;
    const flip: Record<string, Gen> = {
      *Flip(ctx) {
        yield ctx.df.callActivity(replays++ === 0 ? "A" : "B", 1);
        return "x";
      },
    };
    const r = await run(app({ A: () => 1, B: () => 2 }, flip), "Flip");
    expect(r.state.status).toBe("Failed");
    expect(output(r)).toMatch(/Non-deterministic.*'Flip'.*CallActivity 'B'.*CallActivity 'A' \(event id 0\)/);
  });
});
