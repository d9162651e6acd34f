// One job: queue it (the instance's job-queue entity decides when a slot is free and raises
// Start), hand it to the instance's agent (a message on the instance's queue; no ARM call), then
// wait for the agent's report of its end, for a cancel, or for the backstop: the agent applies
// the job's timeout and cancels itself, but a VM that goes silent (no heartbeat, job never
// taken, no end after timeout + margin) ends the job Failed "agent lost". The end is recorded
// once, by `finish`; then the queue frees the slot.
import type { OrchestrationContext, OrchestrationHandler } from "durable-functions";
import { call, decodeFailure, type Gen, type OutputOf } from "../boundary";
import { EventInbox } from "./eventInbox";
import { changeQueue } from "./queueDriver";
import { JOB_ACTIVITIES, JOB_EVENT, type JobEventPayload, type JobInput, type JobOutcome } from "./types";

export const jobOrchestrator: OrchestrationHandler = function* (ctx: OrchestrationContext) {
  const input = ctx.df.getInput<JobInput>();
  const now = () => ctx.df.currentUtcDateTime.getTime();
  const at = () => ctx.df.currentUtcDateTime.toISOString();
  // A wait that lost to a timer stays open and takes the next event: EventInbox holds and collects them all.
  const inbox = new EventInbox(ctx, JOB_EVENT);

  // Queued until the queue entity grants a slot (and GPUs), or drops the job (canceled, cannot run).
  const gpuIndices = input.gpuIndices ?? (yield* waitForSlot(ctx, input, inbox));
  if (gpuIndices === "dropped") return { state: "Dropped" }; // its record was written by whoever dropped it

  let started: OutputOf<typeof JOB_ACTIVITIES.startJob>;
  try {
    started = yield* call(ctx, JOB_ACTIVITIES.startJob, { instance: input.instance, jobId: input.jobId, gpuIndices, at: at() });
  } catch (err) {
    started = { started: false, outcome: { state: "Failed", error: { code: "StartFailed", message: firstLine(decodeFailure(err).message) } } };
  }

  let outcome: JobOutcome | undefined;
  if (!started.started) {
    outcome = started.outcome ?? { state: "Canceled", error: { code: "Canceled", message: "the job was canceled before it started" } };
  } else {
    const live = input.liveness ?? started.liveness;
    const deadline = now() + started.timeoutMinutes * 60_000 + live.timeoutMarginMs;
    let cancel: { reason: string; until: number } | undefined;
    let lastCheck = now();
    while (!outcome) {
      for (const raw of inbox.collect()) {
        const ev = raw as JobEventPayload | undefined;
        if (!ev || outcome) continue;
        if (ev.type === "Start" || ev.type === "Dropped") continue;
        if (ev.type === "Exited") {
          // The agent's own word wins, except that a cancel we asked for is recorded as such.
          outcome = cancel && ev.outcome.state !== "Completed" ? canceled(cancel.reason, ev.outcome) : ev.outcome;
        } else if (ev.final) {
          outcome = canceled(ev.reason);
        } else if (!cancel) {
          cancel = { reason: ev.reason, until: now() + live.cancelGraceMs };
          yield* call(ctx, JOB_ACTIVITIES.cancelOnAgent, { instance: input.instance, jobId: input.jobId, reason: ev.reason });
        }
      }
      if (outcome) break;
      const t = now();
      if (cancel && t >= cancel.until) {
        outcome = canceled(cancel.reason);
        break;
      }
      if (t >= deadline) {
        outcome = lost(`no end was reported within the job's timeout (${started.timeoutMinutes} min) and a margin`);
        break;
      }
      if (t - lastCheck >= live.heartbeatMs) {
        lastCheck = t;
        const seen = yield* call(ctx, JOB_ACTIVITIES.checkAgent, { instance: input.instance, jobId: input.jobId });
        // The agent's report is on the record too: its end counts even if the event was lost.
        const verdict = seen.reported ? (cancel && seen.reported.state !== "Completed" ? canceled(cancel.reason, seen.reported) : seen.reported) : judge(seen, t, live);
        if (verdict) {
          outcome = verdict;
          break;
        }
        continue; // events that came during the check are collected first
      }
      const wake = Math.min(lastCheck + live.heartbeatMs, deadline, cancel?.until ?? Infinity);
      const timer = ctx.df.createTimer(new Date(Math.max(wake, t + 1)));
      yield inbox.any(1, [timer]);
      if (!timer.isCompleted) timer.cancel();
    }
  }

  yield* call(ctx, JOB_ACTIVITIES.finish, { instance: input.instance, jobId: input.jobId, outcome: outcome!, at: at() });
  yield* changeQueue(ctx, input.instance, [{ type: "JobFinished", jobId: input.jobId }]);
  return outcome;
};

/** Puts the job on its instance's queue and waits for its slot (the GPUs it got), or for the queue to drop it. */
function* waitForSlot(ctx: OrchestrationContext, input: JobInput, inbox: EventInbox): Gen<number[] | "dropped"> {
  yield* changeQueue(ctx, input.instance, [{ type: "JobSubmitted", jobId: input.jobId, gpus: input.gpus ?? 0 }]);
  let asked = false;
  for (;;) {
    yield inbox.any(1);
    for (const raw of inbox.collect()) {
      const ev = raw as JobEventPayload | undefined;
      if (!ev) continue;
      if (ev.type === "Start") return ev.gpuIndices;
      if (ev.type === "Dropped") return "dropped";
      if (ev.type === "Cancel" && !asked) {
        // The queue cancels it if it is still queued (and drops it), or it has started: then the
        // start sees the cancel request on the record.
        asked = true;
        yield* changeQueue(ctx, input.instance, [{ type: "CancelRequested", jobId: input.jobId }]);
      }
    }
  }
}

/** The backstop: whether the record shows an agent that went silent. */
function judge(seen: { state: string; claimedAt?: string; pullingAt?: string; heartbeatAt?: string }, now: number, live: { heartbeatGraceMs: number; pickupGraceMs: number }): JobOutcome | undefined {
  if (seen.state === "Missing") return { state: "Failed", error: { code: "JobNotFound", message: "the job record is missing" } };
  // Pulling its image: the agent has it and heartbeats, as for a running job.
  const alive = seen.state === "Running" || (seen.state === "Starting" && seen.pullingAt !== undefined);
  if (seen.state === "Starting" && !seen.pullingAt && seen.claimedAt && now - Date.parse(seen.claimedAt) > live.pickupGraceMs) {
    return lost(`the agent did not take the job within ${Math.round(live.pickupGraceMs / 1000)} s`);
  }
  if (alive && seen.heartbeatAt && now - Date.parse(seen.heartbeatAt) > live.heartbeatGraceMs) {
    return lost(`no heartbeat from the agent for ${Math.round(live.heartbeatGraceMs / 1000)} s`);
  }
  return undefined;
}

function lost(why: string): JobOutcome {
  return { state: "Failed", error: { code: "AgentLost", message: `agent lost: ${why}` } };
}

function canceled(reason: string, reported?: JobOutcome): JobOutcome {
  return {
    state: "Canceled",
    ...(reported?.exitCode !== undefined ? { exitCode: reported.exitCode } : {}),
    ...(reported?.startTime ? { startTime: reported.startTime } : {}),
    error: { code: "Canceled", message: reason },
  };
}

function firstLine(text: string): string {
  return text.split("\n")[0]!.slice(0, 500);
}
