// Orchestration work items: an instance with messages waiting (or not yet started) is queued,
// at most maxConcurrentOrchestratorFunctions episodes run at once, one at a time per instance.
// An episode is stored in the task hub in one transaction before anything it decided is
// dispatched; a crash before the commit replays the same messages, after it re-dispatches
// the open work from the stored history.
import { randomUUID } from "node:crypto";
import { chunkRowPrefix } from "../backend/rows";
import { toRow, type Chunk, type StoredMessage } from "../backend/records";
import type { TaskHubStore } from "../backend/store";
import type { EntityRuntime } from "../entities/runtime";
import { outboxRow } from "../entities/store";
import type { OutboxEntry } from "../entities/types";
import { runEpisode, type EpisodeConfig, type EpisodeResult } from "../executor/episode";
import { isTerminal, type InstanceState } from "../types";
import type { ActivityDispatcher } from "./activities";
import type { SubOrchestrations } from "./children";
import { callOrchestrator, errorMessage, sleep, type AppFunctions } from "./invoke";
import { gatherReplies } from "./gather";
import type { Live, LiveInstances } from "./live";
import { isRefusedWrite, MAX_REFUSED_ATTEMPTS, persistRetryDelay, unpersistableFailure } from "./persistFailure";
import type { DurableTimers } from "./timers";

const MAX_PERSISTED_PER_EPISODE = 90;
const TAKEN_MEMORY = 2000;

export type EpisodeDispatcherOptions = {
  store: TaskHubStore;
  maxOrchestrators: number;
  episode: EpisodeConfig;
  functions: AppFunctions;
  log(level: "warning" | "error", message: string): void;
  stats: { episodes: number };
  live: LiveInstances;
  timers: DurableTimers;
  activities: ActivityDispatcher;
  children: SubOrchestrations;
  /** Durable entities, if any: they receive what episodes send them. */
  entities(): EntityRuntime | undefined;
  settled(): void;
  stopped(): boolean;
};

type Batch = Live["inbox"];

/** What one episode writes: the row, its history chunk, consumed and new messages, its outbox. */
type Commit = {
  next: InstanceState;
  chunk?: Chunk;
  consumedKeys: string[];
  newMessages: StoredMessage[];
  outbox?: { rowKey: string; entries: OutboxEntry[] };
};

export class EpisodeDispatcher {
  private readonly ready: Live[] = [];
  private running = 0;

  constructor(private readonly o: EpisodeDispatcherOptions) {}

  get idle(): boolean {
    return this.running === 0 && this.ready.length === 0;
  }

  /** Queues the instance for an episode if it has work and is not queued or running. */
  kick(l: Live): void {
    if (l.running) l.arrived?.();
    if (this.o.stopped() || l.running || l.queued) return;
    if (isTerminal(l.state.status) && l.inbox.length === 0) return;
    const needsStart = l.state.history.length === 0 && !isTerminal(l.state.status);
    if (!needsStart && l.inbox.length === 0) return;
    if (l.state.status === "Suspended" && !l.inbox.some((m) => m.kind === "resume" || m.kind === "terminate")) return;
    l.queued = true;
    this.ready.push(l);
    this.pump();
  }

  private pump(): void {
    while (!this.o.stopped() && this.running < this.o.maxOrchestrators && this.ready.length) {
      const l = this.ready.shift()!;
      l.queued = false;
      l.running = true;
      this.running++;
      void this.runOne(l).finally(() => {
        l.running = false;
        this.running--;
        this.kick(l);
        this.pump();
        this.o.settled();
      });
    }
  }

  private async runOne(l: Live): Promise<void> {
    if (!isTerminal(l.state.status)) await gatherReplies(l);
    const batch = this.take(l);
    const prev = l.state;
    if (isTerminal(prev.status)) return this.dropLate(l, batch);
    let result: EpisodeResult;
    try {
      result = await runEpisode(prev, batch, new Date(), this.o.episode, (name, payload) => callOrchestrator(this.o.functions, name, payload));
    } catch (err) {
      this.o.log("error", `durable: episode of '${prev.instanceId}' crashed: ${(err as Error).message}`);
      l.inbox.unshift(...batch);
      await sleep(1000);
      return;
    }
    const c = this.commitOf(prev, result);
    try {
      await this.o.store.commitEpisode(toRow(c.next), c.chunk, c.consumedKeys, c.newMessages, c.outbox && outboxRow(prev.instanceId, c.outbox.rowKey, c.outbox.entries));
    } catch (err) {
      return this.commitFailed(l, batch, c.consumedKeys, err);
    }
    this.committed(l, prev, result, c);
  }

  /** The messages of the next episode (at most 90 stored ones, so the commit fits one transaction). */
  private take(l: Live): Batch {
    const batch: Batch = [];
    let persisted = 0;
    const taken = (l.taken ??= new Set());
    while (l.inbox.length && persisted < MAX_PERSISTED_PER_EPISODE) {
      const m = l.inbox.shift()!;
      if (m.rowKey) {
        persisted++;
        taken.add(m.rowKey);
        if (taken.size > TAKEN_MEMORY) taken.delete(taken.values().next().value!);
      }
      batch.push(m);
    }
    return batch;
  }

  /** Late messages for a finished execution: drop them (and their rows). */
  private async dropLate(l: Live, batch: Batch): Promise<void> {
    const id = l.state.instanceId;
    const keys = batch.flatMap((m) => (m.rowKey ? [m.rowKey] : []));
    if (keys.length) await this.o.store.deleteKeys(id, keys).catch(() => undefined);
    if (l.inbox.length === 0) this.o.live.delete(id);
  }

  private commitOf(prev: InstanceState, result: EpisodeResult): Commit {
    const consumedKeys = result.consumed.flatMap((m) => ((m as { rowKey?: string }).rowKey ? [(m as { rowKey: string }).rowKey] : []));
    let next = result.next;
    let newMessages: StoredMessage[] = [];
    if (result.continueAsNew) {
      newMessages = result.continueAsNew.carried.map((msg) => ({ rowKey: this.o.store.newMessageKey(), msg }));
      next = { ...next, exec: randomUUID().replace(/-/g, ""), status: "Running", input: result.continueAsNew.input, output: undefined, history: [], leaves: [], nextId: 0, chunks: 0 };
    }
    const sends = result.decisions.entitySends;
    const es = this.o.entities()?.store;
    const outbox = sends.length && es ? { rowKey: es.newKey("O"), entries: sends.map((m) => ({ to: m.to, rowKey: es.newKey("M"), msg: m.msg })) } : undefined;
    const chunk = result.continueAsNew ? undefined : { exec: prev.exec, seq: prev.chunks, events: result.appended, leafPatch: result.leafPatch, nextId: next.nextId };
    return { next, chunk, consumedKeys, newMessages, outbox };
  }

  /** The episode is stored: now act on it. */
  private committed(l: Live, prev: InstanceState, result: EpisodeResult, c: Commit): void {
    l.persistFailures = 0;
    this.o.stats.episodes++;
    if (c.outbox) this.o.entities()!.deliver(prev.instanceId, c.outbox.rowKey, c.outbox.entries);
    for (const e of result.appended) e.IsPlayed = true;
    l.state = c.next;
    l.inbox.unshift(...result.held);
    if (result.continueAsNew) {
      l.inbox.unshift(...c.newMessages.map((m) => ({ ...m.msg, rowKey: m.rowKey })));
      const prefix = chunkRowPrefix(prev.exec);
      void this.o.store.deleteWhere(prev.instanceId, (k) => k.startsWith(prefix)).catch(() => undefined);
    }
    const d = result.decisions;
    for (const t of d.timers) this.o.timers.arm(t);
    for (const a of d.activities) this.o.activities.enqueue(a);
    for (const ch of d.children) void this.o.children.start(ch);
    for (const m of d.selfMessages) l.inbox.push(m);
    if (result.finished) {
      this.o.timers.clear(prev.instanceId);
      if (c.next.parent) this.o.children.notifyParent(c.next, result.finished);
      if (l.inbox.length === 0) this.o.live.delete(prev.instanceId);
    }
  }

  /** Storage did not take the episode: its messages go back to the inbox and it runs again later. */
  private async commitFailed(l: Live, batch: Batch, consumedKeys: string[], err: unknown): Promise<void> {
    const id = l.state.instanceId;
    const failures = (l.persistFailures ?? 0) + 1;
    l.persistFailures = failures;
    if ((err as { statusCode?: number }).statusCode === 404 && consumedKeys.length) {
      // A consumed message row is gone: a copy of a message an earlier episode consumed. Its
      // copies are dropped and the episode runs again without them (retrying would fail forever).
      const present = await this.o.store.existingKeys(id, consumedKeys).catch(() => undefined);
      if (present) {
        const kept = batch.filter((m) => !m.rowKey || present.has(m.rowKey));
        this.o.log("warning", `durable: '${id}': ${batch.length - kept.length} message(s) were consumed already; dropped`);
        l.inbox.unshift(...kept);
        return;
      }
    }
    if (isRefusedWrite(err) && failures >= MAX_REFUSED_ATTEMPTS) return this.failUnpersistable(l, batch, err);
    const delay = persistRetryDelay(failures);
    this.o.log("error", `durable: could not persist an episode of '${id}' (attempt ${failures}), retrying in ${delay} ms: ${errorMessage(err)}`);
    l.inbox.unshift(...batch);
    await sleep(delay);
  }

  /** Stores a failed execution in place of an episode storage keeps refusing. */
  private async failUnpersistable(l: Live, batch: Batch, err: unknown): Promise<void> {
    const prev = l.state;
    const f = unpersistableFailure(prev, err, new Date());
    const keys = batch.flatMap((m) => (m.rowKey ? [m.rowKey] : []));
    try {
      await this.o.store.commitEpisode(toRow(f.next), { exec: prev.exec, seq: prev.chunks, events: f.events, leafPatch: [], nextId: prev.nextId }, keys);
    } catch (again) {
      const delay = persistRetryDelay(l.persistFailures ?? 1);
      this.o.log("error", `durable: could not store the failure of '${prev.instanceId}', retrying in ${delay} ms: ${errorMessage(again)}`);
      l.inbox.unshift(...batch);
      await sleep(delay);
      return;
    }
    this.o.log("error", `durable: orchestration '${prev.instanceId}' failed: ${f.failure.ErrorMessage}`);
    l.persistFailures = 0;
    l.state = f.next;
    this.o.timers.clear(prev.instanceId);
    if (f.next.parent) this.o.children.notifyParent(f.next, { status: "Failed", output: f.output, failure: f.failure });
    if (l.inbox.length === 0) this.o.live.delete(prev.instanceId);
  }
}
