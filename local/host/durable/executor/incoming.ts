// New messages become history events: one handler per message kind. Events that take an event
// id without resuming user code (a retried task's failure, a retry timer with attempts left, a
// long timer's sub-timer, a durable HTTP 202) go to `early` and register the id they take;
// everything else goes to `late`, in arrival order (see the header of episode.ts).
import { DEFAULT_HTTP_ASYNC_SLEEP_MS, nextPoll, type DurableHttpRequestWire } from "../durableHttp";
import { ActionType, EventType, type InstanceMessage, type Leaf } from "../types";
import { ev, isSub, scheduledEvent } from "./leaves";
import { nextRetryDelay, subTimerFireAt } from "./retry";
import type { EpisodeRun } from "./run";

type Result = Exclude<InstanceMessage, { kind: "event" | "terminate" | "suspend" | "resume" | "rewind" }>;
type Of<K extends Result["kind"]> = Extract<Result, { kind: K }>;
type Handler<M extends Result> = (run: EpisodeRun, m: M, leaf: Leaf, i: number) => void;

/** An activity's or sub-orchestration's result. */
const completed: Handler<Of<"taskCompleted" | "subCompleted">> = (run, m, leaf) => {
  if (leaf.st !== "task") return;
  leaf.st = "done";
  const type = m.kind === "taskCompleted" ? EventType.TaskCompleted : EventType.SubOrchestrationInstanceCompleted;
  run.late.push(ev(type, -1, run.at, { TaskScheduledId: m.id, Result: m.result ?? "null" }));
};

/** A durable HTTP response: a 202 to poll takes two ids now, the timer's and the next request's (CallHttpWithPollingTask). */
const httpResponse: Handler<Of<"taskCompleted">> = (run, m, leaf, i) => {
  const poll = nextPoll(JSON.parse(leaf.in ?? "{}") as DurableHttpRequestWire, m.result, run.cfg.httpAsyncSleepMs ?? DEFAULT_HTTP_ASYNC_SLEEP_MS);
  const e = ev(EventType.TaskCompleted, -1, run.at, { TaskScheduledId: m.id, Result: m.result ?? "null" });
  if (!poll) {
    leaf.st = "done";
    run.late.push(e);
    return;
  }
  run.early.push(e);
  run.takesId.push(() => {
    const timerId = run.takeId();
    leaf.next = run.takeId();
    leaf.in = JSON.stringify(poll.request);
    run.startTimer(leaf, i, timerId, new Date(run.nowMs + poll.delayMs).toISOString());
  });
};

/** A failure: final without retry options, else the retry waits on a timer. */
const failed: Handler<Of<"taskFailed" | "subFailed">> = (run, m, leaf, i) => {
  if (leaf.st !== "task") return;
  const type = m.kind === "taskFailed" ? EventType.TaskFailed : EventType.SubOrchestrationInstanceFailed;
  const e = ev(type, -1, run.at, { TaskScheduledId: m.id, Reason: m.reason, Details: m.details });
  if (m.failure) e.FailureDetails = m.failure;
  if (!leaf.retry) {
    leaf.st = "done";
    run.late.push(e);
    return;
  }
  const r = leaf.retry;
  r.lastReason = m.reason;
  r.lastDetails = m.details;
  r.lastFailure = m.failure;
  run.early.push(e);
  run.takesId.push(() => {
    const timerId = run.takeId();
    const delay = nextRetryDelay(r, run.nowMs);
    // Past the retry timeout the library still waits for a timer: fire it at once and
    // fail the remaining attempts without running them.
    if (delay === undefined) r.expired = true;
    run.startTimer(leaf, i, timerId, new Date(run.nowMs + (delay ?? 0)).toISOString());
  });
};

/** A retry timer with attempts left starts the next attempt (or fails it at once past the retry timeout). */
function nextAttempt(run: EpisodeRun, leaf: Leaf, i: number): void {
  const r = leaf.retry!;
  const { state } = run;
  const attemptId = run.takeId();
  r.attempt++;
  Object.assign(leaf, { st: "task", id: attemptId, fireAt: undefined });
  run.byId.set(attemptId, i);
  if (!r.expired) return run.schedule(leaf, attemptId);
  const reason = r.lastReason ?? "retry timeout expired";
  const failure: InstanceMessage = isSub(leaf.t)
    ? { kind: "subFailed", exec: state.exec, id: attemptId, reason, details: r.lastDetails ?? "", failure: r.lastFailure }
    : { kind: "taskFailed", exec: state.exec, id: attemptId, reason, details: r.lastDetails ?? "", failure: r.lastFailure };
  run.decided.push(scheduledEvent(leaf, attemptId, run.at, state.exec));
  run.decisions.selfMessages.push(failure);
}

const timerFired: Handler<Of<"timerFired">> = (run, m, leaf, i) => {
  const e = ev(EventType.TimerFired, -1, run.at, { TimerId: m.id, FireAt: m.fireAt });
  if (leaf.t === ActionType.CallHttp && leaf.st === "timer" && leaf.next !== undefined) {
    // The poll timer fired: send the GET of the Location under the id taken at the 202.
    run.late.push(e);
    const pollId = leaf.next;
    Object.assign(leaf, { st: "task", id: pollId, fireAt: undefined, next: undefined });
    run.byId.set(pollId, i);
    run.schedule(leaf, pollId);
    return;
  }
  if (leaf.st !== "timer") return;
  if (leaf.retry && leaf.retry.attempt < leaf.retry.max) {
    run.early.push(e);
    run.takesId.push(() => nextAttempt(run, leaf, i));
  } else if (leaf.final !== undefined && Date.parse(leaf.final) > run.nowMs) {
    const finalMs = Date.parse(leaf.final);
    run.early.push(e);
    run.takesId.push(() => run.startTimer(leaf, i, run.takeId(), new Date(subTimerFireAt(finalMs, run.nowMs, run.cfg)).toISOString()));
  } else {
    leaf.st = "done";
    run.late.push(e);
  }
};

const handlers: { [K in Result["kind"]]: Handler<Of<K>> } = {
  taskCompleted: (run, m, leaf, i) => (leaf.t === ActionType.CallHttp && leaf.st === "task" ? httpResponse(run, m, leaf, i) : completed(run, m, leaf, i)),
  subCompleted: completed,
  taskFailed: failed,
  subFailed: failed,
  timerFired,
};

/** An external event; one sent to another execution (an entity's response) is dropped. */
function raised(run: EpisodeRun, m: Extract<InstanceMessage, { kind: "event" }>): void {
  // As TaskOrchestrationDispatcher.ReconcileMessagesWithState drops ExecutionId mismatches.
  if (m.exec !== undefined && m.exec !== run.state.exec) return;
  run.late.push(ev(EventType.EventRaised, -1, run.at, { Name: m.name, Input: m.input ?? undefined }));
}

/** Applies the non-control messages, then takes the ids the early events need, in order. */
export function applyIncoming(run: EpisodeRun, work: InstanceMessage[]): void {
  for (const m of work) {
    run.consumed.push(m);
    if (m.kind === "event") {
      raised(run, m);
      continue;
    }
    if (m.kind === "rewind") {
      // AzureStorageOrchestrationService.RewindTaskOrchestrationAsync revives the instance with
      // a GenericEvent(-1, reason) message; it lands in the history as such.
      run.late.push(ev(EventType.GenericEvent, -1, run.at, { Data: m.reason }));
      continue;
    }
    if (m.kind === "terminate" || m.kind === "suspend" || m.kind === "resume") continue;
    if (m.exec !== run.state.exec) continue;
    const i = run.byId.get(m.id);
    if (i === undefined) continue; // duplicate delivery or stale: already applied
    run.byId.delete(m.id);
    run.changed.add(i);
    (handlers[m.kind] as Handler<Result>)(run, m, run.leaves[i]!, i);
  }
  for (const f of run.takesId) f();
}

/**
 * Leaves whose failure was rewound are scheduled again under their old event id: the history
 * no longer has their TaskScheduled, so the replay issues it anew (as DurableTask.Core does for
 * an action without a scheduled event).
 */
export function rescheduleRewound(run: EpisodeRun): void {
  run.leaves.forEach((leaf, i) => {
    if (leaf.st !== "rewound" || leaf.id === undefined) return;
    leaf.st = "task";
    run.byId.set(leaf.id, i);
    run.changed.add(i);
    run.schedule(leaf, leaf.id);
  });
}
