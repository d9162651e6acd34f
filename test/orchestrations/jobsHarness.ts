// An episode-by-episode driver for the jobs orchestrators: like harness.ts (the library's
// replay entry point + the local host's episode logic), plus external events raised between
// episodes, activity results held back and delivered in chosen batches, and continueAsNew
// (the next generation starts with the carried events, as the engine does).
import type { OrchestrationHandler } from "durable-functions";
import { runEpisode, type OrchestratorInvoker } from "../../local/host/durable/executor/episode";
import type { InstanceMessage, InstanceState } from "../../local/host/durable/types";
import { EPISODE_CONFIG, libraryInvoker } from "./harness";

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

  /** Entity operations the orchestration called: [operation, input]. */
  entityCalls: [string, unknown][] = [];

  /** `entityStubs`: answers of entity operations by operation name (calls are answered in the next episode). */
  constructor(fn: OrchestrationHandler, input: unknown, private readonly stubs: Record<string, ActivityStub>, private readonly entityStubs: Record<string, ActivityStub> = {}) {
    this.invoke = libraryInvoker(fn);
    const at = new Date(this.now).toISOString();
    this.state = { instanceId: "test", name: "orchestrator", exec: "g1", status: "Pending", input: JSON.stringify(input), createdTime: at, lastUpdatedTime: at, history: [], leaves: [], nextId: 0, chunks: 0 };
  }

  raise(name: string, payload: unknown): void {
    this.inbox.push({ kind: "event", name, input: JSON.stringify(payload) });
  }

  /** One episode with everything in the inbox; activities run on their stubs, results queue up for the next one. */
  async episode(): Promise<void> {
    const batch = this.inbox;
    this.inbox = [];
    const r = await runEpisode(this.state, batch, new Date(this.now), { ...EPISODE_CONFIG, hasEntity: () => true }, this.invoke);
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
    for (const send of r.decisions.entitySends) {
      if (send.msg.kind !== "op" || send.msg.req.signal) continue;
      const { op = "", input, id } = send.msg.req;
      const arg: unknown = input === undefined ? undefined : JSON.parse(input);
      this.entityCalls.push([op, arg]);
      const stub = this.entityStubs[op];
      const value = stub ? stub(arg) : null;
      // The entity's answer, raised on the caller under the request id (as the engine delivers it).
      this.inbox.push({ kind: "event", name: id, input: JSON.stringify({ result: JSON.stringify(value ?? null) }) });
    }
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
