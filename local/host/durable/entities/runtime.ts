// Durable entities of the local host, processed like the Durable Functions extension's entity
// scheduler (DurableTaskExtension.EntityMiddleware + TaskEntityShim, out-of-proc path): the
// messages of one entity are handled one batch at a time, in arrival order; requests of the
// orchestration holding the entity's lock go first, other requests wait while it is locked; a
// batch is one call of the entity function with up to maxEntityOperationBatchSize operations
// and stops at a lock request. The batch's state, the consumed messages and what it sends
// (responses, signals, forwarded lock requests) commit in one transaction; sends are then
// delivered from the outbox (at least once, also after a crash).
import { randomUUID } from "node:crypto";
import type { RegisteredFunction, RpcTypedData } from "../../functionsCore";
import { EngineError } from "../client/errors";
import { schedulerId, unknownEntityMessage, validateEntityId } from "./ids";
import { GroupCommit } from "../dispatch/groupCommit";
import { admit, mayDequeue } from "./admission";
import { OutboxDelivery } from "./outbox";
import { EntityStore, outboxEntries, type StoredEntityMessage } from "./store";
import type { EntityBatchRequest, EntityBatchResult, EntityIdWire, EntityMessage, EntityRecord, OutboxEntry, RequestMessage, ResponseMessage } from "./types";

export type EntityRuntimeOptions = {
  store: EntityStore;
  /** The registered entity function for a (lower-cased) entity name. */
  findEntity(name: string): RegisteredFunction | undefined;
  invoke(fn: RegisteredFunction, data: RpcTypedData): Promise<RpcTypedData | null | undefined>;
  /** Delivers a message row to an orchestration instance (dropped if it is gone or finished). */
  toOrchestration(instanceId: string, rowKey: string, msg: unknown): Promise<void>;
  maxConcurrent: number;
  maxBatch: number;
  log(level: "information" | "warning" | "error", message: string): void;
};

type Live = { rec: EntityRecord; inbox: StoredEntityMessage[]; running: boolean; queued: boolean; purged?: boolean };

/** Messages read per batch: with the entity row and the outbox row, one transaction holds 100 operations. */
const MAX_MESSAGES = 98;
export class EntityRuntime {
  private readonly live = new Map<string, Live>();
  private readonly loading = new Map<string, Promise<Live>>();
  private readonly ready: Live[] = [];
  private running = 0;
  private stopped = false;
  private readonly messages: GroupCommit<StoredEntityMessage>;
  private readonly outbox: OutboxDelivery;
  readonly stats = { batches: 0, operations: 0 };

  constructor(private readonly o: EntityRuntimeOptions) {
    this.messages = new GroupCommit<StoredEntityMessage>((id, batch) => o.store.putMessages(id, batch));
    this.outbox = new OutboxDelivery({
      store: o.store,
      toEntity: (id, rowKey, msg) => this.receive(id, rowKey, msg),
      toOrchestration: (instanceId, rowKey, msg) => o.toOrchestration(instanceId, rowKey, msg),
      log: (level, message) => o.log(level, message),
      stopped: () => this.stopped,
    });
  }

  get store(): EntityStore {
    return this.o.store;
  }

  /** Delivers what crashed senders left in their outboxes, then resumes entities with work left. */
  async start(): Promise<void> {
    const rows = await this.o.store.pendingOutbox();
    for (const r of rows) this.deliver(String(r.partitionKey), String(r.rowKey), outboxEntries(r));
    for (const id of await this.o.store.pendingEntities()) this.kick(await this.get(id));
    if (rows.length) this.o.log("information", `durable: delivering ${rows.length} outbox row(s) left by the previous run`);
  }

  stop(): void {
    this.stopped = true;
  }

  hasEntity(name: string): boolean {
    return this.o.findEntity(name.toLowerCase()) !== undefined;
  }

  /** A client's signal: refused like the extension's if the entity function is unknown; persisted before it returns. */
  async signal(e: EntityIdWire, op: string, input: string | undefined): Promise<void> {
    validateEntityId(e);
    if (!this.hasEntity(e.name)) throw new EngineError(400, "UnknownEntity", unknownEntityMessage(e.name));
    const req: RequestMessage = { op, signal: true, id: randomUUID(), ...(input !== undefined ? { input } : {}) };
    await this.receive(schedulerId(e), this.o.store.newKey("M"), { kind: "op", req });
  }

  /** The entity's current record (state, lock), or undefined if it never existed. */
  async read(e: EntityIdWire): Promise<EntityRecord | undefined> {
    const id = schedulerId(e);
    const l = this.live.get(id);
    if (l) return l.rec.lastModifiedTime ? l.rec : undefined;
    return this.o.store.read(id);
  }

  /**
   * Purges an entity instance ("@name@key"): its state, queued requests and pending messages,
   * as purging an entity's instance history does on Azure. False if there was nothing.
   */
  async purge(id: string): Promise<boolean> {
    const l = await this.get(id);
    l.purged = true; // no further batch; the one running (if any) finishes first
    while (l.running) await sleep(10);
    const existed = l.rec.lastModifiedTime !== "" || l.inbox.length > 0;
    this.live.delete(id);
    const n = await this.o.store.deleteAll(id);
    return existed || n > 0;
  }

  /** Accepts a message for an entity (idempotent per row key): persisted, then queued. */
  async receive(id: string, rowKey: string, msg: EntityMessage): Promise<void> {
    const l = await this.get(id);
    if (l.inbox.some((m) => m.rowKey === rowKey) || l.rec.recent?.includes(rowKey)) return; // a copy: processed already
    await this.messages.persist(id, { rowKey, msg });
    if (l.inbox.some((m) => m.rowKey === rowKey)) return;
    l.inbox.push({ rowKey, msg });
    this.kick(l);
  }

  /** Sends the entries of a committed outbox row in order, then deletes the row (outbox.ts). */
  deliver(partition: string, rowKey: string, entries: OutboxEntry[]): void {
    this.outbox.deliver(partition, rowKey, entries);
  }

  // ---------- loading and persisting ----------

  private get(id: string): Promise<Live> {
    const l = this.live.get(id);
    if (l) return Promise.resolve(l);
    let p = this.loading.get(id);
    if (!p) {
      p = (async () => {
        const loaded = await this.o.store.load(id);
        const at = id.indexOf("@", 1);
        const rec: EntityRecord = loaded.record ?? { id, name: id.slice(1, at), key: id.slice(at + 1), exists: false, queue: [], lastModifiedTime: "" };
        const live: Live = { rec, inbox: loaded.messages, running: false, queued: false };
        this.live.set(id, live);
        for (const ob of loaded.outbox) this.deliver(id, ob.rowKey, ob.entries);
        return live;
      })();
      this.loading.set(id, p);
      void p.then(
        () => this.loading.delete(id),
        () => this.loading.delete(id),
      );
    }
    return p;
  }

  // ---------- batches ----------

  private kick(l: Live): void {
    if (this.stopped || l.running || l.queued || l.purged) return;
    if (l.inbox.length === 0 && !mayDequeue(l.rec)) return;
    l.queued = true;
    this.ready.push(l);
    this.pump();
  }

  private pump(): void {
    while (!this.stopped && this.running < this.o.maxConcurrent && this.ready.length) {
      const l = this.ready.shift()!;
      l.queued = false;
      l.running = true;
      this.running++;
      void this.runBatch(l)
        .catch(async (err) => {
          this.o.log("error", `durable: a batch of entity '${l.rec.id}' could not be committed, retrying: ${(err as Error).message}`);
          await sleep(500);
        })
        .finally(() => {
          l.running = false;
          this.running--;
          this.kick(l);
          this.pump();
        });
    }
  }

  private async runBatch(l: Live): Promise<void> {
    const taken = l.inbox.slice(0, MAX_MESSAGES);
    const rec: EntityRecord = { ...l.rec, queue: [...l.rec.queue] };
    const { ops, lockRequest } = admit(rec, taken, this.o.maxBatch);
    const now = new Date().toISOString();
    const before = { exists: rec.exists, state: rec.state };
    const replies: OutboxEntry[] = [];
    const signals: OutboxEntry[] = [];
    const lockOut: OutboxEntry[] = [];
    if (ops.length) {
      const result = await this.execute(rec, ops);
      rec.exists = result.entityExists;
      rec.state = result.entityExists ? result.entityState : undefined;
      ops.forEach((r, i) => {
        const res = result.results[i];
        const response: ResponseMessage = { result: res?.result ?? null, ...(res?.isError ? { exceptionType: "Error" } : {}) };
        if (!r.signal && r.parent) replies.push(this.responseTo(r, response));
      });
      for (const s of result.signals) {
        const req: RequestMessage = { op: s.name, signal: true, id: randomUUID(), parent: rec.id, ...(s.input !== undefined ? { input: s.input } : {}) };
        signals.push({ to: schedulerId(s.target), rowKey: this.o.store.newKey("M"), msg: { kind: "op", req } satisfies EntityMessage });
      }
      this.stats.operations += ops.length;
    }
    if (lockRequest) {
      // The lock is granted here; the request moves on to the next entity of the set, or the caller learns it holds them all.
      rec.lockedBy = lockRequest.parent;
      const pos = (lockRequest.pos ?? 0) + 1;
      const set = lockRequest.lockset!;
      if (pos < set.length) lockOut.push({ to: schedulerId(set[pos]!), rowKey: this.o.store.newKey("M"), msg: { kind: "op", req: { ...lockRequest, pos } } satisfies EntityMessage });
      else lockOut.push(this.responseTo(lockRequest, { result: "Lock Acquisition Completed" }));
    }
    if (ops.length || lockRequest || !l.rec.lastModifiedTime) rec.lastModifiedTime = now;
    const consumed = taken.map((m) => m.rowKey);
    const commit = async (entries: OutboxEntry[]) => {
      const outbox = entries.length ? { rowKey: this.o.store.newKey("O"), entries } : undefined;
      await this.o.store.commitBatch(rec, consumed, outbox);
      return outbox;
    };
    let outbox: Awaited<ReturnType<typeof commit>>;
    try {
      outbox = await commit([...replies, ...signals, ...lockOut]);
    } catch (err) {
      const status = (err as { statusCode?: number }).statusCode;
      if (!ops.length || (status !== 400 && status !== 413)) throw err;
      // Storage refuses the batch for good (a state or reply too large for a Table row): the
      // operations fail, the state stays as it was, nothing they signalled is sent; no retry loop.
      const message = `the entity '${rec.id}' could not persist this batch: ${(err as Error).message.split("\n")[0]}`;
      this.o.log("error", `durable: ${message}`);
      Object.assign(rec, before);
      const failed = ops.filter((r) => !r.signal && r.parent).map((r) => this.responseTo(r, { result: JSON.stringify(message), exceptionType: "Error" }));
      outbox = await commit([...failed, ...lockOut]);
    }
    this.stats.batches++;
    l.rec = rec;
    l.inbox.splice(0, taken.length);
    if (outbox) this.deliver(rec.id, outbox.rowKey, outbox.entries);
  }

  private responseTo(r: RequestMessage, response: ResponseMessage): OutboxEntry {
    return { to: r.parent!, rowKey: this.o.store.newKey("M"), msg: { kind: "event", name: r.id, input: JSON.stringify(response), ...(r.parentExecution ? { exec: r.parentExecution } : {}) } };
  }

  /** One call of the entity function for the batch; a function that is missing or crashes fails every operation of it. */
  private async execute(rec: EntityRecord, ops: RequestMessage[]): Promise<EntityBatchResult> {
    const failAll = (message: string): EntityBatchResult => ({
      entityExists: rec.exists,
      entityState: rec.state,
      results: ops.map(() => ({ isError: true, result: JSON.stringify(message) })),
      signals: [],
    });
    const fn = this.o.findEntity(rec.name);
    if (!fn) return failAll(unknownEntityMessage(rec.name));
    const request: EntityBatchRequest = {
      self: { name: rec.name, key: rec.key },
      exists: rec.exists,
      state: rec.state ?? null,
      batch: ops.map((r) => ({ name: r.op ?? "", input: r.input ?? null, isSignal: r.signal === true })),
    };
    try {
      const rv = await this.o.invoke(fn, { json: JSON.stringify(request) });
      const value = rv?.json ? (JSON.parse(rv.json) as EntityBatchResult) : undefined;
      if (!value || typeof value.entityExists !== "boolean" || !Array.isArray(value.results)) {
        return failAll(`Entity function '${rec.name}' returned an unexpected result`);
      }
      return { ...value, signals: value.signals ?? [] };
    } catch (err) {
      this.o.log("error", `durable: entity function '${rec.name}' failed: ${(err as Error).message}`);
      return failAll(`Entity function '${rec.name}' failed: ${(err as Error).message}`);
    }
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
