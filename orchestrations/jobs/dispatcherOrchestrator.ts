// The per-instance dispatcher: an eternal orchestration that feeds external events to the pure
// dispatcher (shared/jobs/dispatcher) and carries its state across continueAsNew. It owns no
// rules; it turns events into `step` calls and commands into one activity call per event.
// Deterministic: no I/O, no clock but currentUtcDateTime, no randomness.
import type { OrchestrationContext, OrchestrationHandler } from "durable-functions";
import { counts, initialState, step, type DispatcherCommand, type DispatcherEvent, type DispatcherState } from "../../shared/jobs/dispatcher";
import { call, type ResultOf } from "./calls";
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

export const dispatcherOrchestrator: OrchestrationHandler = function* (ctx: OrchestrationContext) {
  const input = ctx.df.getInput<DispatcherInput>();
  const perGeneration = input.eventsPerGeneration ?? DEFAULT_EVENTS_PER_GENERATION;
  const generation = input.generation ?? 0;
  let state: DispatcherState | undefined = input.state;
  const pending: DispatcherCommand[] = [];

  const apply = (event: DispatcherEvent): void => {
    if (!state) return;
    pending.push(...step(state, event).commands);
  };

  // A new dispatcher, and every few generations, re-reads the job table: a submission whose
  // event never arrived (its trigger crashed between the record write and the raise) is found.
  if (!state || generation % RECONCILE_EVERY_GENERATIONS === 0) {
    const rec = (yield call(ctx, ACTIVITIES.reconcile, { instance: input.instance })) as ResultOf<typeof ACTIVITIES.reconcile>;
    if (!rec.exists) return { instance: input.instance, ended: "instance not found" };
    state ??= initialState(rec.config, rec.running);
    reconcile(state, rec, apply);
  }
  // Counts last written to the instance record in this generation (local: replay-safe).
  const written = { counts: "" };
  yield* flush(ctx, input.instance, state!, pending, written);

  let deleting = false;
  for (let handled = 0; handled < perGeneration; handled++) {
    const ev = (yield ctx.df.waitForExternalEvent(DISPATCHER_EVENT)) as DispatcherEventPayload | undefined;
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
        // Re-read size, jobsPerCore and state from the instance record (the event may be stale).
        const rec = (yield call(ctx, ACTIVITIES.reconcile, { instance: input.instance })) as ResultOf<typeof ACTIVITIES.reconcile>;
        if (!rec.exists) {
          deleting = true;
          apply({ type: "InstanceState", running: false });
          for (const id of Object.keys(state!.queued)) apply({ type: "CancelRequested", jobId: id });
          break;
        }
        apply({ type: "Configure", config: rec.config });
        // Compared with the snapshot before anything new starts (a job started now is not in it).
        reconcile(state!, rec, apply);
        // The event says where the instance is going (raised before Stopping, after Running).
        apply({ type: "InstanceState", running: RUNNING_STATES.has(ev.state) });
        if (rec.deleting) {
          deleting = true;
          for (const id of Object.keys(state!.queued)) apply({ type: "CancelRequested", jobId: id });
        }
        break;
      }
    }
    if (pending.length || JSON.stringify(counts(state!)) !== written.counts) yield* flush(ctx, input.instance, state!, pending, written);
    // A deleted instance's dispatcher ends once its last running job reported back.
    if (deleting && state!.runningCount === 0) return { instance: input.instance, ended: "instance deleted" };
  }
  ctx.df.continueAsNew({ ...input, state, generation: generation + 1 } satisfies DispatcherInput);
  return undefined;
};

function reconcile(state: DispatcherState, rec: Extract<ReconcileResult, { exists: true }>, apply: (e: DispatcherEvent) => void): void {
  const live = new Set<string>();
  for (const j of rec.jobs) {
    live.add(j.id);
    // A queued job with a cancel request is canceled before it is (re)submitted, so it never
    // starts; one already running is adopted first, so the cancel reaches its orchestration.
    if (j.cancelRequested && j.state === "Queued") apply({ type: "CancelRequested", jobId: j.id });
    apply({ type: "JobSubmitted", jobId: j.id, gpus: j.gpus });
    if (j.cancelRequested && j.state !== "Queued") apply({ type: "CancelRequested", jobId: j.id });
  }
  // A running job whose record is terminal finished while its JobFinished was lost.
  for (const id of Object.keys(state.running)) if (!live.has(id)) apply({ type: "JobFinished", jobId: id });
}

function* flush(ctx: OrchestrationContext, instance: string, state: DispatcherState, pending: DispatcherCommand[], written: { counts: string }) {
  const commands = pending.splice(0, pending.length);
  const c = counts(state);
  written.counts = JSON.stringify(c);
  yield call(ctx, ACTIVITIES.apply, { instance, commands, counts: c, at: ctx.df.currentUtcDateTime.toISOString() });
}
