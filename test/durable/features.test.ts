// Every Durable feature through the fixture app, the real library and our engine, with the
// task hub in Azurite.
import { describe, expect, it } from "vitest";
import { http, useFixtureHost, start, status, waitFor } from "./support";

const fx = useFixtureHost();

describe("activities", () => {
  it("runs a sequence and reports history", async () => {
    const id = await start(fx.base, "Sequence");
    const s = await waitFor(fx.base, id);
    expect(s.runtimeStatus).toBe("Completed");
    expect(s.output).toEqual(["Hello Tokyo!", "Hello Seattle!", "Hello London!"]);
    const h = await status(fx.base, id, "?showHistory=true&showHistoryOutput=true");
    const types = h.historyEvents!.map((e) => e.EventType);
    expect(types).toEqual(["ExecutionStarted", "TaskCompleted", "TaskCompleted", "TaskCompleted", "ExecutionCompleted"]);
    expect(h.historyEvents![1]).toMatchObject({ FunctionName: "Hello", Result: "Hello Tokyo!" });
  });

  it("fans out and in", async () => {
    const id = await start(fx.base, "FanOut", 50);
    const s = await waitFor(fx.base, id);
    expect(s.output).toBe(2 * ((49 * 50) / 2));
  });

  it("passes inputs and outputs like the real host", async () => {
    const id = await start(fx.base, "Inputs", "top");
    const s = await waitFor(fx.base, id);
    expect(s.output).toEqual({ input: "top", echoed: ["abc", "42", 7, { a: [1, null] }, null, true, null] });
  });
});

describe("activity queue", () => {
  it("serves orchestrator names round-robin: a burst of one cannot hold back another", async () => {
    // 200 × 40 ms on 8 slots keeps the queue full for ~1 s; FIFO would put the Sequence's
    // first activity behind all of them.
    const burst = await start(fx.base, "SlowFanOut", { n: 200, ms: 40 });
    await waitFor(fx.base, burst, (s) => s.runtimeStatus === "Running");
    await new Promise((r) => setTimeout(r, 50));
    const seq = await start(fx.base, "Sequence", ["A", "B"]);
    const done = await waitFor(fx.base, seq);
    expect(done.output).toEqual(["Hello A!", "Hello B!"]);
    expect((await waitFor(fx.base, burst)).output).toBe(200);
    // Ordering, from the recorded history: most of the burst completed AFTER the Sequence did
    // (FIFO: nearly none, since the Sequence's activities queued behind all of them).
    const h = await status(fx.base, burst, "?showHistory=true");
    const completed = h.historyEvents!.filter((e) => e.EventType === "TaskCompleted").map((e) => Date.parse(String(e.Timestamp)));
    expect(completed).toHaveLength(200);
    expect(completed.filter((t) => t > Date.parse(done.lastUpdatedTime)).length).toBeGreaterThan(100);
  });
});

describe("retries", () => {
  it("retries a flaky activity until it succeeds", async () => {
    const id = await start(fx.base, "Retry", { key: "r1", failures: 2, attempts: 4, first: 20, coef: 2 });
    const s = await waitFor(fx.base, id);
    expect(s.output).toEqual({ ok: true, attempt: 3 });
  });

  it("gives up after maxNumberOfAttempts with the activity's error", async () => {
    const id = await start(fx.base, "Retry", { key: "r2", failures: 10, attempts: 3, first: 10, maxInterval: 15 });
    const s = await waitFor(fx.base, id);
    expect(s.output).toMatchObject({ ok: false, ran: 3 });
    expect((s.output as { error: string }).error).toContain("Activity function 'Flaky' failed: flaky failure 3 of r2");
  });

  it("stops retrying once retryTimeout has passed", async () => {
    const id = await start(fx.base, "Retry", { key: "r3", failures: 10, attempts: 50, first: 150, timeout: 200 });
    const s = await waitFor(fx.base, id);
    const out = s.output as { ok: boolean; ran: number };
    expect(out.ok).toBe(false);
    expect(out.ran).toBeLessThanOrEqual(3);
  });
});

describe("timers and events", () => {
  it("fires a durable timer; currentUtcDateTime follows OrchestratorStarted", async () => {
    const id = await start(fx.base, "Timer", 150);
    const s = await waitFor(fx.base, id);
    expect((s.output as { waited: number }).waited).toBeGreaterThanOrEqual(150);
  });

  it("splits a long timer into sub-timers (maximumShortTimerDuration 2 s, interval 1 s)", async () => {
    const id = await start(fx.base, "LongTimer", 3500);
    const s = await waitFor(fx.base, id);
    expect(s.output as number).toBeGreaterThanOrEqual(3500);
    const h = await status(fx.base, id, "?showHistory=true");
    expect(h.historyEvents!.filter((e) => e.EventType === "TimerFired").length).toBeGreaterThanOrEqual(3);
  });

  it("delivers an external event and shows custom status", async () => {
    const id = await start(fx.base, "Approval");
    const waiting = await waitFor(fx.base, id, (s) => (s.customStatus as { stage?: string } | null)?.stage === "waiting");
    expect(waiting.runtimeStatus).toBe("Running");
    expect((await http(fx.base, "POST", `/runtime/webhooks/durabletask/instances/${id}/raiseEvent/Approval`, { by: "ada" })).status).toBe(202);
    const s = await waitFor(fx.base, id);
    expect(s.output).toBe("approved by ada");
    expect(s.customStatus).toEqual({ stage: "approved" });
  });

  it("keeps events raised before anyone waits for them", async () => {
    const id = await start(fx.base, "EventAfterWork");
    await http(fx.base, "POST", `/runtime/webhooks/durabletask/instances/${id}/raiseEvent/B`, 2);
    await http(fx.base, "POST", `/runtime/webhooks/durabletask/instances/${id}/raiseEvent/A`, 1);
    const s = await waitFor(fx.base, id);
    expect(s.output).toEqual([1, 2]);
  });

  it("loses no event while the orchestration continues as new", async () => {
    const id = await start(fx.base, "Counter", { total: 0, seen: 0, until: 10 });
    for (let i = 1; i <= 10; i++) await http(fx.base, "POST", `/runtime/webhooks/durabletask/instances/${id}/raiseEvent/Add`, i);
    const s = await waitFor(fx.base, id);
    expect(s.output).toEqual({ total: 55, seen: 10, until: 10 });
    const h = await status(fx.base, id, "?showHistory=true");
    expect(h.historyEvents!.filter((e) => e.EventType === "EventRaised").length).toBe(1); // truncated per generation
  });

  // As on Azure for a JavaScript orchestration (see runEpisode in local/host/durable/executor/episode.ts).
  it("drops an event no wait took when the orchestration continues as new", async () => {
    const id = await start(fx.base, "Relay", { gen: 1, waitMs: 1000 });
    await http(fx.base, "POST", `/runtime/webhooks/durabletask/instances/${id}/raiseEvent/X`, 1);
    await http(fx.base, "POST", `/runtime/webhooks/durabletask/instances/${id}/raiseEvent/Go`, true);
    expect((await waitFor(fx.base, id)).output).toBe("timer");
  });

  it("hands an event raised after the one that let it continue to the next generation", async () => {
    const id = await start(fx.base, "Relay", { gen: 1, waitMs: 60_000 });
    await http(fx.base, "POST", `/runtime/webhooks/durabletask/instances/${id}/raiseEvent/Go`, true);
    await http(fx.base, "POST", `/runtime/webhooks/durabletask/instances/${id}/raiseEvent/X`, 2);
    const s = await waitFor(fx.base, id);
    expect(s.output).toBe(2);
    expect(s.input).toEqual({ gen: 2, waitMs: 60_000 });
  });

  it("WhenAny: event against timer", async () => {
    const a = await start(fx.base, "RaceEventTimer", 60_000);
    await waitFor(fx.base, a, (s) => s.runtimeStatus === "Running");
    await http(fx.base, "POST", `/runtime/webhooks/durabletask/instances/${a}/raiseEvent/Go`, "now");
    expect((await waitFor(fx.base, a)).output).toEqual({ winner: "event", value: "now" });
    const b = await start(fx.base, "RaceEventTimer", 100);
    expect((await waitFor(fx.base, b)).output).toEqual({ winner: "timer" });
  });
});

describe("sub-orchestrations, failures, management", () => {
  it("runs sub-orchestrations with and without retry and explicit ids", async () => {
    const id = await start(fx.base, "Parent", undefined, "parent-1");
    const s = await waitFor(fx.base, id);
    expect(s.runtimeStatus).toBe("Completed");
    const out = s.output as { implicit: string[]; explicit: string[]; retried: unknown; failed: string };
    expect(out.implicit).toEqual(["Hello Oslo!"]);
    expect(out.explicit).toEqual(["Hello Rome!"]);
    expect(out.retried).toEqual({ ok: true, attempt: 2 });
    expect(out.failed).toContain("boom from Failing");
    // The child's failure details reach the parent's catch as a TaskFailedError, as on Azure.
    expect((out as { failure?: unknown }).failure).toEqual({ name: "TaskFailedError", errorType: "Error", errorMessage: "boom from Failing" });
    expect((await status(fx.base, "parent-1-child")).runtimeStatus).toBe("Completed");
    // Without an id the child is "<parent execution id>:<event id>", as DurableTask names it.
    const h = await status(fx.base, id, "?showHistory=true");
    const implicitId = String(h.historyEvents!.find((e) => e.EventType === "SubOrchestrationInstanceCompleted")?.InstanceId);
    expect(implicitId).toMatch(/^[0-9a-f]{32}:0$/);
    expect((await status(fx.base, implicitId)).output).toEqual(["Hello Oslo!"]);
  });

  it("fails an orchestration with the error and names an unknown activity", async () => {
    const f = await waitFor(fx.base, await start(fx.base, "Failing", 1));
    expect(f.runtimeStatus).toBe("Failed");
    expect(String(f.output)).toContain("boom from Failing");
    const u = await waitFor(fx.base, await start(fx.base, "CallsUnknown"));
    expect(u.runtimeStatus).toBe("Failed");
    expect(String(u.output)).toContain("'NoSuchActivity' doesn't exist");
  });

  it("detects nondeterminism on replay and names the function and action", async () => {
    const s = await waitFor(fx.base, await start(fx.base, "NonDeterministic"));
    expect(s.runtimeStatus).toBe("Failed");
    expect(String(s.output)).toMatch(/Non-deterministic.*'NonDeterministic'.*CallActivity 'Double'.*CallActivity 'Echo'/);
  });

  it("rejects unknown orchestrators, bad JSON and a second start of a running id", async () => {
    expect((await http(fx.base, "POST", "/runtime/webhooks/durabletask/orchestrators/Nope", "", true)).status).toBe(400);
    expect((await http(fx.base, "POST", "/runtime/webhooks/durabletask/orchestrators/Waiter", "{not json", true)).status).toBe(400);
    await start(fx.base, "Waiter", undefined, "dup-1");
    const again = await http(fx.base, "POST", "/runtime/webhooks/durabletask/orchestrators/Waiter/dup-1", "", true);
    expect(again.status).toBe(409);
    await http(fx.base, "POST", "/runtime/webhooks/durabletask/instances/dup-1/terminate?reason=done");
    await waitFor(fx.base, "dup-1");
    expect(await start(fx.base, "Sequence", ["X"], "dup-1")).toBe("dup-1"); // finished ids can start again
    expect((await waitFor(fx.base, "dup-1")).output).toEqual(["Hello X!"]);
  });

  it("suspends, resumes, terminates and purges", async () => {
    const id = await start(fx.base, "Waiter");
    await waitFor(fx.base, id, (s) => s.runtimeStatus === "Running");
    await http(fx.base, "POST", `/runtime/webhooks/durabletask/instances/${id}/suspend?reason=pause`);
    await waitFor(fx.base, id, (s) => s.runtimeStatus === "Suspended");
    await http(fx.base, "POST", `/runtime/webhooks/durabletask/instances/${id}/raiseEvent/Go`, "held");
    await new Promise((r) => setTimeout(r, 100));
    expect((await status(fx.base, id)).runtimeStatus).toBe("Suspended");
    await http(fx.base, "POST", `/runtime/webhooks/durabletask/instances/${id}/resume?reason=go`);
    expect((await waitFor(fx.base, id)).output).toBe("held");
    expect((await http(fx.base, "POST", `/runtime/webhooks/durabletask/instances/${id}/raiseEvent/Go`, 1)).status).toBe(410);

    const t = await start(fx.base, "Waiter");
    await http(fx.base, "POST", `/runtime/webhooks/durabletask/instances/${t}/terminate?reason=stop`);
    const ts = await waitFor(fx.base, t);
    expect(ts.runtimeStatus).toBe("Terminated");
    expect(ts.output).toBe("stop");
    expect((await http(fx.base, "DELETE", `/runtime/webhooks/durabletask/instances/${t}`)).json).toEqual({ instancesDeleted: 1 });
    expect((await http(fx.base, "GET", `/runtime/webhooks/durabletask/instances/${t}`)).status).toBe(404);
    const running = await start(fx.base, "Waiter");
    expect((await http(fx.base, "DELETE", `/runtime/webhooks/durabletask/instances/${running}`)).status).toBe(409);
  });

  it("queries by status with top and continuation tokens, and purges by filter", async () => {
    const from = new Date(Date.now() - 1000).toISOString();
    for (let i = 0; i < 5; i++) await waitFor(fx.base, await start(fx.base, "Sequence", ["q"], `query-${i}`));
    const first = await http(fx.base, "GET", `/runtime/webhooks/durabletask/instances?runtimeStatus=Completed&createdTimeFrom=${from}&top=2`);
    expect((first.json as unknown[]).length).toBe(2);
    expect(first.headers.get("x-ms-continuation-token")).toBeTruthy();
    expect((await http(fx.base, "GET", "/runtime/webhooks/durabletask/instances?runtimeStatus=Bogus")).status).toBe(400);
    const purge = await http(fx.base, "DELETE", `/runtime/webhooks/durabletask/instances?runtimeStatus=Completed&createdTimeFrom=${from}`);
    expect((purge.json as { instancesDeleted: number }).instancesDeleted).toBeGreaterThanOrEqual(5);
  });

  it("serves the JS DurableClient from an HTTP trigger, with working check-status URLs", async () => {
    const r = await http(fx.base, "POST", "/api/orchestrators/Sequence", ["Client"]);
    expect(r.status).toBe(202);
    const links = r.json as { id: string; statusQueryGetUri: string; sendEventPostUri: string };
    expect(links.statusQueryGetUri.startsWith(fx.base)).toBe(true);
    let s: { runtimeStatus: string; output: unknown };
    do {
      s = (await (await fetch(links.statusQueryGetUri)).json()) as typeof s;
    } while (s.runtimeStatus !== "Completed" && (await new Promise((x) => setTimeout(x, 20))) === undefined);
    expect(s.output).toEqual(["Hello Client!"]);
  });
});
