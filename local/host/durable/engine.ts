// The Durable Task engine of the local host, cut by role as durabletask-js cuts its own:
//   executor/  one episode: history + new messages → the orchestrator's actions (pure)
//   backend/   the task hub in Table storage (and blobs for large values)
//   dispatch/  work items: episodes (one at a time per instance, at most
//              maxConcurrentOrchestratorFunctions), activities (at most
//              maxConcurrentActivityFunctions), timers, sub-orchestrations
//   client/    the management HTTP API and its errors
// This class wires them and is the client side the API and the durable client binding use.
// Every episode is persisted in the task hub before anything it decided is acted on. On start
// every unfinished instance resumes from storage: open activities run again (at-least-once),
// timers re-arm.
import { randomUUID } from "node:crypto";
import { toRow, type InstanceRow, type StoredMessage } from "./backend/records";
import type { TaskHubStore } from "./backend/store";
import { EngineError, validateInstanceId } from "./client/errors";
import { ActivityDispatcher } from "./dispatch/activities";
import { SubOrchestrations } from "./dispatch/children";
import { EpisodeDispatcher } from "./dispatch/episodes";
import { kindOf, sleep, type AppFunctions } from "./dispatch/invoke";
import { LiveInstances, newLive, type Live } from "./dispatch/live";
import { GroupCommit } from "./dispatch/groupCommit";
import { DurableTimers } from "./dispatch/timers";
import type { EntityRuntime } from "./entities/runtime";
import type { EpisodeConfig } from "./executor/episode";
import { childWork } from "./executor/leaves";
import { scheduledLine } from "./trace";
import { rewindExecution } from "./executor/rewind";
import { isTerminal, type HistoryEvent, type InstanceMessage, type InstanceState, type Leaf } from "./types";

export type EngineOptions = {
  store: TaskHubStore;
  hubName: string;
  maxActivities: number;
  maxOrchestrators: number;
  episode: EpisodeConfig;
  /** Finds a registered function and invokes it with trigger data (the host context's invoke). */
  functions: AppFunctions;
  log(level: "information" | "warning" | "error" | "debug", message: string): void;
  /** The extension's trace lines (trace.ts), when host.json's logLevel lets them through. */
  trace?(message: string): void;
};

export class DurableEngine {
  private stopped = false;
  /** Counters for the benchmark and tests. */
  readonly stats = { episodes: 0, activities: 0 };
  /** Durable entities (set by the extension): delivers what episodes send to entities. */
  entities?: EntityRuntime;
  private idleWaiters: (() => void)[] = [];
  private readonly live: LiveInstances;
  private readonly timers: DurableTimers;
  private readonly activities: ActivityDispatcher;
  private readonly children: SubOrchestrations;
  private readonly episodes: EpisodeDispatcher;
  private readonly messages: GroupCommit<StoredMessage>;

  constructor(private readonly o: EngineOptions) {
    const stopped = () => this.stopped;
    const settled = () => this.checkIdle();
    const deliver = (instanceId: string, msg: InstanceMessage) => this.deliver(instanceId, msg);
    this.live = new LiveInstances(o.store, (l) => this.resume(l));
    this.messages = new GroupCommit<StoredMessage>((id, batch) => o.store.putMessages(id, batch));
    this.timers = new DurableTimers((t) => deliver(t.instanceId, { kind: "timerFired", exec: t.exec, id: t.id, fireAt: t.fireAt }), stopped);
    this.activities = new ActivityDispatcher({
      max: o.maxActivities,
      functions: o.functions,
      log: (level, message) => o.log(level, message),
      stats: this.stats,
      queueOf: (instanceId) => this.live.get(instanceId)?.state.name ?? "",
      done: deliver,
      settled,
      stopped,
    });
    this.children = new SubOrchestrations({ store: o.store, live: this.live, startNew: (...a) => this.startNew(...a), deliver });
    this.episodes = new EpisodeDispatcher({
      ...o,
      log: (level, message) => o.log(level, message),
      stats: this.stats,
      live: this.live,
      timers: this.timers,
      activities: this.activities,
      children: this.children,
      entities: () => this.entities,
      settled,
      stopped,
    });
  }

  get store(): TaskHubStore {
    return this.o.store;
  }

  async start(): Promise<void> {
    await this.o.store.init();
    const rows = await this.o.store.listAllInstances({ activeOnly: true });
    for (const row of rows) await this.live.recover(row.instanceId);
    if (rows.length) this.o.log("information", `durable: resumed ${rows.length} unfinished orchestration(s)`);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.timers.clearAll();
  }

  // ---------- client operations ----------

  /** `version`: the orchestration's version; undefined takes durableTask.defaultVersion. */
  async startNew(name: string, instanceId: string | undefined, input: string | undefined, parent?: InstanceState["parent"], version?: string): Promise<string> {
    const fn = this.o.functions.get(name);
    if (kindOf(fn) !== "orchestrationtrigger") {
      throw new EngineError(400, "UnknownOrchestrator", `The function '${name}' doesn't exist, is disabled, or is not an orchestrator function.`);
    }
    const id = instanceId ?? randomUUID().replace(/-/g, "");
    validateInstanceId(id);
    const existing = this.live.get(id);
    if (existing && !isTerminal(existing.state.status)) {
      throw new EngineError(409, "InstanceExists", `An orchestration with instance ID '${id}' is already ${existing.state.status}.`);
    }
    const now = new Date().toISOString();
    const versioned = version ?? this.o.episode.versioning?.defaultVersion;
    const state: InstanceState = {
      instanceId: id,
      name,
      exec: randomUUID().replace(/-/g, ""),
      status: "Pending",
      input,
      createdTime: now,
      lastUpdatedTime: now,
      parent,
      ...(versioned !== undefined ? { version: versioned } : {}),
      history: [],
      leaves: [],
      nextId: 0,
      chunks: 0,
    };
    const res = await this.o.store.createInstance(toRow(state));
    if (!res.created) {
      throw new EngineError(409, "InstanceExists", `An orchestration with instance ID '${id}' is already ${res.status}.`);
    }
    if (!parent) this.o.trace?.(scheduledLine(id, name, this.o.hubName));
    const l = newLive(state);
    this.live.set(id, l);
    this.episodes.kick(l);
    return id;
  }

  async getState(instanceId: string): Promise<{ row: InstanceRow; history?: HistoryEvent[] } | undefined> {
    const l = this.live.get(instanceId);
    if (l) return { row: toRow(l.state), history: l.state.history };
    const row = await this.o.store.readInstance(instanceId);
    return row ? { row } : undefined;
  }

  async history(instanceId: string): Promise<HistoryEvent[]> {
    const l = this.live.get(instanceId);
    if (l) return l.state.history;
    const p = await this.o.store.loadPartition(instanceId);
    return p ? p.chunks.flatMap((c) => c.events) : [];
  }

  /** Raise an event, terminate, suspend or resume: persisted before it is accepted. */
  async send(instanceId: string, msg: InstanceMessage): Promise<void> {
    let l = this.live.get(instanceId);
    if (!l) {
      const row = await this.o.store.readInstance(instanceId);
      if (!row) throw new EngineError(404, "InstanceNotFound", `No orchestration instance with ID '${instanceId}'.`);
      if (isTerminal(row.status)) throw new EngineError(410, "InstanceCompleted", `The orchestration '${instanceId}' is already ${row.status}.`);
      l = await this.live.recover(instanceId);
      if (!l) throw new EngineError(404, "InstanceNotFound", `No orchestration instance with ID '${instanceId}'.`);
    }
    if (isTerminal(l.state.status)) {
      throw new EngineError(410, "InstanceCompleted", `The orchestration '${instanceId}' is already ${l.state.status}.`);
    }
    const stored: StoredMessage = { rowKey: this.o.store.newMessageKey(), msg };
    await this.messages.persist(instanceId, stored);
    l.inbox.push({ ...msg, rowKey: stored.rowKey });
    this.episodes.kick(l);
  }

  /**
   * A message another partition sent (an entity's response), delivered from its outbox: persisted
   * under the sender's row key, so a second delivery of the same row is ignored. Dropped when the
   * instance is gone or finished, as the real host drops messages for completed instances.
   */
  async receive(instanceId: string, rowKey: string, msg: InstanceMessage): Promise<void> {
    let l = this.live.get(instanceId);
    if (!l) {
      const row = await this.o.store.readInstance(instanceId);
      if (!row || isTerminal(row.status)) return;
      l = this.live.get(instanceId) ?? (await this.live.recover(instanceId));
      if (!l) return;
    }
    const known = (live: Live) => live.inbox.some((m) => m.rowKey === rowKey) || live.taken?.has(rowKey) === true;
    if (isTerminal(l.state.status) || known(l)) return;
    await this.messages.persist(instanceId, { rowKey, msg });
    if (known(l)) return;
    l.inbox.push({ ...msg, rowKey });
    this.episodes.kick(l);
  }

  /**
   * Rewinds a failed orchestration (AzureStorageOrchestrationService.RewindTaskOrchestrationAsync):
   * its failures and those of its failed sub-orchestrations are rewritten out of the history
   * (executor/rewind.ts), each rewound instance reads Pending, and the deepest rewound instances
   * of each failed branch get a message that runs them again; parents resume when their children
   * report. Only a Failed instance can be rewound (DurableClient.RewindAsync).
   */
  async rewind(instanceId: string, reason: string): Promise<void> {
    const got = await this.getState(instanceId);
    if (!got) throw new EngineError(404, "InstanceNotFound", `No orchestration instance with ID '${instanceId}'.`);
    if (got.row.status !== "Failed") throw new EngineError(412, "NotFailed", "The rewind operation is only supported on failed orchestration instances.");
    const revive = await this.rewindTree(instanceId);
    for (const id of revive) {
      const stored: StoredMessage = { rowKey: this.o.store.newMessageKey(), msg: { kind: "rewind", reason } };
      await this.o.store.putMessages(id, [stored]);
      await this.live.recover(id);
    }
  }

  /** Rewrites one failed instance and, first, its failed children; returns the instances to revive. */
  private async rewindTree(instanceId: string): Promise<string[]> {
    // The stored partition is the truth; a live copy of a finished instance only drops late
    // messages, so let it finish that and forget it.
    const l = this.live.get(instanceId);
    if (l && !isTerminal(l.state.status)) return [];
    while (l && (l.running || l.queued)) await sleep(10);
    this.live.delete(instanceId);
    const p = await this.o.store.loadPartition(instanceId);
    if (!p || p.row.status !== "Failed") return [];
    const leaves: Leaf[] = [];
    for (const c of p.chunks) for (const [i, leaf] of c.leafPatch) leaves[i] = leaf;
    const r = rewindExecution(p.chunks, leaves, new Date());
    const revive: string[] = [];
    for (const child of r.failedChildren) revive.push(...(await this.rewindTree(child)));
    await this.o.store.rewriteExecution({ ...p.row, status: "Pending", lastUpdatedTime: new Date().toISOString() }, r.chunks);
    // A parent with failed children is revived by their reports (the provider's "failedLeaves").
    if (r.failedChildren.length === 0) revive.push(instanceId);
    return revive;
  }

  async purge(instanceId: string): Promise<boolean> {
    if (instanceId.startsWith("@") && this.entities) return this.entities.purge(instanceId);
    const l = this.live.get(instanceId);
    const row = l ? toRow(l.state) : await this.o.store.readInstance(instanceId);
    if (!row) return false;
    if (!isTerminal(row.status)) {
      throw new EngineError(409, "InstanceActive", `The orchestration '${instanceId}' is ${row.status}; terminate it before purging its history.`);
    }
    this.live.delete(instanceId);
    await this.o.store.purge(instanceId);
    return true;
  }

  /** Resolves once nothing is running or queued (tests and the benchmark). */
  whenIdle(): Promise<void> {
    if (this.isIdle()) return Promise.resolve();
    return new Promise((r) => this.idleWaiters.push(r));
  }

  private isIdle(): boolean {
    return this.episodes.idle && this.activities.idle;
  }

  private checkIdle(): void {
    if (!this.isIdle()) return;
    const w = this.idleWaiters;
    this.idleWaiters = [];
    for (const f of w) f();
  }

  // ---------- dispatch ----------

  /** A result, timer or sub-orchestration report for a loaded instance. */
  private deliver(instanceId: string, msg: InstanceMessage): void {
    const l = this.live.get(instanceId);
    if (!l || isTerminal(l.state.status)) return;
    l.inbox.push(msg);
    this.episodes.kick(l);
  }

  /** An instance loaded from storage: its open timers re-arm, its open activities and children run again. */
  private resume(l: Live): void {
    const { instanceId, exec } = l.state;
    if (!isTerminal(l.state.status)) {
      l.state.leaves.forEach((leaf) => {
        // Work a rewind found open is awaited, not started again (executor/rewind.ts).
        if (leaf.id === undefined || leaf.stranded) return;
        if (leaf.st === "timer" && leaf.fireAt) this.timers.arm({ instanceId, exec, id: leaf.id, fireAt: leaf.fireAt });
        else if (leaf.st === "task" && leaf.child) {
          void this.children.start(childWork(instanceId, exec, leaf.id, leaf, leaf.child));
        } else if (leaf.st === "task") this.activities.enqueue({ instanceId, exec, id: leaf.id, name: leaf.n, input: leaf.in });
      });
    }
    this.episodes.kick(l);
  }
}
