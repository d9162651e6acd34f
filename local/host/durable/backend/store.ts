// The task hub in Azure Table storage (Azurite locally): one partition per instance, so
// an episode (instance row + its history chunk + consumed message rows) commits in ONE
// entity-group transaction. Rows of a partition:
//   "I"                       the instance (status, input/output, parent, execution id)
//   "H<exec>_<episode>_<part>" one episode's history events and leaf changes
//   "M<seq>"                  a persisted message not yet applied (events, control)
//   "O<seq>"                  messages to entities an episode sent, not yet delivered
// Activity results and timers are not stored apart: an open TaskScheduled/TimerCreated in
// the history is re-dispatched/re-armed after a restart (at-least-once).
// Values too big for a row (inputs, outputs, history chunks, messages) live in blobs: see payloads.ts.
import type { BlobServiceClient } from "@azure/storage-blob";
import { TableClient, TableServiceClient, type TableEntity, type TransactionAction } from "@azure/data-tables";
import { fitsInMessage, fitsInProperty, PayloadStore, PersistLimitError, TABLE_LIMITS, utf16Bytes } from "./payloads";
import type { FailureDetails, HistoryEvent, InstanceMessage, InstanceState, Leaf, ParentRef, RuntimeStatus } from "../types";

const MAX_OPS = TABLE_LIMITS.batchOps;

export type InstanceRow = {
  instanceId: string;
  name: string;
  status: RuntimeStatus;
  exec: string;
  createdTime: string;
  lastUpdatedTime: string;
  input?: string;
  output?: string;
  customStatus?: string;
  failure?: FailureDetails;
  parent?: ParentRef;
  chunks: number;
};

/** The instance row of an execution's state. */
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

export type Chunk = { exec: string; seq: number; events: HistoryEvent[]; leafPatch: [number, Leaf][]; nextId: number };
export type StoredMessage = { rowKey: string; msg: InstanceMessage };
export type LoadedPartition = { row: InstanceRow; etag?: string; chunks: Chunk[]; messages: StoredMessage[]; staleRowKeys: string[] };

export type InstanceFilter = {
  runtimeStatus?: RuntimeStatus[];
  createdTimeFrom?: string;
  createdTimeTo?: string;
};

type Entity = TableEntity<Record<string, unknown>>;

/** Reads a text property; rows of older versions split long texts over `<name>_<i>` properties. */
function getText(e: Record<string, unknown>, name: string): string | undefined {
  const first = e[name];
  if (typeof first !== "string") return undefined;
  const n = typeof e[`${name}_n`] === "number" ? (e[`${name}_n`] as number) : 1;
  let s = first;
  for (let i = 1; i < n; i++) s += String(e[`${name}_${i}`] ?? "");
  return s;
}

const pad = (n: number, w: number) => String(n).padStart(w, "0");
const odata = (s: string) => `'${s.replace(/'/g, "''")}'`;

export function chunkRowPrefix(exec: string): string {
  return `H${exec}_`;
}

/** Blobs a row references (its `<Property>BlobName` values). */
function blobNames(e: Record<string, unknown>): Set<string> {
  return new Set(Object.entries(e).flatMap(([k, v]) => (k.endsWith("BlobName") && typeof v === "string" ? [v] : [])));
}

/** Approximate stored size of an entity, counted as the Table service does (UTF-16 strings). */
function entityBytes(e: Record<string, unknown>): number {
  let n = 4;
  for (const [k, v] of Object.entries(e)) {
    if (k === "etag") continue;
    n += 8 + utf16Bytes(k) + (typeof v === "string" ? 4 + utf16Bytes(v) : 8);
  }
  return n;
}

/**
 * Refuses, as Azure would, a write over the Table limits (property 64 KiB, entity 1 MiB,
 * transaction 4 MiB and 100 operations): Azurite is more lenient, and nothing we retry
 * would make such a write succeed.
 */
export function checkTableLimits(entities: Record<string, unknown>[]): void {
  if (entities.length > TABLE_LIMITS.batchOps) throw new PersistLimitError(`a transaction of ${entities.length} operations is over the Table limit of ${TABLE_LIMITS.batchOps}`);
  let total = 0;
  for (const e of entities) {
    for (const [k, v] of Object.entries(e)) {
      if (typeof v === "string" && utf16Bytes(v) > TABLE_LIMITS.propertyBytes) {
        throw new PersistLimitError(`property ${k} of row ${String(e.rowKey)} is ${utf16Bytes(v)} bytes, over the Table limit of 64 KiB`);
      }
    }
    const size = entityBytes(e);
    if (size > TABLE_LIMITS.entityBytes) throw new PersistLimitError(`row ${String(e.rowKey)} is ${size} bytes, over the Table limit of 1 MiB`);
    total += size;
  }
  if (total > TABLE_LIMITS.batchBytes) throw new PersistLimitError(`a transaction of ${total} bytes is over the Table limit of 4 MiB`);
}

/** The clients a task hub needs from a storage connection. */
export type TaskHubStorage = { table(name: string): TableClient; tableService: TableServiceClient; blobs: BlobServiceClient };

export class TaskHubStore {
  readonly table: TableClient;
  private readonly service: TableServiceClient;
  readonly payloads: PayloadStore;
  /** Requests sent to table storage; the benchmark reports them per orchestration step. */
  private tableTrips = 0;
  private msgSeq = 0;
  /** Blobs the stored instance row references, per instance: replaced ones are deleted. */
  private readonly rowBlobs = new Map<string, Set<string>>();
  /** Blobs of stored messages, by row key: deleted with the message. */
  private readonly messageBlobs = new Map<string, string>();

  /** `connection`: a storage connection string, or the clients of any storage connection (storageClients.ts, identity-based too). */
  constructor(connection: string | TaskHubStorage, readonly tableName: string, payloadContainer: string) {
    if (typeof connection === "string") {
      const opts = { allowInsecureConnection: true, retryOptions: { maxRetries: 2 } };
      this.table = TableClient.fromConnectionString(connection, tableName, opts);
      this.service = TableServiceClient.fromConnectionString(connection, opts);
      this.payloads = new PayloadStore(connection, payloadContainer);
    } else {
      this.table = connection.table(tableName);
      this.service = connection.tableService;
      this.payloads = new PayloadStore(connection.blobs, payloadContainer);
    }
  }

  /** Requests sent to storage (tables and blobs). */
  get roundTrips(): number {
    return this.tableTrips + this.payloads.roundTrips;
  }

  /** Counts a table request made with `table` by another module (the entity store). */
  countTrip(): void {
    this.tableTrips++;
  }

  /** Sets `name` inline when it fits a property, else stores it in a blob and sets `<name>BlobName`. */
  private async putLarge(e: Record<string, unknown>, instanceId: string, name: string, what: string, text: string | undefined, fits = fitsInProperty): Promise<void> {
    if (text === undefined) return;
    if (fits(text)) e[name] = text;
    else e[`${name}BlobName`] = await this.payloads.put(instanceId, what, text, name === "Data" ? "history or message" : name);
  }

  private async getLarge(e: Record<string, unknown>, name: string): Promise<string | undefined> {
    const blob = e[`${name}BlobName`];
    return typeof blob === "string" ? this.payloads.get(blob) : getText(e, name);
  }

  private async messageEntity(instanceId: string, m: StoredMessage): Promise<Entity> {
    const e: Record<string, unknown> = { partitionKey: instanceId, rowKey: m.rowKey };
    await this.putLarge(e, instanceId, "Data", `message-${m.rowKey}`, JSON.stringify(m.msg), fitsInMessage);
    if (typeof e.DataBlobName === "string") this.messageBlobs.set(m.rowKey, e.DataBlobName);
    return e as Entity;
  }

  /** After a row write: forget and delete the blobs its previous version referenced. */
  private replaceRowBlobs(e: Record<string, unknown>): void {
    const instanceId = String(e.partitionKey);
    const now = blobNames(e);
    const before = this.rowBlobs.get(instanceId);
    if (now.size) this.rowBlobs.set(instanceId, now);
    else this.rowBlobs.delete(instanceId);
    const gone = before ? [...before].filter((n) => !now.has(n)) : [];
    if (gone.length) void this.payloads.delete(gone).catch(() => undefined);
  }

  private forgetMessageBlobs(keys: string[]): void {
    const gone = keys.flatMap((k) => {
      const n = this.messageBlobs.get(k);
      this.messageBlobs.delete(k);
      return n ? [n] : [];
    });
    if (gone.length) void this.payloads.delete(gone).catch(() => undefined);
  }

  async init(): Promise<void> {
    this.tableTrips++;
    try {
      await this.service.createTable(this.tableName);
    } catch (err) {
      if ((err as { statusCode?: number }).statusCode !== 409) throw err;
    }
  }

  /** A row key for a new message: ordered by arrival, unique across restarts. */
  newMessageKey(): string {
    this.msgSeq = (this.msgSeq + 1) % 1_000_000;
    return `M${pad(Date.now(), 15)}${pad(this.msgSeq, 6)}`;
  }

  async instanceEntity(r: InstanceRow): Promise<Entity> {
    const e: Record<string, unknown> = {
      partitionKey: r.instanceId,
      rowKey: "I",
      Name: r.name,
      Status: r.status,
      Exec: r.exec,
      CreatedTime: r.createdTime,
      LastUpdatedTime: r.lastUpdatedTime,
      Chunks: r.chunks,
    };
    const id = r.instanceId;
    await this.putLarge(e, id, "Input", `${r.exec}-Input`, r.input);
    await this.putLarge(e, id, "Output", `${r.exec}-Output`, r.output);
    await this.putLarge(e, id, "CustomStatus", `${r.exec}-CustomStatus`, r.customStatus);
    if (r.failure) await this.putLarge(e, id, "Failure", `${r.exec}-Failure`, JSON.stringify(r.failure));
    if (r.parent) e.Parent = JSON.stringify(r.parent);
    return e as Entity;
  }

  async rowFromEntity(e: Record<string, unknown>): Promise<InstanceRow> {
    const failure = await this.getLarge(e, "Failure");
    const names = blobNames(e);
    if (names.size) this.rowBlobs.set(String(e.partitionKey), names);
    return {
      instanceId: String(e.partitionKey),
      name: String(e.Name),
      status: String(e.Status) as RuntimeStatus,
      exec: String(e.Exec),
      createdTime: String(e.CreatedTime),
      lastUpdatedTime: String(e.LastUpdatedTime),
      input: await this.getLarge(e, "Input"),
      output: await this.getLarge(e, "Output"),
      customStatus: await this.getLarge(e, "CustomStatus"),
      failure: failure ? (JSON.parse(failure) as FailureDetails) : undefined,
      parent: typeof e.Parent === "string" ? (JSON.parse(e.Parent) as ParentRef) : undefined,
      chunks: Number(e.Chunks ?? 0),
    };
  }

  /** One row per history chunk; a chunk over 60 KB goes to a blob (the provider does so per history property). */
  private async chunkEntity(instanceId: string, c: Chunk): Promise<Entity> {
    const text = JSON.stringify({ e: c.events, l: c.leafPatch, n: c.nextId });
    const e: Record<string, unknown> = { partitionKey: instanceId, rowKey: `${chunkRowPrefix(c.exec)}${pad(c.seq, 7)}_000` };
    await this.putLarge(e, instanceId, "Data", `history-${c.exec}-${c.seq}`, text);
    return e as Entity;
  }

  /**
   * Creates the instance row. If one exists: returns its status when it is still active,
   * otherwise replaces it (a finished instance id may be started again) and reports the
   * row keys of the old execution for clean-up.
   */
  async createInstance(r: InstanceRow): Promise<{ created: true } | { created: false; status: RuntimeStatus }> {
    const entity = await this.instanceEntity(r);
    checkTableLimits([entity]);
    this.tableTrips++;
    try {
      await this.table.createEntity(entity);
      this.replaceRowBlobs(entity);
      return { created: true };
    } catch (err) {
      if ((err as { statusCode?: number }).statusCode !== 409) throw err;
    }
    this.tableTrips++;
    const existing = await this.table.getEntity<Record<string, unknown>>(r.instanceId, "I");
    const status = String(existing.Status) as RuntimeStatus;
    if (status !== "Completed" && status !== "Failed" && status !== "Terminated") return { created: false, status };
    this.tableTrips++;
    try {
      await this.table.updateEntity(entity, "Replace", { etag: existing.etag });
      this.replaceRowBlobs(entity);
    } catch (err) {
      if ((err as { statusCode?: number }).statusCode === 412) return { created: false, status: "Running" };
      throw err;
    }
    void this.deleteWhere(r.instanceId, (key) => key !== "I").catch(() => undefined);
    return { created: true };
  }

  /** One episode: instance row, history chunk, consumed and new messages, in one transaction. */
  async commitEpisode(
    row: InstanceRow,
    chunk: Chunk | undefined,
    deleteKeys: string[],
    newMessages: StoredMessage[] = [],
    outboxRow?: TableEntity<Record<string, unknown>>,
  ): Promise<void> {
    const id = row.instanceId;
    const instance = await this.instanceEntity(row);
    const ops: TransactionAction[] = [["upsert", instance, "Replace"]];
    if (chunk) ops.push(["upsert", await this.chunkEntity(id, chunk), "Replace"]);
    // Messages to entities sent by this episode (entities/store.ts): delivered after the commit.
    if (outboxRow) ops.push(["upsert", outboxRow, "Replace"]);
    checkTableLimits(ops.map((o) => o[1] as Record<string, unknown>));
    // continueAsNew can carry more events than one transaction holds (100 operations, 4 MiB):
    // the overflow is written first. A crash in between may deliver those events twice
    // (at-least-once), never lose them.
    let bytes = ops.reduce((n, o) => n + entityBytes(o[1] as Record<string, unknown>), 0);
    const inline: TransactionAction[] = [];
    const overflow: StoredMessage[] = [];
    for (const m of newMessages) {
      const e = await this.messageEntity(id, m);
      const size = entityBytes(e);
      if (overflow.length === 0 && ops.length + inline.length < MAX_OPS && bytes + size <= TABLE_LIMITS.batchBytes) {
        inline.push(["upsert", e, "Replace"]);
        bytes += size;
      } else overflow.push(m);
    }
    for (let i = 0; i < overflow.length; i += MAX_OPS) await this.putMessages(id, overflow.slice(i, i + MAX_OPS));
    ops.push(...inline);
    const deletes: TransactionAction[] = deleteKeys.map((k) => ["delete", { partitionKey: id, rowKey: k }]);
    // Deletes that do not fit stay behind; they are recognised and removed after a restart.
    const room = MAX_OPS - ops.length;
    ops.push(...deletes.slice(0, Math.max(0, room)));
    this.tableTrips++;
    await this.table.submitTransaction(ops);
    this.replaceRowBlobs(instance);
    this.forgetMessageBlobs(deleteKeys.slice(0, Math.max(0, room)));
    if (deletes.length > room) void this.deleteKeys(id, deleteKeys.slice(room)).catch(() => undefined);
  }

  /** Which of these row keys of one partition exist. */
  async existingKeys(instanceId: string, keys: string[]): Promise<Set<string>> {
    const present = new Set<string>();
    const wanted = new Set(keys);
    const pages = this.table.listEntities<Record<string, unknown>>({ queryOptions: { filter: `PartitionKey eq ${odata(instanceId)} and RowKey ge 'M' and RowKey lt 'N'`, select: ["RowKey"] } }).byPage({ maxPageSize: 1000 });
    for (;;) {
      this.tableTrips++;
      const next = await pages.next();
      if (next.done) break;
      for (const e of next.value) if (wanted.has(String(e.rowKey))) present.add(String(e.rowKey));
      if (!next.value.continuationToken) break;
    }
    return present;
  }

  /** Persists messages of one instance in one transaction (at most 100; large ones in blobs first). */
  async putMessages(instanceId: string, ms: StoredMessage[]): Promise<void> {
    const entities: Entity[] = [];
    for (const m of ms) entities.push(await this.messageEntity(instanceId, m));
    this.tableTrips++;
    if (entities.length === 1) {
      await this.table.upsertEntity(entities[0]!, "Replace");
      return;
    }
    // Small enough groups go in one transaction; a group over 4 MiB is written row by row.
    const total = entities.reduce((n, e) => n + entityBytes(e), 0);
    if (total > TABLE_LIMITS.batchBytes) {
      for (const e of entities) await this.table.upsertEntity(e, "Replace");
      return;
    }
    await this.table.submitTransaction(entities.map((e) => ["upsert", e, "Replace"] as TransactionAction));
  }

  async readInstance(instanceId: string): Promise<InstanceRow | undefined> {
    this.tableTrips++;
    try {
      return await this.rowFromEntity(await this.table.getEntity<Record<string, unknown>>(instanceId, "I"));
    } catch (err) {
      if ((err as { statusCode?: number }).statusCode === 404) return undefined;
      throw err;
    }
  }

  /** Everything of one instance in one partition query. */
  async loadPartition(instanceId: string): Promise<LoadedPartition | undefined> {
    const entities: Record<string, unknown>[] = [];
    const pages = this.table.listEntities<Record<string, unknown>>({ queryOptions: { filter: `PartitionKey eq ${odata(instanceId)}` } }).byPage({ maxPageSize: 1000 });
    for (;;) {
      this.tableTrips++;
      const next = await pages.next();
      if (next.done) break;
      entities.push(...next.value);
      if (!next.value.continuationToken) break;
    }
    const rowEntity = entities.find((e) => e.rowKey === "I");
    if (!rowEntity) return undefined;
    const row = await this.rowFromEntity(rowEntity);
    const prefix = chunkRowPrefix(row.exec);
    const parts = new Map<number, string[]>();
    const messages: StoredMessage[] = [];
    const staleRowKeys: string[] = [];
    for (const e of entities) {
      const key = String(e.rowKey);
      if (key === "I") continue;
      if (key.startsWith(prefix)) {
        const [seq, part] = key.slice(prefix.length).split("_").map(Number) as [number, number];
        if (seq >= row.chunks) {
          staleRowKeys.push(key); // written by a transaction whose instance row was superseded
          continue;
        }
        const list = parts.get(seq) ?? [];
        list[part] = (await this.getLarge(e, "Data")) ?? "";
        parts.set(seq, list);
      } else if (key.startsWith("M")) {
        if (typeof e.DataBlobName === "string") this.messageBlobs.set(key, e.DataBlobName);
        messages.push({ rowKey: key, msg: JSON.parse((await this.getLarge(e, "Data")) ?? "null") as InstanceMessage });
      } else if (!key.startsWith("O")) staleRowKeys.push(key); // "O": an outbox row, the entity runtime delivers it
    }
    const chunks: Chunk[] = [...parts.entries()]
      .sort((a, b) => a[0] - b[0])
      .map(([seq, list]) => {
        const d = JSON.parse(list.join("")) as { e: HistoryEvent[]; l: [number, Leaf][]; n: number };
        return { exec: row.exec, seq, events: d.e, leafPatch: d.l, nextId: d.n };
      });
    messages.sort((a, b) => (a.rowKey < b.rowKey ? -1 : 1));
    return { row, etag: String(rowEntity.etag ?? ""), chunks, messages, staleRowKeys };
  }

  /** Instance rows matching a filter, one page at a time. */
  async listInstances(
    f: InstanceFilter & { activeOnly?: boolean },
    top?: number,
    continuationToken?: string,
  ): Promise<{ rows: InstanceRow[]; continuationToken?: string }> {
    const clauses = ["RowKey eq 'I'"];
    const statuses = f.activeOnly ? (["Pending", "Running", "Suspended", "ContinuedAsNew"] as RuntimeStatus[]) : f.runtimeStatus;
    if (statuses && statuses.length) clauses.push(`(${statuses.map((s) => `Status eq ${odata(s)}`).join(" or ")})`);
    if (f.createdTimeFrom) clauses.push(`CreatedTime ge ${odata(f.createdTimeFrom)}`);
    if (f.createdTimeTo) clauses.push(`CreatedTime le ${odata(f.createdTimeTo)}`);
    const pages = this.table
      .listEntities<Record<string, unknown>>({ queryOptions: { filter: clauses.join(" and ") } })
      .byPage({ maxPageSize: top ?? 1000, continuationToken });
    this.tableTrips++;
    const page = await pages.next();
    if (page.done) return { rows: [] };
    const rows: InstanceRow[] = [];
    for (const e of page.value) rows.push(await this.rowFromEntity(e));
    return { rows, continuationToken: page.value.continuationToken };
  }

  async listAllInstances(f: InstanceFilter & { activeOnly?: boolean }): Promise<InstanceRow[]> {
    const out: InstanceRow[] = [];
    let token: string | undefined;
    do {
      const page = await this.listInstances(f, 1000, token);
      out.push(...page.rows);
      token = page.continuationToken;
    } while (token);
    return out;
  }

  /** Every row and blob of an instance. */
  async purge(instanceId: string): Promise<void> {
    await this.deleteWhere(instanceId, () => true);
    this.rowBlobs.delete(instanceId);
    await this.payloads.deleteInstance(instanceId);
  }

  async deleteKeys(instanceId: string, keys: string[]): Promise<void> {
    this.forgetMessageBlobs(keys);
    for (let i = 0; i < keys.length; i += MAX_OPS) {
      this.tableTrips++;
      await this.table.submitTransaction(
        keys.slice(i, i + MAX_OPS).map((k) => ["delete", { partitionKey: instanceId, rowKey: k }] as TransactionAction),
      );
    }
  }

  /** Deletes the rows of a partition whose key passes `keep === false`; returns how many. */
  async deleteWhere(instanceId: string, match: (rowKey: string) => boolean): Promise<number> {
    const keys: string[] = [];
    const pages = this.table
      .listEntities<Record<string, unknown>>({ queryOptions: { filter: `PartitionKey eq ${odata(instanceId)}`, select: ["RowKey"] } })
      .byPage({ maxPageSize: 1000 });
    for (;;) {
      this.tableTrips++;
      const next = await pages.next();
      if (next.done) break;
      for (const e of next.value) if (match(String(e.rowKey))) keys.push(String(e.rowKey));
      if (!next.value.continuationToken) break;
    }
    await this.deleteKeys(instanceId, keys);
    return keys.length;
  }
}
