// Drives an orchestrator to the end without a host: the library's own replay harness
// (createOrchestrator + DurableOrchestrationInput, schema V3, DummyOrchestrationContext) is
// called once per episode, the local host's episode logic turns its actions into history,
// activities are stubs, and timers fire at once on a virtual clock.
import * as df from "durable-functions";
import type { OrchestrationHandler } from "durable-functions";
// The library's replay entry points ship without type declarations: typed here, narrowly.
type ReplayInputCtor = new (...args: unknown[]) => unknown;
type Handler = (trigger: unknown, ctx: unknown) => Promise<unknown>;
// eslint-disable-next-line @typescript-eslint/no-require-imports
const { ReplaySchema } = require("durable-functions/lib/src/orchestrations/ReplaySchema") as { ReplaySchema: { V3: number } };
// eslint-disable-next-line @typescript-eslint/no-require-imports
const testing = require("durable-functions/lib/src/util/testingUtils") as { createOrchestrator: (fn: unknown) => Handler; DurableOrchestrationInput: ReplayInputCtor };
const { createOrchestrator, DurableOrchestrationInput } = testing;
import { isOrchestratorState, parseOrchestratorError } from "../../local/host/durable/actions";
import { DEFAULT_LONG_TIMER_INTERVAL, DEFAULT_MAX_SHORT_TIMER, runEpisode, type OrchestratorInvoker } from "../../local/host/durable/executor/episode";
import type { InstanceMessage, InstanceState, RuntimeStatus } from "../../local/host/durable/types";

/** An activity stand-in: its input, the attempt (1, 2, … under retries) and the virtual time of the call. */
export type Stub = (input: unknown, attempt: number, nowMs: number) => unknown;

export type RunResult = {
  status: RuntimeStatus;
  output: unknown;
  /** Activity calls in the order they ran: [name, input]. */
  calls: [string, unknown][];
  customStatuses: unknown[];
  /** Entity operations sent (signals and calls), in order: [entity id "@name@key", operation]. */
  entityOps: [string, string][];
  /** Virtual time the orchestration took (timers), ms. */
  elapsedMs: number;
  timers: number;
};

/** The host's timer settings (timers fire on a virtual clock here). */
export const EPISODE_CONFIG = {
  maximumShortTimerDuration: DEFAULT_MAX_SHORT_TIMER, longRunningTimerIntervalDuration: DEFAULT_LONG_TIMER_INTERVAL, maxShortTimerMs: 6 * 86_400_000, longTimerIntervalMs: 3 * 86_400_000,
  // The app's one entity (signals to it are recorded as sent; nothing answers them here).
  hasEntity: (name: string) => name === "jobqueue",
};

/** Calls an orchestrator through the library's own replay entry point, as the host's invoke would. */
export function libraryInvoker(fn: OrchestrationHandler): OrchestratorInvoker {
  const handler = createOrchestrator(fn);
  return async (_name, p) => {
    const trigger = new DurableOrchestrationInput(p.instanceId, p.history as never, p.input, p.longRunningTimerIntervalDuration, p.maximumShortTimerDuration, p.defaultHttpAsyncRequestSleepTimeMillseconds, ReplaySchema.V3, p.isReplaying);
    try {
      const state: unknown = JSON.parse(JSON.stringify(await handler(trigger, new df.DummyOrchestrationContext("test", "inv", () => undefined) as never)));
      if (!isOrchestratorState(state)) return { ok: false, message: "unexpected orchestrator result" };
      return { ok: true, state };
    } catch (err) {
      const parsed = parseOrchestratorError((err as Error).message);
      return { ok: false, message: parsed.state?.error ?? parsed.message, ...(parsed.state ? { state: parsed.state } : {}) };
    }
  };
}

export async function runOrchestration(fn: OrchestrationHandler, input: unknown, stubs: Record<string, Stub>, maxEpisodes = 2000): Promise<RunResult> {
  const customStatuses: unknown[] = [];
  const invoke = libraryInvoker(fn);
  const start = new Date("2025-01-06T08:00:00Z").getTime();
  let now = start;
  let state: InstanceState = {
    instanceId: "test-instance", name: "orchestrator", exec: "e1", status: "Pending", input: JSON.stringify(input),
    createdTime: new Date(now).toISOString(), lastUpdatedTime: new Date(now).toISOString(), history: [], leaves: [], nextId: 0, chunks: 0,
  };
  const calls: [string, unknown][] = [];
  const entityOps: [string, string][] = [];
  const attempts = new Map<string, number>();
  let inbox: InstanceMessage[] = [];
  let pendingTimers: { id: number; fireAt: string }[] = [];
  let timers = 0;
  for (let episode = 0; episode < maxEpisodes; episode++) {
    const r = await runEpisode(state, inbox, new Date(now), EPISODE_CONFIG, invoke);
    for (const e of r.appended) e.IsPlayed = true;
    state = r.next;
    for (const s of r.decisions.entitySends) {
      const m = s.msg as { kind?: string; req?: { op?: string } };
      if (m.kind === "op") entityOps.push([s.to, m.req?.op ?? ""]);
    }
    if (state.customStatus !== undefined) {
      const cs: unknown = JSON.parse(state.customStatus);
      if (JSON.stringify(customStatuses.at(-1)) !== JSON.stringify(cs)) customStatuses.push(cs);
    }
    if (r.finished) {
      return { status: r.finished.status, output: r.finished.output ? JSON.parse(r.finished.output) : undefined, calls, customStatuses, entityOps, elapsedMs: now - start, timers };
    }
    inbox = [...r.decisions.selfMessages];
    pendingTimers.push(...r.decisions.timers.map((t) => ({ id: t.id, fireAt: t.fireAt })));
    for (const a of r.decisions.activities) {
      const stub = stubs[a.name];
      const arg: unknown = a.input === undefined ? undefined : JSON.parse(a.input);
      calls.push([a.name, arg]);
      const key = `${a.name}|${a.input}`;
      const n = (attempts.get(key) ?? 0) + 1;
      attempts.set(key, n);
      try {
        if (!stub) throw new Error(`no stub for activity ${a.name}`);
        const value = await stub(arg, n, now);
        inbox.push({ kind: "taskCompleted", exec: state.exec, id: a.id, result: value === undefined ? null : JSON.stringify(value) });
      } catch (err) {
        inbox.push({ kind: "taskFailed", exec: state.exec, id: a.id, reason: (err as Error).message, details: "" });
      }
    }
    if (inbox.length === 0) {
      pendingTimers.sort((x, y) => Date.parse(x.fireAt) - Date.parse(y.fireAt));
      const t = pendingTimers.shift();
      if (!t) throw new Error(`orchestration is stuck (status ${state.status}, no work pending)`);
      now = Math.max(now, Date.parse(t.fireAt));
      timers++;
      inbox.push({ kind: "timerFired", exec: state.exec, id: t.id, fireAt: t.fireAt });
    } else {
      now += 5; // activities take a little time
    }
  }
  throw new Error("too many episodes");
}
