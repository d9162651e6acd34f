// The Durable Task engine of the local host: runs episodes (one at a time per instance,
// at most maxConcurrentOrchestratorFunctions at once), activities (at most
// maxConcurrentActivityFunctions), timers and sub-orchestrations, and persists every
// episode in the task hub before acting on it. On start it resumes every unfinished
// instance from storage: open activities run again (at-least-once), timers re-arm.
import { randomUUID } from "node:crypto";
import type { RegisteredFunction, RpcTypedData } from "../functionsCore";
import { parseOrchestratorError, isOrchestratorState } from "./actions";
import type { EntityRuntime } from "./entities/runtime";
import { outboxRow } from "./entities/store";
import { runEpisode, type ActivityWork, type ChildWork, type EpisodeConfig, type EpisodeResult, type OrchestratorCall, type TimerWork } from "./executor/episode";
import { executeDurableHttp, HTTP_ACTIVITY, ManagedIdentityTokens } from "./durableHttp";
import { isRefusedWrite, MAX_REFUSED_ATTEMPTS, persistRetryDelay, unpersistableFailure } from "./dispatch/persistFailure";
import { chunkRowPrefix, TaskHubStore, type InstanceRow, type StoredMessage } from "./backend/store";
import { isTerminal, type FailureDetails, type HistoryEvent, type InstanceMessage, type InstanceState, type Leaf, type RuntimeStatus } from "./types";

export type EngineOptions = {
  store: TaskHubStore;
  hubName: string;
  maxActivities: number;
  maxOrchestrators: number;
  episode: EpisodeConfig;
  /** Finds a registered function and invokes it with trigger data (the host context's invoke). */
  functions: {
    get(name: string): RegisteredFunction | undefined;
    invoke(fn: RegisteredFunction, data: RpcTypedData): Promise<RpcTypedData | null | undefined>;
  };
  log(level: "information" | "warning" | "error" | "debug", message: string): void;
};

type Live = {
  state: InstanceState;
  inbox: (InstanceMessage & { rowKey?: string })[];
  running: boolean;
  queued: boolean;
  /** Failed attempts to store the current episode (see persistFailure.ts). */
  persistFailures?: number;
  /**
   * Row keys of delivered messages taken into an episode (running or committed) by this process:
   * a sender delivering the same row again (its outbox is delivered at least once) is ignored
   * instead of being stored and processed a second time.
   */
  taken?: Set<string>;
};

const TAKEN_MEMORY = 2000;

export class EngineError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

const MAX_PERSISTED_PER_EPISODE = 90;
const INVALID_ID = /[/\\#?\u0000-\u001f\u007f-\u009f]/;

export function validateInstanceId(id: string): void {
  if (!id || id.length > 256 || INVALID_ID.test(id)) {
    throw new EngineError(400, "InvalidInstanceId", `instanceId "${id}" is invalid: 1-256 characters, none of / \\ # ? or control characters`);
  }
  // Entity instance ids are "@name@key"; the extension's DurableClient refuses orchestrations that look like one.
  if (id.startsWith("@")) throw new EngineError(400, "InvalidInstanceId", `instanceId "${id}" is invalid: orchestration instance ids must not start with @.`);
}

export function kindOf(fn: RegisteredFunction | undefined): string | undefined {
  return fn?.trigger.type.toLowerCase();
}

export class DurableEngine {
  private readonly live = new Map<string, Live>();
  private readonly ready: Live[] = [];
  private runningEpisodes = 0;
  /**
   * Waiting activities, FIFO per orchestrator function name, served round-robin across names:
   * one workflow's burst (hundreds of job orchestrations, one activity each) cannot hold back
   * another's (a dispatcher whose single activity feeds all of them). Per-instance round-robin
   * would not help there — each instance has one activity waiting, so it degenerates to FIFO.
   */
  private readonly activityQueue = new Map<string, ActivityWork[]>();
  private queuedActivities = 0;
  private runningActivities = 0;
  private readonly timers = new Map<string, NodeJS.Timeout>();
  private stopped = false;
  /** Counters for the benchmark and tests. */
  readonly stats = { episodes: 0, activities: 0 };
  /** Durable entities (set by the extension): delivers what episodes send to entities. */
  entities?: EntityRuntime;
  private idleWaiters: (() => void)[] = [];
  /** Managed identity tokens for durable HTTP's token sources. */
  private readonly tokens = new ManagedIdentityTokens();

  constructor(private readonly o: EngineOptions) {}

  get store(): TaskHubStore {
    return this.o.store;
  }

  async start(): Promise<void> {
    await this.o.store.init();
    const rows = await this.o.store.listAllInstances({ activeOnly: true });
    for (const row of rows) await this.recover(row.instanceId);
    if (rows.length) this.o.log("information", `durable: resumed ${rows.length} unfinished orchestration(s)`);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    for (const t of this.timers.values()) clearTimeout(t);
    this.timers.clear();
  }

  // ---------- client operations ----------

  async startNew(name: string, instanceId: string | undefined, input: string | undefined, parent?: InstanceState["parent"]): Promise<string> {
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
    const state: InstanceState = {
      instanceId: id,
      name,
      exec: randomUUID().replace(/-/g, ""),
      status: "Pending",
      input,
      createdTime: now,
      lastUpdatedTime: now,
      parent,
      history: [],
      leaves: [],
      nextId: 0,
      chunks: 0,
    };
    const res = await this.o.store.createInstance(toRow(state));
    if (!res.created) {
      throw new EngineError(409, "InstanceExists", `An orchestration with instance ID '${id}' is already ${res.status}.`);
    }
    const l: Live = { state, inbox: [], running: false, queued: false };
    this.live.set(id, l);
    this.kick(l);
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
      l = await this.recover(instanceId);
      if (!l) throw new EngineError(404, "InstanceNotFound", `No orchestration instance with ID '${instanceId}'.`);
    }
    if (isTerminal(l.state.status)) {
      throw new EngineError(410, "InstanceCompleted", `The orchestration '${instanceId}' is already ${l.state.status}.`);
    }
    const stored: StoredMessage = { rowKey: this.o.store.newMessageKey(), msg };
    await this.persistMessage(instanceId, stored);
    l.inbox.push({ ...msg, rowKey: stored.rowKey });
    this.kick(l);
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
      l = this.live.get(instanceId) ?? (await this.recover(instanceId));
      if (!l) return;
    }
    const known = (live: Live) => live.inbox.some((m) => m.rowKey === rowKey) || live.taken?.has(rowKey) === true;
    if (isTerminal(l.state.status) || known(l)) return;
    await this.persistMessage(instanceId, { rowKey, msg });
    if (known(l)) return;
    l.inbox.push({ ...msg, rowKey });
    this.kick(l);
  }

  /** Group commit: messages for one instance that arrive while a write is in flight share the next transaction. */
  private readonly writing = new Map<string, { next: { m: StoredMessage; done: (e?: unknown) => void }[] }>();
  private persistMessage(instanceId: string, m: StoredMessage): Promise<void> {
    return new Promise((resolve, reject) => {
      const done = (e?: unknown) => (e ? reject(e) : resolve());
      const w = this.writing.get(instanceId);
      if (w) {
        w.next.push({ m, done });
        return;
      }
      const state = { next: [] as { m: StoredMessage; done: (e?: unknown) => void }[] };
      this.writing.set(instanceId, state);
      const flush = async (batch: { m: StoredMessage; done: (e?: unknown) => void }[]) => {
        try {
          await this.o.store.putMessages(instanceId, batch.map((b) => b.m));
          for (const b of batch) b.done();
        } catch (err) {
          for (const b of batch) b.done(err);
        }
        if (state.next.length) {
          const more = state.next.splice(0, 100);
          void flush(more);
        } else this.writing.delete(instanceId);
      };
      void flush([{ m, done }]);
    });
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
    return this.runningEpisodes === 0 && this.ready.length === 0 && this.runningActivities === 0 && this.queuedActivities === 0;
  }

  private checkIdle(): void {
    if (!this.isIdle()) return;
    const w = this.idleWaiters;
    this.idleWaiters = [];
    for (const f of w) f();
  }

  // ---------- recovery ----------

  /**
   * The instance's one live copy, loaded from storage once however many callers ask at the same
   * time (the start-up scan, a raise from a resumed activity, an entity's reply from the outbox).
   * Two copies would run episodes side by side on the same history: the later commit overwrites
   * the earlier one's chunk, and the messages the earlier one consumed (and deleted) are lost.
   */
  private recover(instanceId: string): Promise<Live | undefined> {
    const l = this.live.get(instanceId);
    if (l) return Promise.resolve(l);
    let p = this.recovering.get(instanceId);
    if (!p) {
      p = this.load(instanceId);
      this.recovering.set(instanceId, p);
      const done = () => this.recovering.delete(instanceId);
      void p.then(done, done);
    }
    return p;
  }
  private readonly recovering = new Map<string, Promise<Live | undefined>>();

  private async load(instanceId: string): Promise<Live | undefined> {
    const p = await this.o.store.loadPartition(instanceId);
    if (!p) return undefined;
    const leaves: Leaf[] = [];
    let nextId = 0;
    const history: HistoryEvent[] = [];
    for (const c of p.chunks) {
      for (const e of c.events) history.push({ ...e, IsPlayed: true });
      for (const [i, leaf] of c.leafPatch) leaves[i] = leaf;
      nextId = c.nextId;
    }
    const r = p.row;
    const state: InstanceState = { ...r, history, leaves, nextId };
    const l: Live = { state, inbox: p.messages.map((m) => ({ ...m.msg, rowKey: m.rowKey })), running: false, queued: false };
    this.live.set(instanceId, l);
    if (p.staleRowKeys.length) void this.o.store.deleteKeys(instanceId, p.staleRowKeys).catch(() => undefined);
    if (!isTerminal(state.status)) {
      leaves.forEach((leaf) => {
        if (leaf.id === undefined) return;
        if (leaf.st === "timer" && leaf.fireAt) this.armTimer({ instanceId, exec: state.exec, id: leaf.id, fireAt: leaf.fireAt });
        else if (leaf.st === "task" && leaf.child) {
          void this.startChild({ instanceId, exec: state.exec, id: leaf.id, name: leaf.n, childId: leaf.child, input: leaf.in });
        } else if (leaf.st === "task") this.enqueueActivity({ instanceId, exec: state.exec, id: leaf.id, name: leaf.n, input: leaf.in });
      });
    }
    this.kick(l);
    return l;
  }

  // ---------- episodes ----------

  private kick(l: Live): void {
    if (this.stopped || l.running || l.queued) return;
    if (isTerminal(l.state.status) && l.inbox.length === 0) return;
    const needsStart = l.state.history.length === 0 && !isTerminal(l.state.status);
    if (!needsStart && l.inbox.length === 0) return;
    if (l.state.status === "Suspended" && !l.inbox.some((m) => m.kind === "resume" || m.kind === "terminate")) return;
    l.queued = true;
    this.ready.push(l);
    this.pump();
  }

  private pump(): void {
    while (!this.stopped && this.runningEpisodes < this.o.maxOrchestrators && this.ready.length) {
      const l = this.ready.shift()!;
      l.queued = false;
      l.running = true;
      this.runningEpisodes++;
      void this.runOne(l).finally(() => {
        l.running = false;
        this.runningEpisodes--;
        this.kick(l);
        this.pump();
        this.checkIdle();
      });
    }
  }

  private async runOne(l: Live): Promise<void> {
    const batch: Live["inbox"] = [];
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
    const prev = l.state;
    if (isTerminal(prev.status)) {
      // Late messages for a finished execution: drop them (and their rows).
      const keys = batch.flatMap((m) => (m.rowKey ? [m.rowKey] : []));
      if (keys.length) await this.o.store.deleteKeys(prev.instanceId, keys).catch(() => undefined);
      if (l.inbox.length === 0) this.live.delete(prev.instanceId);
      return;
    }
    let result: EpisodeResult;
    try {
      result = await runEpisode(prev, batch, new Date(), this.o.episode, (name, payload) => this.callOrchestrator(name, payload));
    } catch (err) {
      this.o.log("error", `durable: episode of '${prev.instanceId}' crashed: ${(err as Error).message}`);
      l.inbox.unshift(...batch);
      await sleep(1000);
      return;
    }
    const consumedKeys = result.consumed.flatMap((m) => ((m as { rowKey?: string }).rowKey ? [(m as { rowKey: string }).rowKey] : []));
    let next = result.next;
    let newMessages: StoredMessage[] = [];
    let oldExec: string | undefined;
    if (result.continueAsNew) {
      oldExec = prev.exec;
      newMessages = result.continueAsNew.carried.map((msg) => ({ rowKey: this.o.store.newMessageKey(), msg }));
      next = {
        ...next,
        exec: randomUUID().replace(/-/g, ""),
        status: "Running",
        input: result.continueAsNew.input,
        output: undefined,
        history: [],
        leaves: [],
        nextId: 0,
        chunks: 0,
      };
    }
    const sends = result.decisions.entitySends;
    const es = this.entities?.store;
    const outbox = sends.length && es ? { rowKey: es.newKey("O"), entries: sends.map((m) => ({ to: m.to, rowKey: es.newKey("M"), msg: m.msg })) } : undefined;
    try {
      const chunk = result.continueAsNew
        ? undefined
        : { exec: prev.exec, seq: prev.chunks, events: result.appended, leafPatch: result.leafPatch, nextId: next.nextId };
      await this.o.store.commitEpisode(toRow(next), chunk, consumedKeys, newMessages, outbox && outboxRow(prev.instanceId, outbox.rowKey, outbox.entries));
    } catch (err) {
      const failures = (l.persistFailures ?? 0) + 1;
      l.persistFailures = failures;
      if ((err as { statusCode?: number }).statusCode === 404 && consumedKeys.length) {
        // A consumed message row is gone: a copy of a message an earlier episode consumed. Its
        // copies are dropped and the episode runs again without them (retrying would fail forever).
        const present = await this.o.store.existingKeys(prev.instanceId, consumedKeys).catch(() => undefined);
        if (present) {
          const kept = batch.filter((m) => !m.rowKey || present.has(m.rowKey));
          this.o.log("warning", `durable: '${prev.instanceId}': ${batch.length - kept.length} message(s) were consumed already; dropped`);
          l.inbox.unshift(...kept);
          return;
        }
      }
      if (isRefusedWrite(err) && failures >= MAX_REFUSED_ATTEMPTS) return this.failUnpersistable(l, batch, err);
      const delay = persistRetryDelay(failures);
      this.o.log("error", `durable: could not persist an episode of '${prev.instanceId}' (attempt ${failures}), retrying in ${delay} ms: ${errorMessage(err)}`);
      l.inbox.unshift(...batch);
      await sleep(delay);
      return;
    }
    l.persistFailures = 0;
    this.stats.episodes++;
    if (outbox) this.entities!.deliver(prev.instanceId, outbox.rowKey, outbox.entries);
    for (const e of result.appended) e.IsPlayed = true;
    l.state = next;
    l.inbox.unshift(...result.held);
    if (result.continueAsNew) {
      l.inbox.unshift(...newMessages.map((m) => ({ ...m.msg, rowKey: m.rowKey })));
      const prefix = chunkRowPrefix(oldExec!);
      void this.o.store.deleteWhere(prev.instanceId, (k) => k.startsWith(prefix)).catch(() => undefined);
    }
    const d = result.decisions;
    for (const t of d.timers) this.armTimer(t);
    for (const a of d.activities) this.enqueueActivity(a);
    for (const c of d.children) void this.startChild(c);
    for (const m of d.selfMessages) l.inbox.push(m);
    if (result.finished) {
      this.clearTimers(prev.instanceId);
      if (next.parent) this.notifyParent(next, result.finished);
      if (l.inbox.length === 0) this.live.delete(prev.instanceId);
    }
  }

  /** Stores a failed execution in place of an episode storage keeps refusing. */
  private async failUnpersistable(l: Live, batch: Live["inbox"], err: unknown): Promise<void> {
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
    this.clearTimers(prev.instanceId);
    if (f.next.parent) this.notifyParent(f.next, { status: "Failed", output: f.output, failure: f.failure });
    if (l.inbox.length === 0) this.live.delete(prev.instanceId);
  }

  private async callOrchestrator(name: string, payload: unknown): Promise<OrchestratorCall> {
    const fn = this.o.functions.get(name);
    if (kindOf(fn) !== "orchestrationtrigger") {
      return { ok: false, message: `The orchestrator function '${name}' doesn't exist, is disabled, or is not an orchestrator function.` };
    }
    try {
      const rv = await this.o.functions.invoke(fn!, { json: JSON.stringify(payload) });
      const value = decodeTypedData(rv);
      if (!isOrchestratorState(value)) return { ok: false, message: `Orchestrator function '${name}' returned an unexpected result: ${JSON.stringify(value)?.slice(0, 200)}` };
      return { ok: true, state: value };
    } catch (err) {
      const parsed = parseOrchestratorError(errorMessage(err));
      // The library puts `orchestratorReturned` (false) before the marker; the user's error is state.error.
      return { ok: false, message: parsed.state?.error ?? parsed.message, state: parsed.state };
    }
  }

  private deliver(instanceId: string, msg: InstanceMessage): void {
    const l = this.live.get(instanceId);
    if (!l || isTerminal(l.state.status)) return;
    l.inbox.push(msg);
    this.kick(l);
  }

  // ---------- activities ----------

  private enqueueActivity(a: ActivityWork): void {
    const key = this.live.get(a.instanceId)?.state.name ?? "";
    const q = this.activityQueue.get(key);
    if (q) q.push(a);
    else this.activityQueue.set(key, [a]);
    this.queuedActivities++;
    this.pumpActivities();
  }

  /** The next activity: the head of the first name's queue; that name then goes to the back. */
  private nextActivity(): ActivityWork | undefined {
    for (const [key, q] of this.activityQueue) {
      const a = q.shift()!;
      this.activityQueue.delete(key);
      if (q.length) this.activityQueue.set(key, q);
      this.queuedActivities--;
      return a;
    }
    return undefined;
  }

  private pumpActivities(): void {
    while (!this.stopped && this.runningActivities < this.o.maxActivities && this.queuedActivities > 0) {
      const a = this.nextActivity()!;
      this.runningActivities++;
      void this.runActivity(a).finally(() => {
        this.runningActivities--;
        this.pumpActivities();
        this.checkIdle();
      });
    }
  }

  private async runActivity(a: ActivityWork): Promise<void> {
    const fn = this.o.functions.get(a.name);
    let msg: InstanceMessage;
    if (a.name === HTTP_ACTIVITY) {
      try {
        const res = await executeDurableHttp(a.input, this.tokens, (m) => this.o.log("information", `durable: ${a.instanceId}: ${m}`));
        msg = { kind: "taskCompleted", exec: a.exec, id: a.id, result: JSON.stringify(res) };
      } catch (err) {
        msg = { kind: "taskFailed", exec: a.exec, id: a.id, reason: `Durable HTTP request failed: ${errorMessage(err)}`, details: "" };
      }
    } else if (kindOf(fn) !== "activitytrigger") {
      const reason = `The activity function '${a.name}' doesn't exist, is disabled, or is not an activity function.`;
      msg = { kind: "taskFailed", exec: a.exec, id: a.id, reason, details: "" };
    } else {
      try {
        const rv = await this.o.functions.invoke(fn!, a.input === undefined ? {} : { json: a.input });
        this.stats.activities++;
        msg = { kind: "taskCompleted", exec: a.exec, id: a.id, result: resultText(rv) };
      } catch (err) {
        const { reason, details, failure } = describeFailure(`Activity function '${a.name}' failed`, err);
        msg = { kind: "taskFailed", exec: a.exec, id: a.id, reason, details, failure };
      }
    }
    if (!this.stopped) this.deliver(a.instanceId, msg);
  }

  // ---------- timers ----------

  private timerKey(t: TimerWork): string {
    return `${t.instanceId}\u0000${t.exec}\u0000${t.id}`;
  }

  private armTimer(t: TimerWork): void {
    if (this.stopped) return;
    const key = this.timerKey(t);
    const delay = Math.max(0, Date.parse(t.fireAt) - Date.now());
    // setTimeout holds at most ~24.8 days; longer timers re-arm.
    const handle = setTimeout(() => {
      this.timers.delete(key);
      if (Date.parse(t.fireAt) > Date.now()) return this.armTimer(t);
      this.deliver(t.instanceId, { kind: "timerFired", exec: t.exec, id: t.id, fireAt: t.fireAt });
    }, Math.min(delay, 2 ** 31 - 1));
    this.timers.set(key, handle);
  }

  private clearTimers(instanceId: string): void {
    for (const [k, h] of this.timers) {
      if (k.startsWith(`${instanceId}\u0000`)) {
        clearTimeout(h);
        this.timers.delete(k);
      }
    }
  }

  // ---------- sub-orchestrations ----------

  private async startChild(c: ChildWork): Promise<void> {
    const parent = { instanceId: c.instanceId, exec: c.exec, id: c.id };
    try {
      const existing = this.live.get(c.childId)?.state ?? (await this.o.store.readInstance(c.childId));
      const same = existing?.parent && existing.parent.instanceId === parent.instanceId && existing.parent.exec === parent.exec && existing.parent.id === parent.id;
      if (existing && same) {
        // Already started for this call (we are recovering): report it if it is done.
        if (isTerminal(existing.status)) this.notifyParent(existing, { status: existing.status, output: existing.output, failure: existing.failure });
        else if (!this.live.has(c.childId)) await this.recover(c.childId);
        return;
      }
      await this.startNew(c.name, c.childId, c.input, parent);
    } catch (err) {
      const reason = err instanceof EngineError ? err.message : `Could not start sub-orchestration '${c.name}': ${errorMessage(err)}`;
      this.deliver(c.instanceId, { kind: "subFailed", exec: c.exec, id: c.id, reason, details: reason });
    }
  }

  private notifyParent(child: { name: string; instanceId: string; parent?: InstanceState["parent"] }, f: { status: RuntimeStatus; output?: string; failure?: FailureDetails }): void {
    const p = child.parent;
    if (!p) return;
    const deliverNow = () => {
      if (f.status === "Completed") {
        this.deliver(p.instanceId, { kind: "subCompleted", exec: p.exec, id: p.id, result: f.output ?? null });
      } else {
        const message = f.failure?.ErrorMessage ?? (f.output ? String(JSON.parse(f.output)) : f.status);
        const reason = f.status === "Terminated" ? `Sub-orchestration '${child.name}' (${child.instanceId}) was terminated: ${message}` : `Orchestrator function '${child.name}' failed: ${message}`;
        this.deliver(p.instanceId, { kind: "subFailed", exec: p.exec, id: p.id, reason, details: f.failure?.StackTrace ?? "" });
      }
    };
    if (this.live.has(p.instanceId)) deliverNow();
    else void this.recover(p.instanceId).then(deliverNow, () => undefined);
  }
}

export function toRow(s: InstanceState): InstanceRow {
  return {
    instanceId: s.instanceId,
    name: s.name,
    status: s.status,
    exec: s.exec,
    createdTime: s.createdTime,
    lastUpdatedTime: s.lastUpdatedTime,
    input: s.input,
    output: s.output,
    customStatus: s.customStatus,
    failure: s.failure,
    parent: s.parent,
    chunks: s.chunks,
  };
}

/** RpcTypedData returned by a function → value; strings stay strings (an activity returning "42" returns a string). */
export function decodeTypedData(d: RpcTypedData | null | undefined): unknown {
  if (!d) return undefined;
  if (d.json !== undefined && d.json !== null) return JSON.parse(d.json);
  if (d.string !== undefined && d.string !== null) return d.string;
  if (d.int !== undefined && d.int !== null) return Number(d.int);
  if (d.double !== undefined && d.double !== null) return d.double;
  if (d.bytes) return Buffer.from(d.bytes).toString("base64");
  return undefined;
}

function resultText(d: RpcTypedData | null | undefined): string | null {
  const v = decodeTypedData(d);
  return v === undefined ? null : JSON.stringify(v);
}

export function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** Failure of an activity as the host reports it; the library's exception-properties JSON becomes FailureDetails. */
function describeFailure(prefix: string, err: unknown): { reason: string; details: string; failure?: FailureDetails } {
  const message = errorMessage(err);
  const stack = err instanceof Error ? (err.stack ?? "") : "";
  try {
    const p = JSON.parse(message) as { errorType?: string; errorMessage?: string; stackTrace?: string; isNonRetriable?: boolean; properties?: Record<string, unknown> };
    if (p && typeof p.errorType === "string" && typeof p.errorMessage === "string") {
      return {
        reason: `${prefix}: ${p.errorMessage}`,
        details: p.stackTrace ?? stack,
        failure: { ErrorType: p.errorType, ErrorMessage: p.errorMessage, StackTrace: p.stackTrace, IsNonRetriable: p.isNonRetriable, Properties: p.properties },
      };
    }
  } catch {
    // not the library's JSON: an ordinary error
  }
  // Plain errors travel as Reason/Details (the library then throws `${Reason} \n ${Details}`).
  return { reason: `${prefix}: ${message}`, details: stack };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
