// Actions the orchestrator yielded for the first time become leaves: one handler per action
// type. Each takes its event ids in yield order, as the library numbers them on replay.
import { processedInputText, rawInputText } from "../actions";
import { httpRequestOf } from "../durableHttp";
import { isEntityAction, scheduleEntityAction } from "../entities/orchestration";
import { ActionType, EventType, type ActionWire, type Leaf } from "../types";
import { describe, ev, isRetry, leafName } from "./leaves";
import { retryState, subTimerFireAt } from "./retry";
import type { EpisodeRun } from "./run";

/** Fills in the new leaf and schedules what it needs; returns why the orchestration fails, if it must. */
type ActionHandler = (run: EpisodeRun, a: ActionWire, leaf: Leaf) => string | void;

const scheduleTask = (run: EpisodeRun, leaf: Leaf): void => {
  const id = run.takeId();
  Object.assign(leaf, { st: "task", id });
  run.schedule(leaf, id);
};

const callActivity: ActionHandler = (run, a, leaf) => {
  leaf.in = processedInputText(a.input);
  leaf.retry = retryState(isRetry(a.actionType) ? a.retryOptions : undefined, run.nowMs);
  scheduleTask(run, leaf);
};

const callSubOrchestrator: ActionHandler = (run, a, leaf) => {
  leaf.in = rawInputText(a.input);
  leaf.retry = retryState(isRetry(a.actionType) ? a.retryOptions : undefined, run.nowMs);
  if (a.instanceId) leaf.childId = a.instanceId;
  if (typeof a.version === "string") leaf.ver = a.version;
  scheduleTask(run, leaf);
};

/** A timer beyond maximumShortTimerDuration runs as a chain of sub-timers (LongTimerTask). */
const createTimer: ActionHandler = (run, a, leaf) => {
  const id = run.takeId();
  const finalMs = Date.parse(String(a.fireAt));
  let fireAtMs = finalMs;
  if (finalMs - run.nowMs > run.cfg.maxShortTimerMs) {
    leaf.final = new Date(finalMs).toISOString();
    fireAtMs = subTimerFireAt(finalMs, run.nowMs, run.cfg);
  }
  const fireAt = new Date(fireAtMs).toISOString();
  Object.assign(leaf, { st: "timer", id, fireAt });
  run.decided.push(ev(EventType.TimerCreated, id, run.at, { FireAt: fireAt }));
  run.decisions.timers.push({ instanceId: run.state.instanceId, exec: run.state.exec, id, fireAt });
};

const callHttp: ActionHandler = (run, a, leaf) => {
  leaf.in = JSON.stringify(httpRequestOf(a));
  scheduleTask(run, leaf);
};

/** Nothing to schedule: the event arrives as EventRaised. */
const waitForExternalEvent: ActionHandler = (_run, _a, leaf) => {
  leaf.st = "none";
};

const entityAction: ActionHandler = (run, a, leaf) => {
  const r = scheduleEntityAction(a, leaf, {
    instanceId: run.state.instanceId,
    exec: run.state.exec,
    at: run.at,
    leaves: run.leaves,
    nextId: () => run.takeId(),
    hasEntity: run.cfg.hasEntity ?? (() => false),
  });
  if ("error" in r) return r.error;
  run.decided.push(...r.events);
  run.decisions.entitySends.push(...r.sends);
};

const handlers: Partial<Record<number, ActionHandler>> = {
  [ActionType.CallActivity]: callActivity,
  [ActionType.CallActivityWithRetry]: callActivity,
  [ActionType.CallSubOrchestrator]: callSubOrchestrator,
  [ActionType.CallSubOrchestratorWithRetry]: callSubOrchestrator,
  [ActionType.CreateTimer]: createTimer,
  [ActionType.CallHttp]: callHttp,
  [ActionType.WaitForExternalEvent]: waitForExternalEvent,
};

/**
 * Turns the actions after the known leaves into new leaves. Returns the continueAsNew action if
 * one was yielded (it takes no leaf's work), or the reason the orchestration fails.
 */
export function applyNewActions(run: EpisodeRun, flat: ActionWire[], known: number): { continueAsNew?: ActionWire; error?: string } {
  let continueAsNew: ActionWire | undefined;
  for (let i = known; i < flat.length; i++) {
    const a = flat[i]!;
    const t = a.actionType;
    const leaf: Leaf = { t, n: leafName(a), st: "none" };
    if (t === ActionType.ContinueAsNew) continueAsNew = a;
    else {
      const handler = isEntityAction(t) ? entityAction : handlers[t];
      const error = handler ? handler(run, a, leaf) : `${describe(t, leafName(a))} is not supported by the local host.`;
      if (error) return { error };
    }
    run.leaves.push(leaf);
    run.changed.add(i);
  }
  return { continueAsNew };
}
