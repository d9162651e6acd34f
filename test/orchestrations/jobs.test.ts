// The jobs orchestrators replayed with stubbed activities (jobsHarness.ts): the dispatcher
// drives the pure dispatcher from external events, keeps the cap, carries its state and any
// unprocessed events across continueAsNew, and cancels on stop; the job orchestration hands the
// job to the agent and ends it exactly once: as reported, canceled, or "agent lost" (backstop).
import { describe, expect, test } from "vitest";
import type { DispatcherCommand } from "../../shared/jobs/dispatcher";
import { dispatcherOrchestrator } from "../../orchestrations/jobs/dispatcherOrchestrator";
import { jobOrchestrator } from "../../orchestrations/jobs/jobOrchestrator";
import { ACTIVITIES, DISPATCHER_EVENT, JOB_EVENT, type ApplyInput, type ReconcileInput, type FinishInput, type ReconcileResult } from "../../orchestrations/jobs/types";
import { Replay } from "./jobsHarness";

const A = ACTIVITIES;
type Live = Extract<ReconcileResult, { exists: true }>;

function dispatcher(opts: { cap?: { vCpus: number; jobsPerCore: number; gpus?: number }; running?: boolean; jobs?: Live["jobs"]; eventsPerGeneration?: number } = {}) {
  const cfg = { vCpus: opts.cap?.vCpus ?? 2, jobsPerCore: opts.cap?.jobsPerCore ?? 2, gpus: opts.cap?.gpus ?? 0 };
  const rec: Live = { exists: true, config: cfg, running: opts.running ?? true, deleting: false, jobs: opts.jobs ?? [] };
  // The spill store and the job records as the real activities see them (the dispatcher's
  // window is 64; queues deeper than that go through these rows).
  const rows = new Map<number, { jobId: string; gpus: number }>();
  const canceled = new Set<string>();
  const r = new Replay(dispatcherOrchestrator, { instance: "ci-1", ...(opts.eventsPerGeneration ? { eventsPerGeneration: opts.eventsPerGeneration } : {}) }, {
    [A.reconcile]: (i: unknown) => {
      const input = i as ReconcileInput;
      const spilled = new Set([...rows.values()].map((x) => x.jobId));
      const held = new Set(input.queued ?? []);
      const seqs = [...rows.keys()];
      const next = Math.max(input.next ?? 0, ...seqs.map((q) => q + 1));
      const jobs = rec.jobs.filter((j) => j.state !== "Queued" || (input.running ?? []).includes(j.id) || (held.has(j.id) ? j.cancelRequested : !spilled.has(j.id)));
      return { ...rec, jobs, spill: { from: seqs.length ? Math.min(...seqs) : next, next } };
    },
    [A.apply]: (i: unknown) => {
      const input = i as ApplyInput;
      for (const c of input.commands) {
        if (c.type === "Spill") rows.set(c.seq, { jobId: c.jobId, gpus: c.gpus });
        if (c.type === "MarkCanceled") canceled.add(c.jobId);
        if (c.type === "CancelSpilled")
          for (let q = c.from; q < c.until; q++) {
            if (rows.has(q)) canceled.add(rows.get(q)!.jobId);
            rows.delete(q);
          }
      }
      if (input.trim) for (let q = input.trim.from; q < input.trim.until; q++) rows.delete(q);
      const req = input.refill;
      if (!req) return null;
      const got = [...rows.entries()].filter(([q]) => q >= req.from && q < req.until).sort((a, b) => a[0] - b[0]).slice(0, req.max);
      return {
        refill: {
          from: got.length < req.max ? req.until : got.at(-1)![0] + 1,
          jobs: got.filter(([, x]) => !canceled.has(x.jobId)).map(([, x]) => ({ id: x.jobId, gpus: x.gpus, cancelRequested: false })),
        },
      };
    },
  });
  const commands = () => r.callsTo(A.apply).flatMap((i) => (i as ApplyInput).commands);
  const started = () => commands().filter((c): c is Extract<DispatcherCommand, { type: "StartJob" }> => c.type === "StartJob").map((c) => c.jobId);
  const lastCounts = () => (r.callsTo(A.apply).at(-1) as ApplyInput).counts;
  return { r, rec, rows, commands, started, lastCounts };
}
const submitted = (jobId: string, gpus = 0) => ({ type: "JobSubmitted", jobId, gpus });
const finished = (jobId: string) => ({ type: "JobFinished", jobId, state: "Completed" });

describe("jobDispatcher", () => {
  test("starts up to cap = jobsPerCore × vCPUs, FIFO; a finish frees a slot", async () => {
    const d = dispatcher();
    await d.r.settle();
    for (let i = 0; i < 6; i++) d.r.raise(DISPATCHER_EVENT, submitted(`j${i}`));
    await d.r.settle();
    expect(d.started()).toEqual(["j0", "j1", "j2", "j3"]);
    expect(d.lastCounts()).toEqual({ queued: 2, running: 4, cap: 4 });
    expect(d.commands().filter((c) => c.type === "SetBusy")).toEqual([{ type: "SetBusy", busy: true }]);
    d.r.raise(DISPATCHER_EVENT, finished("j1"));
    d.r.raise(DISPATCHER_EVENT, finished("j1")); // at-least-once delivery: a duplicate changes nothing
    await d.r.settle();
    expect(d.started()).toEqual(["j0", "j1", "j2", "j3", "j4"]);
    expect(d.lastCounts()).toEqual({ queued: 1, running: 4, cap: 4 });
  });

  test("no event is lost across continueAsNew, even when a burst lands in one episode", async () => {
    const d = dispatcher({ cap: { vCpus: 64, jobsPerCore: 2 }, eventsPerGeneration: 3 });
    await d.r.settle();
    for (let i = 0; i < 25; i++) d.r.raise(DISPATCHER_EVENT, submitted(`b${i}`));
    await d.r.settle();
    expect(d.r.generations).toBeGreaterThan(5);
    expect(d.started()).toEqual(Array.from({ length: 25 }, (_, i) => `b${i}`));
    for (let i = 0; i < 25; i++) d.r.raise(DISPATCHER_EVENT, finished(`b${i}`));
    await d.r.settle();
    expect(d.lastCounts()).toEqual({ queued: 0, running: 0, cap: 128 });
    expect(d.commands().filter((c) => c.type === "SetBusy").at(-1)).toEqual({ type: "SetBusy", busy: false });
  });

  test("a burst landing in one episode is stepped together: a few applies, not one per event, FIFO", async () => {
    const d = dispatcher({ cap: { vCpus: 64, jobsPerCore: 2 } });
    await d.r.settle();
    const before = d.r.callsTo(A.apply).length;
    for (let i = 0; i < 50; i++) d.r.raise(DISPATCHER_EVENT, submitted(`b${i}`));
    await d.r.settle();
    expect(d.started()).toEqual(Array.from({ length: 50 }, (_, i) => `b${i}`));
    expect(d.r.callsTo(A.apply).length - before).toBeLessThanOrEqual(4);
    expect(d.lastCounts()).toEqual({ queued: 0, running: 50, cap: 128 });
  });

  test("events arriving while an apply runs are all taken by the next apply, none lost or doubled", async () => {
    const d = dispatcher({ cap: { vCpus: 64, jobsPerCore: 2 } });
    await d.r.settle();
    d.r.holdActivities = true;
    d.r.raise(DISPATCHER_EVENT, submitted("s0"));
    await d.r.episode(); // s0's apply is now running
    for (let i = 1; i < 10; i++) d.r.raise(DISPATCHER_EVENT, submitted(`s${i}`));
    await d.r.episode();
    for (let i = 10; i < 15; i++) d.r.raise(DISPATCHER_EVENT, submitted(`s${i}`));
    await d.r.episode();
    const before = d.r.callsTo(A.apply).length;
    d.r.holdActivities = false;
    d.r.release();
    await d.r.settle();
    expect(d.started()).toEqual(Array.from({ length: 15 }, (_, i) => `s${i}`));
    expect(d.r.callsTo(A.apply).length - before).toBeLessThanOrEqual(2);
  });

  test("random interleavings of events, apply results and continueAsNew: FIFO, each job started once, cap kept", async () => {
    let spilledMax = 0; // queues deeper than the window of 64 go through the spill rows
    for (let seed = 1; seed <= 30; seed++) {
      let x = seed * 7919;
      const rnd = () => ((x = (x * 1103515245 + 12345) % 2147483648) / 2147483648);
      const d = dispatcher({ eventsPerGeneration: 2 + (seed % 6) });
      await d.r.settle();
      let next = 0;
      const finished = new Set<string>();
      const finishSome = (k: number) => {
        for (const id of d.started()) {
          if (k <= 0) break;
          if (finished.has(id)) continue;
          finished.add(id);
          d.r.raise(DISPATCHER_EVENT, { type: "JobFinished", jobId: id, state: "Completed" });
          k--;
        }
      };
      for (let i = 0; i < 120; i++) {
        const r = rnd();
        if (r < 0.35) for (let k = 1 + Math.floor(rnd() * 4); k > 0; k--) d.r.raise(DISPATCHER_EVENT, submitted(`n${next++}`));
        else if (r < 0.6) finishSome(1 + Math.floor(rnd() * 3));
        else if (r < 0.75) d.r.holdActivities = !d.r.holdActivities;
        else if (r < 0.85) d.r.release();
        // The job table as the periodic reconcile would read it: every raised submission has its record.
        const running = new Set(d.started());
        d.rec.jobs = Array.from({ length: next }, (_, k) => `n${k}`)
          .filter((id) => !finished.has(id))
          .map((id) => ({ id, gpus: 0, state: running.has(id) ? ("Running" as const) : ("Queued" as const), cancelRequested: false }));
        if (d.r.inbox.length) await d.r.episode();
        spilledMax = Math.max(spilledMax, d.rows.size);
        expect(d.started().length, `seed ${seed}: cap`).toBeLessThanOrEqual(4 + finished.size);
      }
      d.r.holdActivities = false;
      d.r.release();
      await d.r.settle();
      for (let round = 0; round < 100 && finished.size < next; round++) {
        finishSome(next);
        await d.r.settle();
      }
      expect(d.started(), `seed ${seed}`).toEqual(Array.from({ length: next }, (_, i) => `n${i}`));
      expect(d.lastCounts(), `seed ${seed}`).toEqual({ queued: 0, running: 0, cap: 4 });
      expect(d.rows.size, `seed ${seed}: read-back rows are deleted`).toBe(0);
    }
    expect(spilledMax).toBeGreaterThan(20);
  });

  test("a new dispatcher adopts Queued jobs from the table (an event lost before it started)", async () => {
    const d = dispatcher({ jobs: [{ id: "old1", gpus: 0, state: "Queued", cancelRequested: false }, { id: "old2", gpus: 0, state: "Queued", cancelRequested: true }] });
    await d.r.settle();
    expect(d.started()).toEqual(["old1"]);
    expect(d.commands()).toContainEqual({ type: "MarkCanceled", jobId: "old2" });
  });

  test("jobs for a stopped instance stay queued; a stop cancels running jobs; Running starts the queue", async () => {
    const d = dispatcher({ running: false });
    await d.r.settle();
    d.r.raise(DISPATCHER_EVENT, submitted("s1"));
    await d.r.settle();
    expect(d.started()).toEqual([]);
    d.rec.running = true;
    d.rec.jobs = [{ id: "s1", gpus: 0, state: "Queued", cancelRequested: false }];
    d.r.raise(DISPATCHER_EVENT, { type: "InstanceStateChanged", state: "Running" });
    await d.r.settle();
    expect(d.started()).toEqual(["s1"]);
    d.rec.jobs = [{ id: "s1", gpus: 0, state: "Running", cancelRequested: false }];
    d.r.raise(DISPATCHER_EVENT, { type: "InstanceStateChanged", state: "Stopping" });
    d.r.raise(DISPATCHER_EVENT, submitted("s2"));
    await d.r.settle();
    expect(d.commands()).toContainEqual({ type: "CancelJob", jobId: "s1", reason: "instance stopped" });
    expect(d.started()).toEqual(["s1"]);
  });

  test("GPU jobs start only when enough GPUs are free, with those indices", async () => {
    const d = dispatcher({ cap: { vCpus: 6, jobsPerCore: 2, gpus: 2 } });
    await d.r.settle();
    d.r.raise(DISPATCHER_EVENT, submitted("g1", 1));
    d.r.raise(DISPATCHER_EVENT, submitted("g2", 2));
    d.r.raise(DISPATCHER_EVENT, submitted("c1", 0));
    await d.r.settle();
    expect(d.commands().filter((c) => c.type === "StartJob")).toEqual([
      { type: "StartJob", jobId: "g1", gpuIndices: [0] },
      { type: "StartJob", jobId: "c1", gpuIndices: [] },
    ]);
    d.r.raise(DISPATCHER_EVENT, finished("g1"));
    await d.r.settle();
    expect(d.commands().filter((c) => c.type === "StartJob").at(-1)).toEqual({ type: "StartJob", jobId: "g2", gpuIndices: [0, 1] });
  });

  test("a deleted instance's dispatcher cancels everything and ends after the last running job", async () => {
    const d = dispatcher();
    await d.r.settle();
    d.r.raise(DISPATCHER_EVENT, submitted("d1"));
    for (let i = 2; i <= 6; i++) d.r.raise(DISPATCHER_EVENT, submitted(`d${i}`));
    await d.r.settle();
    d.rec.deleting = true;
    d.rec.jobs = [1, 2, 3, 4, 5, 6].map((i) => ({ id: `d${i}`, gpus: 0, state: i <= 4 ? ("Running" as const) : ("Queued" as const), cancelRequested: false }));
    d.r.raise(DISPATCHER_EVENT, { type: "InstanceStateChanged", state: "Deleting" });
    await d.r.settle();
    expect(d.commands().filter((c) => c.type === "CancelJob").map((c) => c.jobId).sort()).toEqual(["d1", "d2", "d3", "d4"]);
    expect(d.commands().filter((c) => c.type === "MarkCanceled").map((c) => c.jobId).sort()).toEqual(["d5", "d6"]);
    for (let i = 1; i <= 4; i++) d.r.raise(DISPATCHER_EVENT, finished(`d${i}`));
    await d.r.settle();
    expect(d.r.finished?.status).toBe("Completed");
  });
});

const LIVE = { heartbeatMs: 1000, heartbeatGraceMs: 4000, pickupGraceMs: 5000, cancelGraceMs: 3000, timeoutMarginMs: 10_000 };

/** The job orchestration with stubbed activities; `record` is what checkAgent reads (the report route writes it). */
function job(start: unknown = { started: true, timeoutMinutes: 5, liveness: LIVE }) {
  const record: { state: string; claimedAt?: string; heartbeatAt?: string } = { state: "Starting", claimedAt: "2025-01-06T08:00:00.000Z" };
  const r = new Replay(jobOrchestrator, { instance: "ci-1", jobId: "j1", gpuIndices: [], liveness: LIVE }, {
    [A.startJob]: () => {
      if (start instanceof Error) throw start;
      return start;
    },
    [A.cancelOnAgent]: () => null,
    [A.checkAgent]: () => ({ ...record }),
    [A.finish]: () => null,
  });
  return { r, record };
}
const finishOf = (r: Replay) => r.callsTo(A.finish) as FinishInput[];
const exited = (outcome: Record<string, unknown>) => ({ type: "Exited", outcome });

describe("runJob", () => {
  test("hands the job to the agent and records the end it reports, once", async () => {
    const { r, record } = job();
    await r.settle(false);
    expect(r.callsTo(A.startJob)).toHaveLength(1);
    Object.assign(record, { state: "Running", heartbeatAt: "2025-01-06T08:00:00.000Z" });
    r.raise(JOB_EVENT, exited({ state: "Completed", exitCode: 0, startTime: "2025-01-06T08:00:00.100Z", endTime: "2025-01-06T08:00:00.500Z" }));
    r.raise(JOB_EVENT, exited({ state: "Failed", exitCode: 9 })); // a repeated or late report changes nothing
    await r.settle(false);
    expect(r.finished?.status).toBe("Completed");
    expect(finishOf(r)).toHaveLength(1);
    expect(finishOf(r)[0]!.outcome).toEqual({ state: "Completed", exitCode: 0, startTime: "2025-01-06T08:00:00.100Z", endTime: "2025-01-06T08:00:00.500Z" });
  });

  test("a reported failure keeps its exit code", async () => {
    const { r } = job();
    await r.settle(false);
    r.raise(JOB_EVENT, exited({ state: "Failed", exitCode: 3, error: { code: "JobFailed", message: "the command exited with code 3" } }));
    await r.settle(false);
    expect(finishOf(r)[0]!.outcome).toMatchObject({ state: "Failed", exitCode: 3, error: { code: "JobFailed" } });
  });

  test("a cancel is sent to the agent, and the end it reports is recorded Canceled with the reason", async () => {
    const { r, record } = job();
    await r.settle(false);
    Object.assign(record, { state: "Running", heartbeatAt: "2025-01-06T08:00:00.000Z" });
    r.raise(JOB_EVENT, { type: "Cancel", reason: "canceled by request" });
    await r.settle(false);
    expect(r.callsTo(A.cancelOnAgent)).toEqual([{ instance: "ci-1", jobId: "j1", reason: "canceled by request" }]);
    expect(finishOf(r)).toHaveLength(0); // waits for the agent: the slot stays taken until the process is gone
    r.raise(JOB_EVENT, exited({ state: "Failed", exitCode: 143 }));
    await r.settle(false);
    expect(finishOf(r)).toHaveLength(1);
    expect(finishOf(r)[0]!.outcome).toMatchObject({ state: "Canceled", exitCode: 143, error: { code: "Canceled", message: "canceled by request" } });
  });

  test("a cancel the agent never answers is recorded after the grace period", async () => {
    const { r, record } = job();
    await r.settle(false);
    Object.assign(record, { state: "Running", heartbeatAt: "2025-01-06T08:00:00.000Z" });
    r.raise(JOB_EVENT, { type: "Cancel", reason: "canceled by request" });
    await r.settle(true);
    expect(finishOf(r)).toHaveLength(1);
    expect(finishOf(r)[0]!.outcome).toMatchObject({ state: "Canceled", error: { message: "canceled by request" } });
  });

  test("a stop's final cancel ends it at once with the stop's reason (the VM goes away with the job)", async () => {
    const { r } = job();
    await r.settle(false);
    r.raise(JOB_EVENT, { type: "Cancel", reason: "instance stopped", final: true });
    await r.settle(false);
    expect(r.callsTo(A.cancelOnAgent)).toHaveLength(0);
    expect(finishOf(r)[0]!.outcome).toMatchObject({ state: "Canceled", error: { message: "instance stopped" } });
  });

  test("an agent that stops sending heartbeats: Failed 'agent lost'", async () => {
    const { r, record } = job();
    Object.assign(record, { state: "Running", heartbeatAt: "2025-01-06T08:00:00.000Z" });
    await r.settle(true);
    expect(finishOf(r)).toHaveLength(1);
    expect(finishOf(r)[0]!.outcome).toMatchObject({ state: "Failed", error: { code: "AgentLost" } });
    expect(finishOf(r)[0]!.outcome.error!.message).toContain("heartbeat");
  });

  test("a job the agent never takes: Failed 'agent lost'", async () => {
    const { r } = job();
    await r.settle(true);
    expect(finishOf(r)[0]!.outcome).toMatchObject({ state: "Failed", error: { code: "AgentLost" } });
    expect(finishOf(r)[0]!.outcome.error!.message).toContain("did not take");
  });

  test("an event raised while the backstop check runs is not lost", async () => {
    const { r, record } = job();
    Object.assign(record, { state: "Running", heartbeatAt: "2025-01-06T08:00:00.000Z" });
    await r.settle(false);
    r.holdActivities = true;
    const t = r.timers.shift()!;
    r.now = Math.max(r.now, Date.parse(t.fireAt));
    r.inbox.push({ kind: "timerFired", exec: t.exec, id: t.id, fireAt: t.fireAt });
    await r.episode(); // the timer fired: the check activity is running now
    expect(r.heldResults).toHaveLength(1);
    r.raise(JOB_EVENT, exited({ state: "Completed", exitCode: 0 }));
    await r.episode();
    r.holdActivities = false;
    r.release();
    await r.settle(false);
    expect(finishOf(r)).toHaveLength(1);
    expect(finishOf(r)[0]!.outcome).toMatchObject({ state: "Completed" });
  });

  test("a job canceled or ended before it started is finished without going to the agent", async () => {
    const { r } = job({ started: false });
    await r.settle(true);
    expect(r.callsTo(A.checkAgent)).toHaveLength(0);
    expect(finishOf(r)[0]).toMatchObject({ outcome: { state: "Canceled" } });
  });

  test("a hand-over that keeps failing ends Failed (never stuck)", async () => {
    const { r } = job(new Error("storage is down"));
    await r.settle(true);
    expect(r.callsTo(A.startJob).length).toBeGreaterThan(1); // retried with backoff
    expect(finishOf(r)[0]).toMatchObject({ outcome: { state: "Failed", error: { code: "StartFailed" } } });
  });
});
