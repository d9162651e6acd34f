// How orchestrations change an instance's job queue: one entity operation with the events, then
// the commands it answered applied by the `apply` activity (record writes, spill rows, Start
// events to the jobs' orchestrations, counts on the instance record); rows read back from the
// spill go in with the next operation. Used by the job orchestration (submit, cancel, finish)
// and the instance orchestrations (state changes). Deterministic: entity calls and activities only.
import * as df from "durable-functions";
import type { OrchestrationContext, Task } from "durable-functions";
import type { DispatcherEvent } from "../../shared/jobs/dispatcher";
import { withEntityTrace } from "../traceInput";
import { call } from "../boundary";
import { JOB_ACTIVITIES, QUEUE_ENTITY, type QueueAnswer } from "./types";

/** Refill rounds in one change at most (each reads up to a window of spilled jobs). */
const MAX_ROUNDS = 8;

export function queueId(instance: string): df.EntityId {
  return new df.EntityId(QUEUE_ENTITY, instance.toLowerCase());
}

/** One operation on the queue, in the calling orchestration's trace. */
function callQueue(ctx: OrchestrationContext, id: df.EntityId, operation: "init" | "step", input: object): Task {
  return ctx.df.callEntity(id, operation, withEntityTrace(ctx, input));
}

/** The queue entity's `step` operation (queueEntity.ts answers a QueueAnswer). */
function* step(ctx: OrchestrationContext, id: df.EntityId, events: DispatcherEvent[]): Generator<Task, QueueAnswer, unknown> {
  return (yield callQueue(ctx, id, "step", { events })) as QueueAnswer;
}

export function* changeQueue(ctx: OrchestrationContext, instance: string, events: DispatcherEvent[]): Generator<Task, void, unknown> {
  const id = queueId(instance);
  let answer = yield* step(ctx, id, events);
  if (answer.uninitialized) {
    const cfg = yield* call(ctx, JOB_ACTIVITIES.queueConfig, { instance });
    if (!cfg.exists) return; // the instance is gone: nothing to queue on
    yield callQueue(ctx, id, "init", { config: cfg.config, running: cfg.running });
    answer = yield* step(ctx, id, events);
  }
  for (let round = 0; !answer.uninitialized; round++) {
    // Past MAX_ROUNDS no more rows are read back here (the next change of the queue does it).
    const last = round >= MAX_ROUNDS;
    const applied = yield* call(ctx, JOB_ACTIVITIES.apply, {
      instance,
      commands: answer.commands ?? [],
      counts: answer.counts!,
      ...(answer.seq !== undefined ? { seq: answer.seq } : {}),
      at: ctx.df.currentUtcDateTime.toISOString(),
      ...(answer.refill && !last ? { refill: answer.refill } : {}),
      ...(answer.trim ? { trim: answer.trim } : {}),
    });
    const more: DispatcherEvent[] = [];
    if (answer.trim) more.push({ type: "Trimmed", until: answer.trim.until });
    if (applied?.refill) {
      for (const j of applied.refill.jobs) {
        if (j.cancelRequested) more.push({ type: "CancelRequested", jobId: j.id });
        more.push({ type: "JobSubmitted", jobId: j.id, gpus: j.gpus, admit: true });
      }
      more.push({ type: "Refilled", from: applied.refill.from });
    }
    if (more.length === 0) return;
    answer = yield* step(ctx, id, more);
  }
}

/**
 * Tells the instance's queue its size and jobs per core again (a PATCH of jobsPerCore): a larger
 * cap may start queued jobs at once, which the apply of this change does.
 */
export function* reconfigureQueue(ctx: OrchestrationContext): Generator<Task, void, unknown> {
  const { instance } = ctx.df.getInput<{ instance: string }>()!;
  const cfg = yield* call(ctx, JOB_ACTIVITIES.queueConfig, { instance });
  if (cfg.exists) yield* changeQueue(ctx, instance, [{ type: "Configure", config: cfg.config }]);
}
