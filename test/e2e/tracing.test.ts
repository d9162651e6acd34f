// Traces end to end: the app in the local host exports OTLP to a receiver in this process. One
// create is one trace — the HTTP request, the provisioning orchestration (one span, however
// many times it replayed), its activities, and under them the Azure SDK's ARM calls (one span
// per request) — in that order, with no span reported twice. A job's trace also holds the job
// queue entity's operations.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startOtlpReceiver, type OtlpReceiver, type ReceivedSpan } from "../support/otlp";
import { eventually, startStack, type Stack } from "../support/stack";

let stack: Stack;
let otlp: OtlpReceiver;
beforeAll(async () => {
  otlp = await startOtlpReceiver();
  stack = await startStack({ env: { OTEL_EXPORTER_OTLP_ENDPOINT: otlp.url, OTEL_BSP_SCHEDULE_DELAY: "100", OTEL_METRIC_EXPORT_INTERVAL: "500", AUTOSTOP_SCHEDULE: "*/2 * * * * *" } });
}, 120_000);
afterAll(async () => {
  await stack?.stop();
  await otlp?.stop();
});

const urlOf = (s: ReceivedSpan) => String(s.attributes["url.full"] ?? s.attributes["http.url"] ?? "");
const ns = (s: ReceivedSpan, end = false) => BigInt(end ? s.endTimeUnixNano : s.startTimeUnixNano);

describe("traces", () => {
  it("one create = one trace: HTTP → orchestration → activities → ARM calls, in order, no duplicates", async () => {
    const traceId = "4bf92f3577b34da6a3ce929d0e0e4736";
    const callerSpan = "00f067aa0ba902b7";
    const res = await stack.api("PUT", "/api/instances/tr-1", { as: "alice", body: { vmSize: "Standard_D2s_v5" }, headers: { traceparent: `00-${traceId}-${callerSpan}-01` } });
    expect(res.status, res.text).toBe(201);
    await eventually(async () => (await stack.api<{ state: string }>("GET", "/api/instances/tr-1", { as: "alice" })).body.state, (s) => s === "Running", 90_000, 250);
    const trace = () => otlp.spans.filter((s) => s.traceId === traceId);
    await eventually(async () => trace().filter((s) => s.name === "orchestration provisionInstance").length, (n) => n > 0, 30_000, 100);

    const spans = trace();
    // No span twice: not across the orchestration's replays, not across export batches.
    expect(new Set(spans.map((s) => s.spanId)).size).toBe(spans.length);
    const http = spans.filter((s) => s.name === "PUT /api/instances/{name}");
    expect(http).toHaveLength(1);
    expect(http[0]!.parentSpanId).not.toBeUndefined();
    const orchestration = spans.filter((s) => s.name === "orchestration provisionInstance");
    expect(orchestration).toHaveLength(1);
    expect(orchestration[0]!.parentSpanId).toBe(http[0]!.spanId);
    const activities = spans.filter((s) => s.name.startsWith("activity ") && s.parentSpanId === orchestration[0]!.spanId);
    expect(activities.map((s) => s.name)).toEqual(expect.arrayContaining(["activity instanceEnsureNsg", "activity instanceStartCreateVm", "activity instanceVmStatus", "activity instanceProgress"]));
    // Azure SDK spans (ARM) hang under the activities, directly or through the SDK's HTTP span.
    const byId = new Map(spans.map((s) => [s.spanId, s]));
    const activityOf = (s: ReceivedSpan): ReceivedSpan | undefined => {
      for (let p = s.parentSpanId && byId.get(s.parentSpanId); p; p = p.parentSpanId ? byId.get(p.parentSpanId) : undefined) if (p.name.startsWith("activity ")) return p;
      return undefined;
    };
    const arm = spans.filter((s) => /^HTTP (PUT|GET|POST|DELETE)$/.test(s.name) && urlOf(s).includes("/providers/Microsoft."));
    expect(arm.length).toBeGreaterThan(0);
    // The request's own checks (size catalog, quota) read ARM under the HTTP span; everything
    // the orchestration does is under one of its activities.
    const underHttp = (s: ReceivedSpan) => {
      for (let p = s.parentSpanId && byId.get(s.parentSpanId); p; p = p.parentSpanId ? byId.get(p.parentSpanId) : undefined) if (p === http[0]) return true;
      return false;
    };
    for (const s of arm) {
      const a = activityOf(s);
      if (a) expect(underHttp(a)).toBe(true);
      else expect(underHttp(s), `${s.name} ${urlOf(s)}`).toBe(true);
    }
    // One span per request the Azure SDK sends, directly under ours: no client-method span
    // ("VirtualMachines.…", "TableClient.…") with the request under it.
    const sdkSpans = spans.filter((s) => s.attributes["az.namespace"] !== undefined || /^HTTP [A-Z]+$/.test(s.name));
    expect(sdkSpans.filter((s) => !/^HTTP [A-Z]+$/.test(s.name)).map((s) => s.name)).toEqual([]);
    expect(sdkSpans.filter((s) => sdkSpans.some((p) => p.spanId === s.parentSpanId)).map((s) => s.name)).toEqual([]);
    const fromActivities = arm.filter((s) => activityOf(s));
    expect(fromActivities.map(urlOf).join("\n")).toMatch(/virtualMachines\/ci-tr-1-vm/);
    // Order in time: the request starts the orchestration, which runs the activities, which call ARM.
    expect(ns(orchestration[0]!) / 1_000_000n).toBeGreaterThanOrEqual(ns(http[0]!) / 1_000_000n);
    for (const a of activities) {
      expect(ns(a) / 1_000_000n).toBeGreaterThanOrEqual(ns(orchestration[0]!) / 1_000_000n);
      // The orchestration's times come from its history, in whole milliseconds.
      expect(ns(a, true) / 1_000_000n).toBeLessThanOrEqual(ns(orchestration[0]!, true) / 1_000_000n);
    }
    for (const s of fromActivities) expect(ns(s)).toBeGreaterThanOrEqual(ns(activityOf(s)!));
    // Nothing outside a unit of work is exported (locally: the durable engine's own storage calls).
    expect(otlp.spans.filter((s) => !s.parentSpanId).map((s) => s.name)).toEqual([]);
    // The activities ran as one orchestration run: every activity span is under the one orchestration span.
    expect(spans.filter((s) => s.name.startsWith("activity ")).every((s) => s.parentSpanId === orchestration[0]!.spanId)).toBe(true);
  }, 180_000);

  it("a job's life is one trace: the submission, its orchestration, and the agent's reports from the VM", async () => {
    const traceId = "5bf92f3577b34da6a3ce929d0e0e4737";
    const res = await stack.api<{ id: string }>("POST", "/api/instances/tr-1/jobs", { as: "alice", body: { command: "echo traced" }, headers: { traceparent: `00-${traceId}-10f067aa0ba902b7-01` } });
    expect(res.status, res.text).toBe(202);
    await eventually(async () => (await stack.api<{ state: string }>("GET", `/api/jobs/${res.body.id}`, { as: "alice" })).body.state, (s) => s === "Completed", 60_000, 200);
    const trace = () => otlp.spans.filter((s) => s.traceId === traceId);
    await eventually(async () => trace().filter((s) => s.name === "orchestration runJob").length, (n) => n === 1, 30_000, 100);
    const spans = trace();
    expect(new Set(spans.map((s) => s.spanId)).size).toBe(spans.length);
    const startJob = spans.filter((s) => s.name === "activity jobsHandToAgent");
    expect(startJob).toHaveLength(1);
    // The agent sent back the context it got with the job: its reports are in the job's trace
    // (under the host's invocation span, whose parent is the activity that handed the job over).
    const reports = spans.filter((s) => s.name === "POST /api/agent/jobs/{id}/reports");
    expect(reports.length).toBeGreaterThanOrEqual(2); // started, exited
    for (const r of reports) expect(ns(r)).toBeGreaterThan(ns(startJob[0]!));
    expect(spans.filter((s) => s.name === "POST /api/instances/{name}/jobs")).toHaveLength(1);

    // The job queue's entity operations are in the trace, under the job's orchestration: the
    // step that queued the job before the activity that applied it and handed the job over, and
    // the step that freed its slot after the finish. Each step is followed by one apply, so as
    // many of each: an operation reported twice (a re-run batch) would show as one step too many.
    const orchestration = spans.filter((s) => s.name === "orchestration runJob")[0]!;
    const under = (name: string) => spans.filter((s) => s.name === name && s.parentSpanId === orchestration.spanId).sort((a, b) => Number(ns(a) - ns(b)));
    const steps = under("entity jobqueue.step");
    const applies = under("activity jobsApplyDispatcherCommands");
    const finish = under("activity jobsFinish");
    expect(steps.length).toBeGreaterThanOrEqual(2); // submitted, finished
    expect(steps.length).toBe(applies.length);
    expect(finish).toHaveLength(1);
    for (const s of steps) expect(s.attributes).toMatchObject({ "durabletask.type": "entity", "durabletask.task.instance_id": "@jobqueue@tr-1", "durabletask.entity.operation": "step" });
    const ms = (s: ReceivedSpan, end = false) => ns(s, end) / 1_000_000n;
    expect(ms(steps[0]!)).toBeGreaterThanOrEqual(ms(orchestration));
    expect(ms(steps[0]!, true)).toBeLessThanOrEqual(ms(applies[0]!));
    expect(ms(applies[0]!, true)).toBeLessThanOrEqual(ms(startJob[0]!));
    expect(ms(steps.at(-1)!)).toBeGreaterThanOrEqual(ms(finish[0]!, true));
    expect(ms(steps.at(-1)!, true)).toBeLessThanOrEqual(ms(orchestration, true));
    // Every entity span of the trace is one of these (no stray parent, nothing else reported).
    expect(spans.filter((s) => s.name.startsWith("entity ")).map((s) => s.spanId).sort()).toEqual(steps.map((s) => s.spanId).sort());
  }, 120_000);

  it("metrics: operation durations, submit→start, jobs per instance, ARM 429s and retries, instances by state", async () => {
    // The next two ARM requests are throttled (429, Retry-After 1 s); the SDK retries them.
    stack.setCloudConfig({ faults: { next429: 2, retryAfterSeconds: 1 } });
    expect((await stack.api("POST", "/api/instances/tr-1/stop", { as: "alice" })).status).toBe(202);
    await eventually(async () => (await stack.api<{ state: string }>("GET", "/api/instances/tr-1", { as: "alice" })).body.state, (s) => s === "Stopped", 60_000, 250);
    const total = (name: string, where: (a: Record<string, unknown>) => boolean = () => true) =>
      otlp.points(name).filter((p) => where(p.attributes)).reduce((n, p) => n + (p.count ?? p.value ?? 0), 0);
    await eventually(async () => total("ci.operation.duration", (a) => a["ci.operation"] === "stop"), (n) => n >= 1, 30_000, 200);
    expect(total("ci.operation.duration", (a) => a["ci.operation"] === "create" && a["ci.outcome"] === "Succeeded")).toBe(1);
    expect(total("ci.operation.duration", (a) => a["ci.operation"] === "stop" && a["ci.outcome"] === "Succeeded")).toBe(1);
    expect(total("ci.jobs.submit_to_start", (a) => a["ci.instance"] === "tr-1")).toBe(1);
    // The job ended and the stop emptied the queue: the gauges say 0 for tr-1.
    expect(otlp.points("ci.jobs.running").filter((p) => p.attributes["ci.instance"] === "tr-1").map((p) => p.value)).toEqual([0]);
    expect(otlp.points("ci.jobs.queued").filter((p) => p.attributes["ci.instance"] === "tr-1").map((p) => p.value)).toEqual([0]);
    expect(total("ci.arm.throttled")).toBe(2);
    expect(total("ci.arm.retries")).toBeGreaterThanOrEqual(2);
    expect(total("ci.arm.requests", (a) => a["http.response.status_code"] === 429)).toBe(2);
    expect(total("ci.arm.requests", (a) => a["http.response.status_code"] === 200)).toBeGreaterThan(0);
    // The auto-stop tick counts instances by state: tr-1 is Stopped, nothing is Running.
    await eventually(async () => otlp.points("ci.instances").find((p) => p.attributes["ci.instance.state"] === "Stopped")?.value, (v) => v === 1, 30_000, 200);
    expect(otlp.points("ci.instances").find((p) => p.attributes["ci.instance.state"] === "Running")?.value).toBe(0);
  }, 120_000);
});
