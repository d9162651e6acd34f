// One job: start its run command (named after the job, so a retried start cannot run it
// twice), poll it with durable timers and backoff while listening for a cancel, enforce the
// timeout, then record the result, delete the run command and tell the dispatcher.
import type { OrchestrationContext, OrchestrationHandler } from "durable-functions";
import { call, type ResultOf } from "./calls";
import { EventInbox } from "./eventInbox";
import { outcomeOf } from "./outcome";
import { ACTIVITIES, CANCEL_EVENT, DEFAULT_JOB_POLL, type JobInput, type JobOutcome, type RunStatusResult } from "./types";

export const jobOrchestrator: OrchestrationHandler = function* (ctx: OrchestrationContext) {
  const input = ctx.df.getInput<JobInput>();
  const poll = input.poll ?? DEFAULT_JOB_POLL;
  const at = () => ctx.df.currentUtcDateTime.toISOString();
  let started: ResultOf<typeof ACTIVITIES.startRun>;
  let mayExist = true; // a start that failed after its retries may still have created the run command
  let recorded = false; // the status activity already did `finish`
  try {
    started = (yield call(ctx, ACTIVITIES.startRun, {
      instance: input.instance,
      jobId: input.jobId,
      gpuIndices: input.gpuIndices,
      at: at(),
    })) as ResultOf<typeof ACTIVITIES.startRun>;
    mayExist = started.started;
  } catch (err) {
    started = { started: false, outcome: { state: "Failed", error: { code: "StartFailed", message: firstLine(err) } } };
  }

  let outcome: JobOutcome;
  if (!started.started) {
    outcome = started.outcome ?? { state: "Canceled", error: { code: "Canceled", message: "the job was canceled before it started" } };
  } else {
    const deadline = ctx.df.currentUtcDateTime.getTime() + started.timeoutMinutes * 60_000;
    let delay = poll.initialMs;
    let last: RunStatusResult | undefined = started.status;
    // A cancel wait that lost to a timer stays open and takes the next Cancel (even one raised
    // while the status activity runs): EventInbox holds and collects them all.
    const cancels = new EventInbox(ctx, CANCEL_EVENT);
    const canceled = (): JobOutcome | undefined => {
      const got = cancels.collect();
      if (!got.length) return undefined;
      const reason = (got[0] as { reason?: string } | undefined)?.reason ?? "canceled by request";
      return { state: "Canceled", error: { code: "Canceled", message: reason } };
    };
    // The start read the command once: one that already completed on its own needs no timer.
    // Any other end still goes through the loop, so a Cancel raised meanwhile can win over it.
    const early = last ? outcomeOf(last) : undefined;
    for (;;) {
      if (early?.state === "Completed") {
        outcome = early;
        break;
      }
      const now = ctx.df.currentUtcDateTime.getTime();
      const c = canceled();
      if (c) {
        outcome = c;
        break;
      }
      if (now >= deadline) {
        outcome = { state: "TimedOut", error: { code: "TimedOut", message: `the job ran longer than ${started.timeoutMinutes} minutes` } };
        break;
      }
      const timer = ctx.df.createTimer(new Date(Math.min(now + delay, deadline)));
      yield cancels.any(1, [timer]);
      const c2 = canceled();
      if (c2) {
        if (!timer.isCompleted) timer.cancel();
        outcome = c2;
        break;
      }
      try {
        last = (yield call(ctx, ACTIVITIES.runStatus, { instance: input.instance, jobId: input.jobId, at: at() })) as ResultOf<typeof ACTIVITIES.runStatus>;
      } catch {
        // ARM unreadable even after retries: keep polling (the timeout still bounds the job).
        delay = poll.maxMs;
        continue;
      }
      const done = outcomeOf(last);
      if (last.finished && done) {
        outcome = done; // completed on its own: the activity recorded the end already
        recorded = true;
        break;
      }
      // A cancel that arrived while the status was read wins over an end it caused: a stop
      // deallocates the VM, which kills the command (ARM reports it Failed). Only a command
      // that completed on its own keeps its result.
      const c3 = done?.state === "Completed" ? undefined : canceled();
      if (c3) {
        outcome = c3;
        break;
      }
      if (done) {
        outcome = done;
        break;
      }
      delay = Math.min(poll.maxMs, Math.round(delay * poll.factor));
    }
    if (last?.startTime && !outcome.startTime) outcome.startTime = last.startTime;
  }

  if (!recorded) {
    yield call(ctx, ACTIVITIES.finish, {
      instance: input.instance,
      jobId: input.jobId,
      outcome,
      at: at(),
      runCommandStarted: mayExist,
    });
  }
  return outcome;
};

function firstLine(err: unknown): string {
  return (err instanceof Error ? err.message : String(err)).split("\n")[0]!.slice(0, 500);
}
