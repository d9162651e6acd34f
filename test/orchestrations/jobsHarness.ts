// An episode-by-episode driver for the jobs orchestrators: like harness.ts (the library's
// replay entry point + the local host's episode logic), plus external events raised between
// episodes, activity results held back and delivered in chosen batches, and continueAsNew
// (the next generation starts with the carried events, as the engine does).
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
import { DEFAULT_LONG_TIMER_INTERVAL, DEFAULT_MAX_SHORT_TIMER, runEpisode, type OrchestratorInvoker } from "../../local/host/durable/episode";
import type { InstanceMessage, InstanceState } from "../../local/host/durable/types";

export type ActivityStub = (input: unknown) => unknown;

export class Replay {
  state: InstanceState;
  now = new Date("2025-01-06T08:00:00Z").getTime();
  inbox: InstanceMessage[] = [];
  timers: { id: number; exec: string; fireAt: string }[] = [];
  calls: [string, unknown][] = [];
  generations = 1;
  finished?: { status: string; output: unknown };
  /** When set, activity results wait in `heldResults` until `release()` (an activity still running). */
  holdActivities = false;
  heldResults: InstanceMessage[] = [];
  private readonly invoke: OrchestratorInvoker;

  constructor(fn: OrchestrationHandler, input: unknown, private readonly stubs: Record<string, ActivityStub>) {
    const handler = createOrchestrator(fn);
    this.invoke = async (_name, p) => {
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
    const at = new Date(this.now).toISOString();
    this.state = { instanceId: "test", name: "orchestrator", exec: "g1", status: "Pending", input: JSON.stringify(input), createdTime: at, lastUpdatedTime: at, history: [], leaves: [], nextId: 0, chunks: 0 };
  }

  raise(name: string, payload: unknown): void {
    this.inbox.push({ kind: "event", name, input: JSON.stringify(payload) });
  }

  /** One episode with everything in the inbox; activities run on their stubs, results queue up for the next one. */
  async episode(): Promise<void> {
    const cfg = { maximumShortTimerDuration: DEFAULT_MAX_SHORT_TIMER, longRunningTimerIntervalDuration: DEFAULT_LONG_TIMER_INTERVAL, maxShortTimerMs: 6 * 86_400_000, longTimerIntervalMs: 3 * 86_400_000 };
    const batch = this.inbox;
    this.inbox = [];
    const r = await runEpisode(this.state, batch, new Date(this.now), cfg, this.invoke);
    for (const e of r.appended) e.IsPlayed = true;
    this.state = r.next;
    this.inbox.unshift(...r.held);
    if (r.finished) {
      this.finished = { status: r.finished.status, output: r.finished.output ? JSON.parse(r.finished.output) : undefined };
      return;
    }
    if (r.continueAsNew) {
      this.generations++;
      this.state = { ...this.state, exec: `g${this.generations}`, status: "Running", input: r.continueAsNew.input, history: [], leaves: [], nextId: 0, chunks: 0 };
      this.inbox.unshift(...r.continueAsNew.carried);
      this.timers = [];
      return;
    }
    this.timers.push(...r.decisions.timers.map((t) => ({ id: t.id, exec: t.exec, fireAt: t.fireAt })));
    for (const a of r.decisions.activities) {
      const arg: unknown = a.input === undefined ? undefined : JSON.parse(a.input);
      this.calls.push([a.name, arg]);
      try {
        const stub = this.stubs[a.name];
        if (!stub) throw new Error(`no stub for activity ${a.name}`);
        const value = await stub(arg);
        (this.holdActivities ? this.heldResults : this.inbox).push({ kind: "taskCompleted", exec: a.exec, id: a.id, result: value === undefined ? null : JSON.stringify(value) });
      } catch (err) {
        (this.holdActivities ? this.heldResults : this.inbox).push({ kind: "taskFailed", exec: a.exec, id: a.id, reason: (err as Error).message, details: "" });
      }
    }
  }

  /** Delivers the held activity results with the next episode. */
  release(): void {
    this.inbox.push(...this.heldResults);
    this.heldResults = [];
  }

  /** Episodes until nothing is left to deliver but timers (fired in order on the virtual clock if `fireTimers`). */
  async settle(fireTimers = false, maxEpisodes = 5000): Promise<void> {
    for (let i = 0; i < maxEpisodes && !this.finished; i++) {
      if (this.inbox.length === 0 && this.state.history.length > 0) {
        if (!fireTimers || this.timers.length === 0) return;
        this.timers.sort((a, b) => Date.parse(a.fireAt) - Date.parse(b.fireAt));
        const t = this.timers.shift()!;
        this.now = Math.max(this.now, Date.parse(t.fireAt));
        this.inbox.push({ kind: "timerFired", exec: t.exec, id: t.id, fireAt: t.fireAt });
      }
      await this.episode();
      this.now += 1;
    }
  }

  callsTo(name: string): unknown[] {
    return this.calls.filter(([n]) => n === name).map(([, i]) => i);
  }
}
