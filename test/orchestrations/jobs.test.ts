// The job orchestration replayed with stubbed activities and entity answers (jobsHarness.ts): it
// queues on the instance's job-queue entity and applies what the entity answers, hands the job
// to the agent when granted a slot, and ends it exactly once: as reported, canceled, or
// "agent lost" (backstop); then it frees the slot.
import { describe, expect, test } from "vitest";
import { jobOrchestrator } from "../../orchestrations/jobs/jobOrchestrator";
import { ACTIVITIES, JOB_EVENT, type FinishInput } from "../../orchestrations/jobs/types";
import { Replay } from "./jobsHarness";

const A = ACTIVITIES;
const ANSWER = { commands: [], counts: { queued: 0, running: 0, cap: 4 } };

const LIVE = { heartbeatMs: 1000, heartbeatGraceMs: 4000, pickupGraceMs: 5000, cancelGraceMs: 3000, timeoutMarginMs: 10_000 };

/** The job orchestration with stubbed activities; `record` is what checkAgent reads (the report route writes it). */
function job(start: unknown = { started: true, timeoutMinutes: 5, liveness: LIVE }) {
  const record: { state: string; claimedAt?: string; pullingAt?: string; heartbeatAt?: string; reported?: unknown } = { state: "Starting", claimedAt: "2025-01-06T08:00:00.000Z" };
  const r = new Replay(jobOrchestrator, { instance: "ci-1", jobId: "j1", gpuIndices: [], liveness: LIVE }, {
    [A.startJob]: () => {
      if (start instanceof Error) throw start;
      return start;
    },
    [A.cancelOnAgent]: () => null,
    [A.checkAgent]: () => ({ ...record }),
    [A.finish]: () => null,
    [A.apply]: () => null,
  }, { step: () => ANSWER });
  return { r, record };
}

/** A job that goes through the queue entity first (as every new job does). */
function queuedJob(entity: { step?: (i: unknown) => unknown } = {}) {
  const r = new Replay(jobOrchestrator, { instance: "ci-1", jobId: "j1", gpus: 1 }, {
    [A.queueConfig]: () => ({ exists: true, config: { vCpus: 2, jobsPerCore: 2, gpus: 1 }, running: true, deleting: false }),
    [A.apply]: () => null,
    [A.startJob]: () => ({ started: true, timeoutMinutes: 5, liveness: LIVE }),
    [A.cancelOnAgent]: () => null,
    [A.checkAgent]: () => ({ state: "Running", heartbeatAt: "2025-01-06T08:00:00.000Z" }),
    [A.finish]: () => null,
  }, { step: entity.step ?? (() => ANSWER), init: () => null });
  return r;
}
const steps = (r: Replay) => r.entityCalls.filter(([op]) => op === "step").map(([, i]) => (i as { events: { type: string }[] }).events.map((e) => e.type));

describe("runJob: the queue entity", () => {
  test("queues the job on the instance's entity, runs it when the slot is granted, frees the slot after", async () => {
    const r = queuedJob();
    await r.settle(false);
    expect(steps(r)).toEqual([["JobSubmitted"]]);
    expect(r.callsTo(A.startJob)).toHaveLength(0); // waits for its slot
    r.raise(JOB_EVENT, { type: "Start", gpuIndices: [0] });
    await r.settle(false);
    expect(r.callsTo(A.startJob)).toMatchObject([{ jobId: "j1", gpuIndices: [0] }]);
    r.raise(JOB_EVENT, exited({ state: "Completed", exitCode: 0 }));
    await r.settle(false);
    expect(finishOf(r)).toHaveLength(1);
    expect(steps(r)).toEqual([["JobSubmitted"], ["JobFinished"]]);
    // The commands the entity answered are applied by the caller (entities do no I/O).
    expect(r.callsTo(A.apply)).toHaveLength(2);
  });

  test("a new entity is initialised from the instance's record, then asked again", async () => {
    let n = 0;
    const r = queuedJob({ step: () => (n++ === 0 ? { uninitialized: true } : ANSWER) });
    await r.settle(false);
    expect(r.callsTo(A.queueConfig)).toHaveLength(1);
    expect(r.entityCalls.map(([op]) => op)).toEqual(["step", "init", "step"]);
    expect(r.entityCalls[1]![1]).toEqual({ config: { vCpus: 2, jobsPerCore: 2, gpus: 1 }, running: true });
  });

  test("a cancel while queued asks the queue; once dropped the job ends without running or finishing again", async () => {
    const r = queuedJob();
    await r.settle(false);
    r.raise(JOB_EVENT, { type: "Cancel", reason: "canceled by request" });
    await r.settle(false);
    expect(steps(r)).toEqual([["JobSubmitted"], ["CancelRequested"]]);
    r.raise(JOB_EVENT, { type: "Dropped" });
    await r.settle(false);
    expect(r.finished?.status).toBe("Completed");
    expect(r.callsTo(A.startJob)).toHaveLength(0);
    expect(finishOf(r)).toHaveLength(0); // whoever dropped it wrote the record
  });

  test("rows read back from the spill go to the entity in order, a refill's cancel requests first", async () => {
    let n = 0;
    let m = 0;
    const r = new Replay(jobOrchestrator, { instance: "ci-1", jobId: "j1", gpus: 0 }, {
      [A.apply]: () => (n++ === 0 ? { refill: { from: 7, jobs: [{ id: "s1", gpus: 0, cancelRequested: true }, { id: "s2", gpus: 0, cancelRequested: false }] } } : null),
    }, { step: () => (m++ === 0 ? { ...ANSWER, refill: { from: 5, until: 7, max: 64 }, trim: { from: 3, until: 5 } } : ANSWER) });
    await r.settle(false);
    const second = r.entityCalls[1]![1] as { events: unknown[] };
    expect(second.events).toEqual([
      { type: "Trimmed", until: 5 },
      { type: "CancelRequested", jobId: "s1" },
      { type: "JobSubmitted", jobId: "s1", gpus: 0, admit: true },
      { type: "JobSubmitted", jobId: "s2", gpus: 0, admit: true },
      { type: "Refilled", from: 7 },
    ]);
  });
});

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

  test("an end the agent reported whose event was lost (host crash) is found on the record by the periodic check", async () => {
    const { r, record } = job();
    Object.assign(record, { state: "Running", heartbeatAt: "2025-01-06T08:00:00.000Z", reported: { state: "Failed", exitCode: 7, error: { code: "JobFailed", message: "the command exited with code 7" } } });
    await r.settle(true);
    expect(finishOf(r)).toHaveLength(1);
    expect(finishOf(r)[0]!.outcome).toMatchObject({ state: "Failed", exitCode: 7, error: { code: "JobFailed" } });
  });

  test("a job whose image is being pulled (Starting, taken by the agent) is judged by its heartbeats, not the pickup grace", async () => {
    const { r, record } = job();
    Object.assign(record, { pullingAt: "2025-01-06T08:00:00.000Z", heartbeatAt: "2025-01-06T08:00:00.000Z" });
    await r.settle(true);
    expect(finishOf(r)).toHaveLength(1);
    expect(finishOf(r)[0]!.outcome).toMatchObject({ state: "Failed", error: { code: "AgentLost" } });
    expect(finishOf(r)[0]!.outcome.error!.message).toContain("no heartbeat");
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
