// One orchestration episode, the way the Durable Task host runs it: append the new
// messages to the history, replay the orchestrator through the library, turn its new
// actions into history events with event ids, and say what to dispatch. Pure apart from
// the orchestrator call: the engine persists the result in one transaction before acting.
//
// Event ids must be the ones the library assigns while replaying
// (TaskOrchestrationExecutor: `sequenceNumber++` per leaf in yield order, depth-first).
// Most ids belong to new leaves of the action list. Three kinds of incoming event make the
// library take an id without any new action: the failure of a retryable task (its retry
// timer), a retry timer firing with attempts left (the next attempt) and a sub-timer of a
// long timer firing before the final time (the next sub-timer). None of them resumes user
// code, so we append them before the other new events: their ids come first, then the
// new leaves in order.
//
// The steps live beside this file, one per role: control.ts (terminate, suspend, resume),
// incoming.ts (one handler per message kind), replay.ts (the determinism check),
// newActions.ts (one handler per action type), run.ts (the episode's working state and how it
// ends), leaves.ts and retry.ts (shared rules).
import { flattenActions, processedInputText } from "../actions";
import { customStatusSizeError } from "../backend/payloads";
import { DEFAULT_HTTP_ASYNC_SLEEP_MS } from "../durableHttp";
import type { EntitySend } from "../entities/orchestration";
import { EventType, type FailureDetails, type HistoryEvent, type InstanceMessage, type InstanceState, type Leaf, type OrchestratorStateWire, type RuntimeStatus } from "../types";
import { applyControl } from "./control";
import { applyIncoming, rescheduleRewound } from "./incoming";
import { ev } from "./leaves";
import { applyNewActions } from "./newActions";
import { checkReplay } from "./replay";
import { EpisodeRun } from "./run";
import { VERSION_MISMATCH, versionMatches, type Versioning } from "../versioning";

export type EpisodeConfig = {
  /** TimeSpan texts handed to the library, and the same in ms for our own splitting. */
  maximumShortTimerDuration: string;
  longRunningTimerIntervalDuration: string;
  maxShortTimerMs: number;
  longTimerIntervalMs: number;
  /** durableTask.httpSettings.defaultAsyncRequestSleepTimeMilliseconds (default 30 s). */
  httpAsyncSleepMs?: number;
  /** Whether an entity function of this (lower-cased) name is registered; entity actions fail without it. */
  hasEntity?: (name: string) => boolean;
  /** host.json's versioning settings (none: every version runs). */
  versioning?: Versioning;
};

export type OrchestrationTriggerPayload = {
  history: HistoryEvent[];
  input: unknown;
  instanceId: string;
  isReplaying: boolean;
  parentInstanceId?: string;
  upperSchemaVersion: number;
  upperSchemaVersionNew: number;
  longRunningTimerIntervalDuration: string;
  maximumShortTimerDuration: string;
  defaultHttpAsyncRequestSleepTimeMillseconds: number;
};

export type OrchestratorCall =
  | { ok: true; state: OrchestratorStateWire }
  | { ok: false; message: string; state?: OrchestratorStateWire };

export type OrchestratorInvoker = (name: string, payload: OrchestrationTriggerPayload) => Promise<OrchestratorCall>;

export type ActivityWork = { instanceId: string; exec: string; id: number; name: string; input?: string };
export type TimerWork = { instanceId: string; exec: string; id: number; fireAt: string };
export type ChildWork = { instanceId: string; exec: string; id: number; name: string; childId: string; input?: string; version?: string };

export type Decisions = {
  activities: ActivityWork[];
  timers: TimerWork[];
  children: ChildWork[];
  /** Messages to deliver back to this instance at once (retry attempts after the retry timeout). */
  selfMessages: InstanceMessage[];
  /** Messages to entities (calls, signals, locks, releases), sent through the outbox of this episode's commit. */
  entitySends: EntitySend[];
};

export type EpisodeResult = {
  next: InstanceState;
  /** Events of this episode, to persist as one history chunk. */
  appended: HistoryEvent[];
  /** Leaves created or changed in this episode, by index. */
  leafPatch: [number, Leaf][];
  /** Messages applied or discarded: their persisted rows can be deleted. */
  consumed: InstanceMessage[];
  /** Messages that stay queued (the instance is suspended). */
  held: InstanceMessage[];
  decisions: Decisions;
  /** Set when the orchestration called continueAsNew: the next generation's start. */
  continueAsNew?: { input?: string; carried: InstanceMessage[] };
  /** Set when the execution reached a terminal state. */
  finished?: { status: RuntimeStatus; output?: string; failure?: FailureDetails };
};

/** Default `maximumShortTimerDuration` / `longRunningTimerIntervalDuration` of the real host. */
export const DEFAULT_MAX_SHORT_TIMER = "6.00:00:00";
export const DEFAULT_LONG_TIMER_INTERVAL = "3.00:00:00";

/**
 * One episode. When the orchestrator continues as new, the batch is split as Azure splits it.
 * DurableTask.Core replays the batch's messages in arrival order; from the message at which the
 * orchestration has called continueAsNew on, each EventRaised is kept for the next generation
 * (TaskOrchestrationContext.HandleEventRaisedEvent with BehaviorOnContinueAsNew.Carryover, the
 * Azure Storage default; TaskOrchestrationDispatcher puts them after the new ExecutionStarted).
 * Events before that point which no wait took are lost: a JavaScript orchestration continues
 * through OutOfProcOrchestrationShim, which calls ContinueAsNew(input) with
 * preserveUnprocessedEvents = false (durable-extension DurableOrchestrationContext and
 * DurableTaskExtension: only with it are buffered events rescheduled). The same holds for events
 * of earlier episodes. That point is the shortest arrival-order prefix of the batch that still
 * continues as new (binary search: a few extra replays, once per generation). The decision itself
 * is the full run's: the worker sees the whole batch, as the host sends it the whole history.
 */
export async function runEpisode(
  state: InstanceState,
  inbox: InstanceMessage[],
  now: Date,
  cfg: EpisodeConfig,
  invoke: OrchestratorInvoker,
): Promise<EpisodeResult> {
  const full = await runEpisodeOnce(state, inbox, now, cfg, invoke);
  if (!full.continueAsNew) return full;
  let lo = 0;
  let hi = inbox.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if ((await runEpisodeOnce(state, inbox.slice(0, mid), now, cfg, invoke)).continueAsNew) hi = mid;
    else lo = mid + 1;
  }
  // Messages behind the decision: its events go to the next generation, the rest (results for
  // this execution, which ends) are dropped with it.
  const carried = inbox
    .slice(lo)
    .filter((m): m is Extract<InstanceMessage, { kind: "event" }> => m.kind === "event" && (m.exec === undefined || m.exec === state.exec))
    .map((m): InstanceMessage => ({ kind: "event", name: m.name, input: m.input }));
  return { ...full, consumed: [...inbox], held: [], continueAsNew: { ...full.continueAsNew, carried } };
}

/** One run of the orchestrator over the history and the messages of `inbox`. */
async function runEpisodeOnce(
  state: InstanceState,
  inbox: InstanceMessage[],
  now: Date,
  cfg: EpisodeConfig,
  invoke: OrchestratorInvoker,
): Promise<EpisodeResult> {
  const run = new EpisodeRun(state, now, cfg);
  const { work, terminated } = applyControl(run, inbox);
  if (terminated !== undefined) return run.terminate(terminated, work);
  if (run.suspended) return run.hold(work);
  if (cfg.versioning && !versionMatches(cfg.versioning, state.version)) {
    // TaskOrchestrationDispatcher: fail the instance, or abandon the work item to a worker that matches.
    if (cfg.versioning.failure === "Reject") return run.reject(work);
    run.consume(work);
    if (run.firstEpisode) run.appended.push(executionStarted(state, run.at));
    return run.fail(VERSION_MISMATCH.ErrorMessage, VERSION_MISMATCH);
  }
  applyIncoming(run, work);
  if (run.firstEpisode) run.appended.push(executionStarted(state, run.at));
  run.appended.push(...run.early, ...run.late);

  const call = await invoke(state.name, triggerPayload(run));
  const out = call.state;
  if (out?.customStatus !== undefined) {
    const text = JSON.stringify(out.customStatus);
    const tooLarge = customStatusSizeError(text ?? "null");
    if (tooLarge) return run.fail(tooLarge);
    run.customStatus = text;
  }
  const flat = out ? flattenActions(out.actions) : [];
  const replayError = checkReplay(run, flat, call.ok && !out!.isDone);
  if (replayError) return run.fail(replayError);
  rescheduleRewound(run);
  const added = applyNewActions(run, flat, state.leaves.length);
  if (added.error !== undefined) return run.fail(added.error);
  if (!call.ok) return run.fail(call.message, out?.failureDetails);
  return run.ran(out!, added.continueAsNew && { input: processedInputText(added.continueAsNew.input) });
}

function executionStarted(state: InstanceState, at: string): HistoryEvent {
  return ev(EventType.ExecutionStarted, -1, at, {
    Name: state.name,
    Input: state.input,
    OrchestrationInstance: { InstanceId: state.instanceId, ExecutionId: state.exec },
    ParentInstance: state.parent
      ? { OrchestrationInstance: { InstanceId: state.parent.instanceId, ExecutionId: state.parent.exec }, TaskScheduleId: state.parent.id }
      : undefined,
    // The library reads context.df.version from here.
    ...(state.version !== undefined ? { Version: state.version } : {}),
  });
}

/** What the orchestration trigger receives: the whole history, this episode's events included. */
function triggerPayload(run: EpisodeRun): OrchestrationTriggerPayload {
  const { state, cfg } = run;
  return {
    history: [...state.history, ...run.appended],
    input: state.input === undefined ? undefined : JSON.parse(state.input),
    instanceId: state.instanceId,
    isReplaying: !run.firstEpisode,
    parentInstanceId: state.parent?.instanceId,
    upperSchemaVersion: 2,
    // V4, as the extension advertises since it understands LockEntities/ReleaseEntities (critical sections).
    upperSchemaVersionNew: 3,
    longRunningTimerIntervalDuration: cfg.longRunningTimerIntervalDuration,
    maximumShortTimerDuration: cfg.maximumShortTimerDuration,
    defaultHttpAsyncRequestSleepTimeMillseconds: cfg.httpAsyncSleepMs ?? DEFAULT_HTTP_ASYNC_SLEEP_MS,
  };
}
