// The per-instance dispatcher: an eternal orchestration that feeds external events to the pure
// dispatcher (shared/jobs/dispatcher) and carries its state across continueAsNew. It owns no
// rules; it turns events into `step` calls and their commands into apply activities.
//
// Batching: at most one apply activity is in flight; every event that arrives meanwhile is
// stepped and its commands wait for the next apply, so a burst of N submissions costs a few
// activity round trips, not N (EventInbox drains buffered events without losing any).
// Deterministic: no I/O, no clock but currentUtcDateTime, no randomness.
import type { OrchestrationContext, OrchestrationHandler, Task } from "durable-functions";
import {
  counts,
  initialState,
  refillRequest,
  step,
  trimRequest,
  type DispatcherCommand,
  type DispatcherEvent,
  type DispatcherState,
} from "../../shared/jobs/dispatcher";
import { call, type ResultOf } from "./calls";
import { EventInbox } from "./eventInbox";
import {
  ACTIVITIES,
  DEFAULT_EVENTS_PER_GENERATION,
  DISPATCHER_EVENT,
  RECONCILE_EVERY_GENERATIONS,
  type DispatcherEventPayload,
  type DispatcherInput,
  type ReconcileResult,
} from "./types";

const RUNNING_STATES = new Set(["Running", "JobRunning"]);
/** Buffered events taken per drain: bounds one harvest, not the queue. */
const DRAIN = 32;

export const dispatcherOrchestrator: OrchestrationHandler = function* (ctx: OrchestrationContext) {
  const input = ctx.df.getInput<DispatcherInput>();
  const perGeneration = input.eventsPerGeneration ?? DEFAULT_EVENTS_PER_GENERATION;
  const generation = input.generation ?? 0;
  let state: DispatcherState | undefined = input.state;
  // A state carried from before the window existed: nothing spilled yet.
  if (state && !state.spill) state.spill = { trimmed: 0, from: 0, next: 0 };
  // Commands stepped but not applied yet (carried across continueAsNew).
  const pending: DispatcherCommand[] = [...(input.pending ?? [])];
  const apply = (event: DispatcherEvent): void => {
    if (!state) return;
    pending.push(...step(state, event).commands);
  };

  // A new dispatcher, and every few generations, re-reads the job table: a submission whose
  // event never arrived (its trigger crashed between the record write and the raise) is found.
  if (!state || generation % RECONCILE_EVERY_GENERATIONS === 0) {
    const rec = (yield call(ctx, ACTIVITIES.reconcile, held(input.instance, state))) as ResultOf<typeof ACTIVITIES.reconcile>;
    if (!rec.exists) return { instance: input.instance, ended: "instance not found" };
    state ??= initialState(rec.config, rec.running);
    reconcile(state, rec, apply);
  }
  const s = state!;

  const inbox = new EventInbox(ctx, DISPATCHER_EVENT);
  const queue: unknown[] = [];
  // The apply in flight; `yielded` once it has been part of a yield (it may then only be yielded alone).
  let inflight: { task: Task; yielded: boolean; trimUntil?: number } | undefined;
  let written = ""; // counts last sent to the instance record in this generation
  let handled = 0;
  let deleting = false;

  const startApply = (): void => {
    const c = counts(s);
    written = JSON.stringify(c);
    const commands = pending.splice(0, pending.length);
    const refill = refillRequest(s);
    const trim = trimRequest(s);
    const task = call(ctx, ACTIVITIES.apply, {
      instance: input.instance,
      commands,
      counts: c,
      at: ctx.df.currentUtcDateTime.toISOString(),
      ...(refill ? { refill } : {}),
      ...(trim ? { trim } : {}),
    });
    inflight = { task, yielded: false, ...(trim ? { trimUntil: trim.until } : {}) };
  };
  /** The apply's result: spilled jobs read back join the window, in order. */
  const applied = (result: ResultOf<typeof ACTIVITIES.apply>, trimUntil: number | undefined): void => {
    if (trimUntil !== undefined) apply({ type: "Trimmed", until: trimUntil });
    if (!result?.refill) return;
    for (const j of result.refill.jobs) {
      if (j.cancelRequested) apply({ type: "CancelRequested", jobId: j.id });
      apply({ type: "JobSubmitted", jobId: j.id, gpus: j.gpus, admit: true });
    }
    apply({ type: "Refilled", from: result.refill.from });
  };
  /** After every resume: the apply's outcome (a failure after its retries fails the dispatcher, as before) and new events. */
  const afterResume = (): void => {
    if (inflight && (inflight.task.isCompleted || inflight.task.isFaulted)) {
      const { task: t, trimUntil } = inflight;
      inflight = undefined;
      if (t.isFaulted) throw t.result;
      applied(t.result as ResultOf<typeof ACTIVITIES.apply>, trimUntil);
    }
    queue.push(...inbox.collect());
  };
  function* settleApply(): Generator<Task, void, unknown> {
    while (inflight) {
      inflight.yielded = true;
      yield inflight.task;
      afterResume();
    }
  }

  startApply(); // the generation's first write: counts (and any commands carried or reconciled)
  for (;;) {
    while (queue.length) {
      const ev = queue.shift() as DispatcherEventPayload | undefined;
      handled++;
      if (!ev || typeof ev !== "object") continue;
      switch (ev.type) {
        case "JobSubmitted":
          apply({ type: "JobSubmitted", jobId: ev.jobId, gpus: ev.gpus });
          break;
        case "JobFinished":
          apply({ type: "JobFinished", jobId: ev.jobId });
          break;
        case "CancelJob":
          apply({ type: "CancelRequested", jobId: ev.jobId });
          break;
        case "InstanceStateChanged": {
          // Re-read size, jobsPerCore and state from the instance record (the event may be stale),
          // after what was decided so far is applied.
          yield* settleApply();
          const rec = (yield call(ctx, ACTIVITIES.reconcile, held(input.instance, s))) as ResultOf<typeof ACTIVITIES.reconcile>;
          afterResume();
          if (!rec.exists) {
            deleting = true;
            apply({ type: "InstanceState", running: false });
            apply({ type: "CancelQueued" });
            break;
          }
          apply({ type: "Configure", config: rec.config });
          // Compared with the snapshot before anything new starts (a job started now is not in it).
          reconcile(s, rec, apply);
          // The event says where the instance is going (raised before Stopping, after Running).
          apply({ type: "InstanceState", running: RUNNING_STATES.has(ev.state) });
          if (rec.deleting) {
            deleting = true;
            apply({ type: "CancelQueued" });
          }
          break;
        }
      }
    }

    // A deleted instance's dispatcher ends once its last running job reported back.
    if (deleting && s.runningCount === 0) {
      yield* settleApply();
      if (pending.length) {
        startApply();
        yield* settleApply();
      }
      return { instance: input.instance, ended: "instance deleted" };
    }
    if (handled >= perGeneration) {
      // Every event a wait took must be stepped before continuing as new (the engine carries
      // only those no wait took). Settling opens no new wait, so this ends.
      yield* settleApply();
      if (queue.length) continue;
      ctx.df.continueAsNew({ ...input, state: s, pending, generation: generation + 1 } satisfies DispatcherInput);
      return undefined;
    }
    if (!inflight && (pending.length || JSON.stringify(counts(s)) !== written || refillRequest(s) || trimRequest(s))) startApply();

    // Block until the apply ends or an event comes (buffered ones are taken at once).
    const room = Math.max(1, Math.min(DRAIN, perGeneration - handled));
    if (inflight && !inflight.yielded) {
      inflight.yielded = true;
      yield inbox.any(room - inbox.open, [inflight.task]);
    } else if (inflight) {
      yield inflight.task; // events meanwhile stay buffered or in held waits: the next apply takes them all
    } else {
      yield inbox.any(room - inbox.open);
    }
    afterResume();
  }
};

/** The reconcile's input: what this dispatcher holds (bounded), so the answer is too. */
function held(instance: string, state: DispatcherState | undefined) {
  return state ? { instance, queued: Object.keys(state.queued), running: Object.keys(state.running), next: state.spill.next } : { instance };
}

function reconcile(state: DispatcherState, rec: Extract<ReconcileResult, { exists: true }>, apply: (e: DispatcherEvent) => void): void {
  const live = new Set<string>();
  for (const j of rec.jobs) {
    live.add(j.id);
    // A queued job with a cancel request is canceled before it is (re)submitted, so it never
    // starts; one already running is adopted first, so the cancel reaches its orchestration.
    if (j.cancelRequested && j.state === "Queued") apply({ type: "CancelRequested", jobId: j.id });
    // One that started is adopted into the window whatever its size (it may be running).
    apply({ type: "JobSubmitted", jobId: j.id, gpus: j.gpus, ...(j.state !== "Queued" ? { admit: true } : {}) });
    if (j.cancelRequested && j.state !== "Queued") apply({ type: "CancelRequested", jobId: j.id });
  }
  // After the jobs above (with rows spilled, every new submission would be spilled too).
  if (rec.spill) apply({ type: "SpillRange", from: rec.spill.from, next: rec.spill.next }); // absent in results recorded before the window
  // A running job whose record is terminal finished while its JobFinished was lost.
  for (const id of Object.keys(state.running)) if (!live.has(id)) apply({ type: "JobFinished", jobId: id });
}
