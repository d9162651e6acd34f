// Drives an orchestration through OUR episode logic (local/host/durable/executor/episode.ts) and the
// REAL library orchestrator, in process, with a virtual clock and no storage. A scenario
// says, episode by episode, which pending work finishes (so races and the delivery order of
// the library's recorded histories can be reproduced); once the script runs out every
// pending activity and sub-orchestration finishes, else the earliest timer fires.
import * as df from "durable-functions";
import { createOrchestrator } from "durable-functions/lib/src/util/testingUtils";
import type { OrchestrationContext } from "durable-functions";
import { parseOrchestratorError } from "../../local/host/durable/actions";
import {
  DEFAULT_LONG_TIMER_INTERVAL,
  DEFAULT_MAX_SHORT_TIMER,
  runEpisode,
  type ActivityWork,
  type ChildWork,
  type EpisodeConfig,
  type OrchestratorCall,
  type TimerWork,
} from "../../local/host/durable/executor/episode";
import { EventType, EventTypeName, type HistoryEvent, type InstanceMessage, type InstanceState } from "../../local/host/durable/types";

export type Gen = (ctx: OrchestrationContext) => Generator<unknown, unknown, unknown>;
/** An activity: returns its result or throws; `attempt` counts runs of this name+input. */
export type ActivityImpl = (input: unknown, attempt: number) => unknown;
export type App = { orchestrators: Record<string, Gen>; activities: Record<string, ActivityImpl> };

/** What finishes in one episode. */
export type Step =
  | { activity: string; input?: unknown }
  | { timer: true }
  /** The timer that fired last is delivered once more (at-least-once delivery). */
  | { timerAgain: true }
  | { child: string; input?: unknown }
  /** exec: the event is aimed at that execution (as an entity's response is). */
  | { raise: string; value?: unknown; exec?: string };

export type Run = {
  state: InstanceState;
  /** Every execution of the instance, oldest first (more than one after continueAsNew). */
  executions: InstanceState[];
  children: Map<string, Run>;
  /** Activity runs per name. */
  runs: Map<string, number>;
};

const DAY = 86_400_000;
/** The real host's defaults (6 days / 3 days), as the library's long-timer tests use. */
export const HOST_DEFAULTS: EpisodeConfig = {
  maximumShortTimerDuration: DEFAULT_MAX_SHORT_TIMER,
  longRunningTimerIntervalDuration: DEFAULT_LONG_TIMER_INTERVAL,
  maxShortTimerMs: 6 * DAY,
  longTimerIntervalMs: 3 * DAY,
};
export const T0 = Date.parse("2024-01-01T00:00:00Z");

function invoker(app: App) {
  const handlers = new Map<string, ReturnType<typeof createOrchestrator>>();
  return async (name: string, payload: unknown): Promise<OrchestratorCall> => {
    const fn = app.orchestrators[name];
    if (!fn) throw new Error(`no orchestrator '${name}' in the scenario`);
    if (!handlers.has(name)) handlers.set(name, createOrchestrator(fn as never));
    const ctx = new df.DummyOrchestrationContext();
    try {
      // JSON round trips: the payload and the result cross a process boundary in the host.
      const state = await handlers.get(name)!(JSON.parse(JSON.stringify(payload)), ctx as never);
      return { ok: true, state: JSON.parse(JSON.stringify(state)) };
    } catch (err) {
      const p = parseOrchestratorError((err as Error).message);
      return { ok: false, message: p.state?.error ?? p.message, state: p.state };
    }
  };
}

type Opts = {
  input?: unknown;
  instanceId?: string;
  script?: Step[][];
  cfg?: EpisodeConfig;
  /** Messages waiting before the first episode (events raised at start). */
  raisedBefore?: { name: string; value?: unknown }[];
  parent?: InstanceState["parent"];
  runs?: Map<string, number>;
  clock?: { now: number };
};

export async function run(app: App, name: string, o: Opts = {}): Promise<Run> {
  const invoke = invoker(app);
  const cfg = o.cfg ?? HOST_DEFAULTS;
  const clock = o.clock ?? { now: T0 };
  const runs = o.runs ?? new Map<string, number>();
  const children = new Map<string, Run>();
  const executions: InstanceState[] = [];
  const instanceId = o.instanceId ?? "contract";
  const fresh = (exec: string, input: string | undefined): InstanceState => ({
    instanceId, name, exec, status: "Pending", input, parent: o.parent,
    createdTime: new Date(clock.now).toISOString(), lastUpdatedTime: "", history: [], leaves: [], nextId: 0, chunks: 0,
  });
  let state = fresh("e1", o.input === undefined ? undefined : JSON.stringify(o.input));
  let inbox: InstanceMessage[] = (o.raisedBefore ?? []).map(raised);
  let activities: ActivityWork[] = [];
  let timers: TimerWork[] = [];
  let pendingChildren: ChildWork[] = [];
  let lastFired: TimerWork | undefined;
  const script = [...(o.script ?? [])];
  const attempts = new Map<string, number>();

  const doActivity = (a: ActivityWork): InstanceMessage => {
    runs.set(a.name, (runs.get(a.name) ?? 0) + 1);
    const key = `${a.name}|${a.input}`;
    const n = (attempts.get(key) ?? 0) + 1;
    attempts.set(key, n);
    const impl = app.activities[a.name];
    if (!impl) throw new Error(`no activity '${a.name}' in the scenario`);
    try {
      const v = impl(a.input === undefined ? undefined : JSON.parse(a.input), n);
      return { kind: "taskCompleted", exec: a.exec, id: a.id, result: v === undefined ? null : JSON.stringify(v) };
    } catch (err) {
      return { kind: "taskFailed", exec: a.exec, id: a.id, reason: `Activity function '${a.name}' failed: ${(err as Error).message}`, details: "" };
    }
  };
  const doChild = async (c: ChildWork): Promise<InstanceMessage> => {
    const r = await run(app, c.name, {
      instanceId: c.childId, input: c.input === undefined ? undefined : JSON.parse(c.input), cfg, runs, clock,
      parent: { instanceId: c.instanceId, exec: c.exec, id: c.id },
    });
    children.set(`${c.childId}#${c.id}`, r);
    const f = r.state;
    if (f.status === "Completed") return { kind: "subCompleted", exec: c.exec, id: c.id, result: f.output ?? null };
    return { kind: "subFailed", exec: c.exec, id: c.id, reason: `Orchestrator function '${c.name}' failed: ${f.failure?.ErrorMessage ?? f.status}`, details: "" };
  };
  const take = <T>(list: T[], match: (x: T) => boolean, what: string): T => {
    const i = list.findIndex(match);
    if (i < 0) throw new Error(`scenario: nothing pending for ${what}`);
    return list.splice(i, 1)[0]!;
  };
  const sameInput = (text: string | undefined, want: unknown) => want === undefined || text === JSON.stringify(want);

  for (let episode = 0; episode < 200; episode++) {
    const r = await runEpisode(state, inbox, new Date(clock.now), cfg, invoke);
    for (const e of r.appended) e.IsPlayed = true;
    state = r.next;
    inbox = [...r.decisions.selfMessages];
    activities.push(...r.decisions.activities);
    timers.push(...r.decisions.timers);
    pendingChildren.push(...r.decisions.children);
    if (r.continueAsNew) {
      executions.push(state);
      state = fresh(`e${executions.length + 1}`, r.continueAsNew.input);
      inbox = [...r.continueAsNew.carried];
      activities = [];
      timers = [];
      pendingChildren = [];
      continue; // the new execution's first episode starts it
    }
    if (r.finished) break;

    clock.now += 1000;
    const step = script.shift();
    if (step) {
      for (const s of step) {
        if ("activity" in s) inbox.push(doActivity(take(activities, (a) => a.name === s.activity && sameInput(a.input, s.input), `activity ${s.activity}`)));
        else if ("child" in s) inbox.push(await doChild(take(pendingChildren, (c) => c.name === s.child && sameInput(c.input, s.input), `child ${s.child}`)));
        else if ("raise" in s) inbox.push(raised({ name: s.raise, value: s.value, exec: s.exec }));
        else if ("timerAgain" in s) inbox.push({ kind: "timerFired", exec: state.exec, id: lastFired!.id, fireAt: lastFired!.fireAt });
        else inbox.push(fire(earliest(timers)));
      }
    } else if (inbox.length === 0) {
      for (const a of activities.splice(0)) inbox.push(doActivity(a));
      for (const c of pendingChildren.splice(0)) inbox.push(await doChild(c));
      if (inbox.length === 0 && timers.length) inbox.push(fire(earliest(timers)));
    }
    if (inbox.length === 0) break;
  }
  executions.push(state);
  return { state, executions, children, runs };

  function earliest(list: TimerWork[]): TimerWork {
    list.sort((a, b) => Date.parse(a.fireAt) - Date.parse(b.fireAt));
    const t = list.shift();
    if (!t) throw new Error("scenario: no pending timer");
    return t;
  }
  function fire(t: TimerWork): InstanceMessage {
    clock.now = Math.max(clock.now, Date.parse(t.fireAt));
    lastFired = t;
    return { kind: "timerFired", exec: t.exec, id: t.id, fireAt: t.fireAt };
  }
}

function raised(e: { name: string; value?: unknown; exec?: string }): InstanceMessage {
  return { kind: "event", name: e.name, input: e.value === undefined ? null : JSON.stringify(e.value), ...(e.exec ? { exec: e.exec } : {}) };
}

const BRACKETS: ReadonlySet<number> = new Set([EventType.OrchestratorStarted, EventType.OrchestratorCompleted, EventType.ExecutionCompleted]);

/**
 * A history as comparable rows, episode markers and the completion left out:
 * `Type#EventId Name` for events that take an id, `Type->TaskScheduledId|TimerId` for
 * their outcomes, `Type Name` for the rest.
 */
export function rows(history: HistoryEvent[]): string[] {
  return history
    .filter((e) => !BRACKETS.has(e.EventType))
    .map((e) => {
      const t = EventTypeName[e.EventType] ?? String(e.EventType);
      const name = typeof e.Name === "string" ? ` ${e.Name}` : "";
      if (e.EventId >= 0) return `${t}#${e.EventId}${name}`;
      if (typeof e.TaskScheduledId === "number") return `${t}->${e.TaskScheduledId}`;
      if (typeof e.TimerId === "number") return `${t}->${e.TimerId}`;
      return `${t}${name}`;
    });
}

/** FireAt − Timestamp of each TimerCreated, in ms. */
export function timerDelays(history: HistoryEvent[]): number[] {
  return history.filter((e) => e.EventType === EventType.TimerCreated).map((e) => Date.parse(String(e.FireAt)) - Date.parse(e.Timestamp));
}

/** FireAt of each TimerCreated, in ms after T0. */
export function timerFireAts(history: HistoryEvent[]): number[] {
  return history.filter((e) => e.EventType === EventType.TimerCreated).map((e) => Date.parse(String(e.FireAt)) - T0);
}

export const output = (r: Run): unknown => (r.state.output === undefined ? undefined : JSON.parse(r.state.output));
