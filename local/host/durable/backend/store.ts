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
// What is stored is typed in records.ts; rows are encoded in rows.ts.
import type { BlobServiceClient } from "@azure/storage-blob";
import { TableClient, TableServiceClient, type TableEntity, type TransactionAction } from "@azure/data-tables";
import { PayloadStore, TABLE_LIMITS } from "./payloads";
import { checkTableLimits, chunkRowPrefix, entityBytes, pad, RowCodec, type Entity } from "./rows";
import type { RuntimeStatus } from "../types";
import type { Chunk, InstanceFilter, InstanceRow, LoadedPartition, StoredMessage } from "./records";

const odata = (s: string) => `'${s.replace(/'/g, "''")}'`;

const MAX_OPS = TABLE_LIMITS.batchOps;

/** The clients a task hub needs from a storage connection. */
export type TaskHubStorage = { table(name: string): TableClient; tableService: TableServiceClient; blobs: BlobServiceClient };

export class TaskHubStore {
  readonly table: TableClient;
  private readonly service: TableServiceClient;
  readonly payloads: PayloadStore;
  /** Requests sent to table storage; the benchmark reports them per orchestration step. */
  private tableTrips = 0;
  private msgSeq = 0;
  private readonly codec: RowCodec;

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
    this.codec = new RowCodec(this.payloads);
  }

  /** Requests sent to storage (tables and blobs). */
  get roundTrips(): number {
    return this.tableTrips + this.payloads.roundTrips;
  }

  /** Counts a table request made with `table` by another module (the entity store). */
  countTrip(): void {
    this.tableTrips++;
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

  /**
   * Creates the instance row. If one exists: returns its status when it is still active,
   * otherwise replaces it (a finished instance id may be started again) and reports the
   * row keys of the old execution for clean-up.
   */
  async createInstance(r: InstanceRow): Promise<{ created: true } | { created: false; status: RuntimeStatus }> {
    const entity = await this.codec.instanceEntity(r);
    checkTableLimits([entity]);
    this.tableTrips++;
    try {
      await this.table.createEntity(entity);
      this.codec.replaceRowBlobs(entity);
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
      this.codec.replaceRowBlobs(entity);
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
    const instance = await this.codec.instanceEntity(row);
    const ops: TransactionAction[] = [["upsert", instance, "Replace"]];
    if (chunk) ops.push(["upsert", await this.codec.chunkEntity(id, chunk), "Replace"]);
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
      const e = await this.codec.messageEntity(id, m);
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
    this.codec.replaceRowBlobs(instance);
    this.codec.forgetMessageBlobs(deleteKeys.slice(0, Math.max(0, room)));
    if (deletes.length > room) void this.deleteKeys(id, deleteKeys.slice(room)).catch(() => undefined);
  }

  /**
   * A rewind (executor/rewind.ts): the rewritten history chunks and the instance row, in one
   * transaction when they fit (the row and the last chunk always go last, together).
   */
  async rewriteExecution(row: InstanceRow, chunks: Chunk[]): Promise<void> {
    const id = row.instanceId;
    const instance = await this.codec.instanceEntity(row);
    const ops: TransactionAction[] = [];
    for (const c of chunks) ops.push(["upsert", await this.codec.chunkEntity(id, c), "Replace"]);
    ops.push(["upsert", instance, "Replace"]);
    const size = (o: TransactionAction) => entityBytes(o[1] as Record<string, unknown>);
    const tail = ops.splice(-2);
    checkTableLimits(tail.map((o) => o[1] as Record<string, unknown>));
    let batch: TransactionAction[] = [];
    let bytes = 0;
    const flush = async () => {
      this.tableTrips++;
      await this.table.submitTransaction(batch);
      batch = [];
      bytes = 0;
    };
    for (const o of ops) {
      if (batch.length && (batch.length + 1 > MAX_OPS || bytes + size(o) > TABLE_LIMITS.batchBytes)) await flush();
      batch.push(o);
      bytes += size(o);
    }
    const tailBytes = tail.reduce((n, o) => n + size(o), 0);
    if (batch.length && (batch.length + tail.length > MAX_OPS || bytes + tailBytes > TABLE_LIMITS.batchBytes)) await flush();
    batch.push(...tail);
    await flush();
    this.codec.replaceRowBlobs(instance);
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
    for (const m of ms) entities.push(await this.codec.messageEntity(instanceId, m));
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
      return await this.codec.rowFromEntity(await this.table.getEntity<Record<string, unknown>>(instanceId, "I"));
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
    const row = await this.codec.rowFromEntity(rowEntity);
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
        list[part] = (await this.codec.getLarge(e, "Data")) ?? "";
        parts.set(seq, list);
      } else if (key.startsWith("M")) {
        messages.push(await this.codec.messageFromEntity(key, e));
      } else if (!key.startsWith("O")) staleRowKeys.push(key); // "O": an outbox row, the entity runtime delivers it
    }
    const chunks = this.codec.chunksOf(row.exec, parts);
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
    for (const e of page.value) rows.push(await this.codec.rowFromEntity(e));
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
    this.codec.forgetInstance(instanceId);
    await this.payloads.deleteInstance(instanceId);
  }

  async deleteKeys(instanceId: string, keys: string[]): Promise<void> {
    this.codec.forgetMessageBlobs(keys);
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
