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
import { flattenActions, processedInputText, rawInputText, withoutStackFrames } from "../actions";
import { DEFAULT_HTTP_ASYNC_SLEEP_MS, HTTP_ACTIVITY, httpRequestOf, nextPoll, type DurableHttpRequestWire } from "../durableHttp";
import { entityLeafName, isEntityAction, releaseOnEnd, scheduleEntityAction, type EntitySend } from "../entities/orchestration";
import { customStatusSizeError } from "../backend/payloads";
import {
  ActionType,
  ActionTypeName,
  EventType,
  type ActionWire,
  type FailureDetails,
  type HistoryEvent,
  type InstanceMessage,
  type InstanceState,
  type Leaf,
  type OrchestratorStateWire,
  type RetryOptionsWire,
  type RuntimeStatus,
} from "../types";

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
export type ChildWork = { instanceId: string; exec: string; id: number; name: string; childId: string; input?: string };

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

const ev = (type: number, id: number, at: string, fields: Record<string, unknown> = {}): HistoryEvent => ({
  EventType: type,
  EventId: id,
  IsPlayed: false,
  Timestamp: at,
  ...fields,
});

function cloneLeaf(l: Leaf): Leaf {
  return l.retry ? { ...l, retry: { ...l.retry } } : { ...l };
}

function retryState(o: RetryOptionsWire | undefined, now: number): Leaf["retry"] {
  if (!o) return undefined;
  return {
    first: o.firstRetryIntervalInMilliseconds,
    max: o.maxNumberOfAttempts,
    coef: o.backoffCoefficient ?? 1,
    maxInterval: o.maxRetryIntervalInMilliseconds ?? 0,
    timeout: o.retryTimeoutInMilliseconds ?? 0,
    attempt: 1,
    startedAt: now,
  };
}

/** The retry delay of DurableTask's RetryInterceptor.ComputeNextDelay; undefined when the retry timeout has passed. */
export function nextRetryDelay(r: NonNullable<Leaf["retry"]>, nowMs: number): number | undefined {
  const expires = r.timeout > 0 && r.timeout < Number.MAX_SAFE_INTEGER ? r.startedAt + r.timeout : Infinity;
  if (r.expired || nowMs >= expires) return undefined;
  const delay = r.first * Math.pow(r.coef, r.attempt - 1);
  return r.maxInterval > 0 && delay >= r.maxInterval ? r.maxInterval : delay;
}

/** Next sub-timer of a long timer, as LongTimerTask computes it. */
function subTimerFireAt(finalMs: number, nowMs: number, cfg: EpisodeConfig): number {
  return finalMs - nowMs > cfg.maxShortTimerMs ? nowMs + cfg.longTimerIntervalMs : finalMs;
}

const isRetry = (t: number) => t === ActionType.CallActivityWithRetry || t === ActionType.CallSubOrchestratorWithRetry;
const isSub = (t: number) => t === ActionType.CallSubOrchestrator || t === ActionType.CallSubOrchestratorWithRetry;

function leafName(a: ActionWire): string {
  if (a.actionType === ActionType.WaitForExternalEvent) return String(a.externalEventName ?? "");
  if (a.actionType === ActionType.CallHttp) return HTTP_ACTIVITY;
  if (isEntityAction(a.actionType)) return entityLeafName(a);
  return typeof a.functionName === "string" ? a.functionName : "";
}

function describe(t: number, n: string): string {
  return n ? `${ActionTypeName[t] ?? t} '${n}'` : `${ActionTypeName[t] ?? t}`;
}

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

async function runEpisodeOnce(
  state: InstanceState,
  inbox: InstanceMessage[],
  now: Date,
  cfg: EpisodeConfig,
  invoke: OrchestratorInvoker,
): Promise<EpisodeResult> {
  const at = now.toISOString();
  const nowMs = now.getTime();
  const leaves = state.leaves.map(cloneLeaf);
  const changed = new Set<number>();
  let nextId = state.nextId;
  const decisions: Decisions = { activities: [], timers: [], children: [], selfMessages: [], entitySends: [] };
  const consumed: InstanceMessage[] = [];
  const held: InstanceMessage[] = [];
  const appended: HistoryEvent[] = [ev(EventType.OrchestratorStarted, -1, at)];
  const firstEpisode = state.history.length === 0;
  let status: RuntimeStatus = state.status === "Pending" ? "Running" : state.status;
  let suspended = status === "Suspended";
  const base = { ...state, leaves, lastUpdatedTime: at };

  const byId = new Map<number, number>();
  leaves.forEach((l, i) => {
    if ((l.st === "task" || l.st === "timer") && l.id !== undefined) byId.set(l.id, i);
  });

  // Control messages first, in arrival order; the rest waits while suspended.
  const work: InstanceMessage[] = [];
  let terminated: string | undefined;
  for (const m of inbox) {
    if (terminated !== undefined) {
      consumed.push(m);
      continue;
    }
    if (m.kind === "terminate") {
      terminated = m.reason;
      consumed.push(m);
    } else if (m.kind === "suspend") {
      consumed.push(m);
      if (!suspended) {
        suspended = true;
        appended.push(ev(EventType.ExecutionSuspended, -1, at, { Reason: m.reason }));
      }
    } else if (m.kind === "resume") {
      consumed.push(m);
      if (suspended) {
        suspended = false;
        appended.push(ev(EventType.ExecutionResumed, -1, at, { Reason: m.reason }));
      }
    } else work.push(m);
  }

  if (terminated !== undefined) {
    consumed.push(...work);
    appended.push(ev(EventType.ExecutionTerminated, -1, at, { Input: JSON.stringify(terminated) }));
    appended.push(ev(EventType.ExecutionCompleted, -1, at, { OrchestrationStatus: "Terminated", Result: JSON.stringify(terminated) }));
    const output = JSON.stringify(terminated);
    return finish(state, { ...base, status: "Terminated", output }, appended, changed, consumed, held, decisions, {
      status: "Terminated",
      output,
    });
  }
  if (suspended) {
    held.push(...work);
    return finish(state, { ...base, status: "Suspended" }, appended, changed, consumed, held, decisions);
  }
  status = "Running";

  // Incoming events: id-taking ones first (see the header), then the others in arrival order.
  const early: HistoryEvent[] = [];
  const late: HistoryEvent[] = [];
  const decided: HistoryEvent[] = [];
  const takesId: (() => void)[] = [];
  // A retry's wait and the next part of a long timer both become a durable timer on the leaf.
  const startTimer = (leaf: (typeof leaves)[number], i: number, timerId: number, fireAt: string): void => {
    Object.assign(leaf, { st: "timer", id: timerId, fireAt });
    byId.set(timerId, i);
    decided.push(ev(EventType.TimerCreated, timerId, at, { FireAt: fireAt }));
    decisions.timers.push({ instanceId: state.instanceId, exec: state.exec, id: timerId, fireAt });
  };
  for (const m of work) {
    consumed.push(m);
    if (m.kind === "event") {
      // An event sent to one execution (an entity's response) is dropped by the next one, as
      // TaskOrchestrationDispatcher.ReconcileMessagesWithState drops ExecutionId mismatches.
      if (m.exec !== undefined && m.exec !== state.exec) continue;
      late.push(ev(EventType.EventRaised, -1, at, { Name: m.name, Input: m.input ?? undefined }));
      continue;
    }
    if (m.kind === "terminate" || m.kind === "suspend" || m.kind === "resume") continue;
    if (m.exec !== state.exec) continue;
    const i = byId.get(m.id);
    if (i === undefined) continue; // duplicate delivery or stale: already applied
    const leaf = leaves[i]!;
    byId.delete(m.id);
    changed.add(i);
    if (m.kind === "taskCompleted" && leaf.t === ActionType.CallHttp && leaf.st === "task") {
      const poll = nextPoll(JSON.parse(leaf.in ?? "{}") as DurableHttpRequestWire, m.result, cfg.httpAsyncSleepMs ?? DEFAULT_HTTP_ASYNC_SLEEP_MS);
      const e = ev(EventType.TaskCompleted, -1, at, { TaskScheduledId: m.id, Result: m.result ?? "null" });
      if (poll) {
        // A 202 to poll: the library's CallHttpWithPollingTask takes two ids now, the timer's
        // and the next request's, without resuming user code (see the header).
        early.push(e);
        takesId.push(() => {
          const timerId = nextId++;
          leaf.next = nextId++;
          leaf.in = JSON.stringify(poll.request);
          startTimer(leaf, i, timerId, new Date(nowMs + poll.delayMs).toISOString());
        });
      } else {
        leaf.st = "done";
        late.push(e);
      }
      continue;
    }
    if (m.kind === "timerFired" && leaf.t === ActionType.CallHttp && leaf.st === "timer" && leaf.next !== undefined) {
      // The poll timer fired: send the GET of the Location under the id taken at the 202.
      late.push(ev(EventType.TimerFired, -1, at, { TimerId: m.id, FireAt: m.fireAt }));
      const pollId = leaf.next;
      Object.assign(leaf, { st: "task", id: pollId, fireAt: undefined, next: undefined });
      byId.set(pollId, i);
      schedule(leaf, pollId, at, state, decided, decisions);
      continue;
    }
    if (m.kind === "taskCompleted" || m.kind === "subCompleted") {
      if (leaf.st !== "task") continue;
      leaf.st = "done";
      const type = m.kind === "taskCompleted" ? EventType.TaskCompleted : EventType.SubOrchestrationInstanceCompleted;
      late.push(ev(type, -1, at, { TaskScheduledId: m.id, Result: m.result ?? "null" }));
    } else if (m.kind === "taskFailed" || m.kind === "subFailed") {
      if (leaf.st !== "task") continue;
      const type = m.kind === "taskFailed" ? EventType.TaskFailed : EventType.SubOrchestrationInstanceFailed;
      const e = ev(type, -1, at, { TaskScheduledId: m.id, Reason: m.reason, Details: m.details });
      if (m.failure) e.FailureDetails = m.failure;
      if (leaf.retry) {
        const r = leaf.retry;
        r.lastReason = m.reason;
        r.lastDetails = m.details;
        r.lastFailure = m.failure;
        early.push(e);
        takesId.push(() => {
          const timerId = nextId++;
          const delay = nextRetryDelay(r, nowMs);
          // Past the retry timeout the library still waits for a timer: fire it at once and
          // fail the remaining attempts without running them.
          if (delay === undefined) r.expired = true;
          startTimer(leaf, i, timerId, new Date(nowMs + (delay ?? 0)).toISOString());
        });
      } else {
        leaf.st = "done";
        late.push(e);
      }
    } else if (m.kind === "timerFired") {
      if (leaf.st !== "timer") continue;
      const e = ev(EventType.TimerFired, -1, at, { TimerId: m.id, FireAt: m.fireAt });
      if (leaf.retry && leaf.retry.attempt < leaf.retry.max) {
        const r = leaf.retry;
        early.push(e);
        takesId.push(() => {
          const attemptId = nextId++;
          r.attempt++;
          Object.assign(leaf, { st: "task", id: attemptId, fireAt: undefined });
          byId.set(attemptId, i);
          if (r.expired) {
            const failed: InstanceMessage = isSub(leaf.t)
              ? { kind: "subFailed", exec: state.exec, id: attemptId, reason: r.lastReason ?? "retry timeout expired", details: r.lastDetails ?? "", failure: r.lastFailure }
              : { kind: "taskFailed", exec: state.exec, id: attemptId, reason: r.lastReason ?? "retry timeout expired", details: r.lastDetails ?? "", failure: r.lastFailure };
            decided.push(scheduledEvent(leaf, attemptId, at, state.exec));
            decisions.selfMessages.push(failed);
          } else {
            schedule(leaf, attemptId, at, state, decided, decisions);
          }
        });
      } else if (leaf.final !== undefined && Date.parse(leaf.final) > nowMs) {
        const finalMs = Date.parse(leaf.final);
        early.push(e);
        takesId.push(() => {
          const timerId = nextId++;
          startTimer(leaf, i, timerId, new Date(subTimerFireAt(finalMs, nowMs, cfg)).toISOString());
        });
      } else {
        leaf.st = "done";
        late.push(e);
      }
    }
  }
  for (const f of takesId) f();

  if (firstEpisode) {
    appended.push(
      ev(EventType.ExecutionStarted, -1, at, {
        Name: state.name,
        Input: state.input,
        OrchestrationInstance: { InstanceId: state.instanceId, ExecutionId: state.exec },
        ParentInstance: state.parent
          ? { OrchestrationInstance: { InstanceId: state.parent.instanceId, ExecutionId: state.parent.exec }, TaskScheduleId: state.parent.id }
          : undefined,
      }),
    );
  }
  appended.push(...early, ...late);

  const payload: OrchestrationTriggerPayload = {
    history: [...state.history, ...appended],
    input: state.input === undefined ? undefined : JSON.parse(state.input),
    instanceId: state.instanceId,
    isReplaying: !firstEpisode,
    parentInstanceId: state.parent?.instanceId,
    upperSchemaVersion: 2,
    // V4, as the extension advertises since it understands LockEntities/ReleaseEntities (critical sections).
    upperSchemaVersionNew: 3,
    longRunningTimerIntervalDuration: cfg.longRunningTimerIntervalDuration,
    maximumShortTimerDuration: cfg.maximumShortTimerDuration,
    defaultHttpAsyncRequestSleepTimeMillseconds: cfg.httpAsyncSleepMs ?? DEFAULT_HTTP_ASYNC_SLEEP_MS,
  };
  const call = await invoke(state.name, payload);
  const out = call.state;
  let customStatus = out?.customStatus === undefined ? state.customStatus : JSON.stringify(out.customStatus);
  const customStatusError = out?.customStatus === undefined ? undefined : customStatusSizeError(customStatus ?? "null");
  if (customStatusError) customStatus = state.customStatus;

  const fail = (raw: string, failure?: FailureDetails) => {
    const message = withoutStackFrames(raw);
    const output = JSON.stringify(`Orchestrator function '${state.name}' failed: ${message}`);
    const details = failure ? { ...failure, ErrorMessage: withoutStackFrames(failure.ErrorMessage) } : { ErrorType: "Error", ErrorMessage: message };
    appended.push(...decided);
    appended.push(ev(EventType.OrchestratorCompleted, -1, at));
    appended.push(ev(EventType.ExecutionCompleted, -1, at, { OrchestrationStatus: "Failed", Result: output, FailureDetails: details }));
    return finish(state, { ...base, status: "Failed", output, customStatus, failure: details }, appended, changed, consumed, held, decisions, {
      status: "Failed",
      output,
      failure: details,
    });
  };

  if (customStatusError) return fail(customStatusError);

  // Compare what was scheduled before with what the orchestrator yields now.
  const flat = out ? flattenActions(out.actions) : [];
  const known = state.leaves.length;
  for (let i = 0; i < Math.min(known, flat.length); i++) {
    const a = flat[i]!;
    const old = state.leaves[i]!;
    const name = leafName(a);
    if (a.actionType !== old.t || name !== old.n) {
      return fail(
        `Non-deterministic workflow detected: orchestrator '${state.name}' now yields ${describe(a.actionType, name)} as action #${i}, ` +
          `but its history has ${describe(old.t, old.n)}${old.id !== undefined ? ` (event id ${old.id})` : ""} there. ` +
          `Orchestrator code must replay the same actions in the same order.`,
      );
    }
    if (a.actionType === ActionType.CreateTimer && a.isCanceled && leaves[i]!.st === "timer") {
      leaves[i]!.st = "done"; // a cancelled timer's firing changes nothing; skip it
      changed.add(i);
    }
  }
  if (call.ok && !out!.isDone && flat.length < known) {
    const old = state.leaves[flat.length]!;
    return fail(
      `Non-deterministic workflow detected: orchestrator '${state.name}' no longer yields ${describe(old.t, old.n)} (action #${flat.length}) that its history has.`,
    );
  }

  let continueAsNew: ActionWire | undefined;
  for (let i = known; i < flat.length; i++) {
    const a = flat[i]!;
    const t = a.actionType;
    const leaf: Leaf = { t, n: leafName(a), st: "none" };
    if (t === ActionType.CallActivity || t === ActionType.CallActivityWithRetry) {
      leaf.in = processedInputText(a.input);
      leaf.retry = retryState(isRetry(t) ? a.retryOptions : undefined, nowMs);
      const id = nextId++;
      Object.assign(leaf, { st: "task", id });
      schedule(leaf, id, at, state, decided, decisions);
    } else if (isSub(t)) {
      leaf.in = rawInputText(a.input);
      leaf.retry = retryState(isRetry(t) ? a.retryOptions : undefined, nowMs);
      if (a.instanceId) leaf.childId = a.instanceId;
      const id = nextId++;
      Object.assign(leaf, { st: "task", id });
      schedule(leaf, id, at, state, decided, decisions);
    } else if (t === ActionType.CreateTimer) {
      const id = nextId++;
      const finalMs = Date.parse(String(a.fireAt));
      let fireAtMs = finalMs;
      if (finalMs - nowMs > cfg.maxShortTimerMs) {
        leaf.final = new Date(finalMs).toISOString();
        fireAtMs = subTimerFireAt(finalMs, nowMs, cfg);
      }
      const fireAt = new Date(fireAtMs).toISOString();
      Object.assign(leaf, { st: "timer", id, fireAt });
      decided.push(ev(EventType.TimerCreated, id, at, { FireAt: fireAt }));
      decisions.timers.push({ instanceId: state.instanceId, exec: state.exec, id, fireAt });
    } else if (t === ActionType.CallHttp) {
      leaf.in = JSON.stringify(httpRequestOf(a));
      const id = nextId++;
      Object.assign(leaf, { st: "task", id });
      schedule(leaf, id, at, state, decided, decisions);
    } else if (t === ActionType.WaitForExternalEvent) {
      leaf.st = "none";
    } else if (t === ActionType.ContinueAsNew) {
      continueAsNew = a;
    } else if (isEntityAction(t)) {
      const r = scheduleEntityAction(a, leaf, {
        instanceId: state.instanceId,
        exec: state.exec,
        at,
        leaves,
        nextId: () => nextId++,
        hasEntity: cfg.hasEntity ?? (() => false),
      });
      if ("error" in r) return fail(r.error);
      decided.push(...r.events);
      decisions.entitySends.push(...r.sends);
    } else {
      return fail(`${describe(t, leafName(a))} is not supported by the local host.`);
    }
    leaves.push(leaf);
    changed.add(i);
  }

  if (!call.ok) return fail(call.message, out?.failureDetails);

  appended.push(...decided);
  appended.push(ev(EventType.OrchestratorCompleted, -1, at));
  const next: InstanceState = { ...base, status, customStatus, nextId };

  if (continueAsNew) {
    const input = processedInputText(continueAsNew.input);
    appended.push(ev(EventType.ExecutionCompleted, -1, at, { OrchestrationStatus: "ContinuedAsNew", Result: input }));
    return {
      ...finish(state, { ...next, status: "Running" }, appended, changed, consumed, held, decisions),
      continueAsNew: { input, carried: [] },
    };
  }
  if (out!.isDone) {
    const output = out!.output === undefined ? undefined : JSON.stringify(out!.output);
    appended.push(ev(EventType.ExecutionCompleted, -1, at, { OrchestrationStatus: "Completed", Result: output }));
    return finish(state, { ...next, status: "Completed", output }, appended, changed, consumed, held, decisions, {
      status: "Completed",
      output,
    });
  }
  return finish(state, next, appended, changed, consumed, held, decisions);
}

/** Instance id of a sub-orchestration: the app's, else DurableTask's "<parent execution id>:<event id>" (unique across continueAsNew generations and retry attempts). */
function childInstanceId(leaf: Leaf, id: number, exec: string): string {
  return leaf.childId ?? `${exec}:${id}`;
}

function scheduledEvent(leaf: Leaf, id: number, at: string, exec: string): HistoryEvent {
  if (isSub(leaf.t)) {
    return ev(EventType.SubOrchestrationInstanceCreated, id, at, {
      Name: leaf.n,
      Input: leaf.in,
      InstanceId: childInstanceId(leaf, id, exec),
    });
  }
  return ev(EventType.TaskScheduled, id, at, { Name: leaf.n, Input: leaf.in });
}

function schedule(leaf: Leaf, id: number, at: string, state: InstanceState, decided: HistoryEvent[], d: Decisions): void {
  decided.push(scheduledEvent(leaf, id, at, state.exec));
  if (isSub(leaf.t)) {
    const childId = childInstanceId(leaf, id, state.exec);
    leaf.child = childId;
    d.children.push({ instanceId: state.instanceId, exec: state.exec, id, name: leaf.n, childId, input: leaf.in });
  } else {
    d.activities.push({ instanceId: state.instanceId, exec: state.exec, id, name: leaf.n, input: leaf.in });
  }
}

function finish(
  prev: InstanceState,
  next: InstanceState,
  appended: HistoryEvent[],
  changed: Set<number>,
  consumed: InstanceMessage[],
  held: InstanceMessage[],
  decisions: Decisions,
  finished?: EpisodeResult["finished"],
): EpisodeResult {
  next.history = [...prev.history, ...appended];
  next.chunks = prev.chunks + 1;
  const leafPatch: [number, Leaf][] = [...changed].sort((a, b) => a - b).map((i) => [i, next.leaves[i]!]);
  if (finished) {
    // Nothing of a finished execution runs any more.
    decisions.activities = [];
    decisions.timers = [];
    decisions.children = [];
    decisions.selfMessages = [];
    // What it sent still goes out; a critical section it is still in ends with it.
    decisions.entitySends.push(...releaseOnEnd(prev.instanceId, next.leaves));
  }
  return { next, appended, leafPatch, consumed, held, decisions, finished };
}
