// The task hub in Azure Table storage (Azurite locally): one partition per instance, so
// an episode (instance row + its history chunk + consumed message rows) commits in ONE
// entity-group transaction. Rows of a partition:
//   "I"                       the instance (status, input/output, parent, execution id)
//   "H<exec>_<episode>_<part>" one episode's history events and leaf changes
//   "M<seq>"                  a persisted message not yet applied (events, control)
//   "O<seq>"                  messages to entities an episode sent, not yet delivered
// Activity results and timers are not stored apart: an open TaskScheduled/TimerCreated in
// the history is re-dispatched/re-armed after a restart (at-least-once).
import { TableClient, TableServiceClient, type TableEntity, type TransactionAction } from "@azure/data-tables";
import type { FailureDetails, HistoryEvent, InstanceMessage, Leaf, ParentRef, RuntimeStatus } from "./types";

const PART = 30_000; // characters per string property (limit: 64 KiB)
const PARTS_PER_ROW = 12;
const MAX_OPS = 100;

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

export type Chunk = { exec: string; seq: number; events: HistoryEvent[]; leafPatch: [number, Leaf][]; nextId: number };
export type StoredMessage = { rowKey: string; msg: InstanceMessage };
export type LoadedPartition = { row: InstanceRow; etag?: string; chunks: Chunk[]; messages: StoredMessage[]; staleRowKeys: string[] };

export type InstanceFilter = {
  runtimeStatus?: RuntimeStatus[];
  createdTimeFrom?: string;
  createdTimeTo?: string;
};

type Entity = TableEntity<Record<string, unknown>>;

function putText(e: Record<string, unknown>, name: string, text: string | undefined): void {
  if (text === undefined) return;
  const n = Math.max(1, Math.ceil(text.length / PART));
  e[name] = text.slice(0, PART);
  for (let i = 1; i < n; i++) e[`${name}_${i}`] = text.slice(i * PART, (i + 1) * PART);
  if (n > 1) e[`${name}_n`] = n;
}

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

export class TaskHubStore {
  readonly table: TableClient;
  private readonly service: TableServiceClient;
  /** Requests sent to storage; the benchmark reports them per orchestration step. */
  roundTrips = 0;
  private msgSeq = 0;

  constructor(connectionString: string, readonly tableName: string) {
    const opts = { allowInsecureConnection: true, retryOptions: { maxRetries: 2 } };
    this.table = TableClient.fromConnectionString(connectionString, tableName, opts);
    this.service = TableServiceClient.fromConnectionString(connectionString, opts);
  }

  async init(): Promise<void> {
    this.roundTrips++;
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

  instanceEntity(r: InstanceRow): Entity {
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
    putText(e, "Input", r.input);
    putText(e, "Output", r.output);
    putText(e, "CustomStatus", r.customStatus);
    if (r.failure) putText(e, "Failure", JSON.stringify(r.failure));
    if (r.parent) e.Parent = JSON.stringify(r.parent);
    return e as Entity;
  }

  static rowFromEntity(e: Record<string, unknown>): InstanceRow {
    const failure = getText(e, "Failure");
    return {
      instanceId: String(e.partitionKey),
      name: String(e.Name),
      status: String(e.Status) as RuntimeStatus,
      exec: String(e.Exec),
      createdTime: String(e.CreatedTime),
      lastUpdatedTime: String(e.LastUpdatedTime),
      input: getText(e, "Input"),
      output: getText(e, "Output"),
      customStatus: getText(e, "CustomStatus"),
      failure: failure ? (JSON.parse(failure) as FailureDetails) : undefined,
      parent: typeof e.Parent === "string" ? (JSON.parse(e.Parent) as ParentRef) : undefined,
      chunks: Number(e.Chunks ?? 0),
    };
  }

  private chunkEntities(instanceId: string, c: Chunk): Entity[] {
    const text = JSON.stringify({ e: c.events, l: c.leafPatch, n: c.nextId });
    const perRow = PART * PARTS_PER_ROW;
    const rows: Entity[] = [];
    for (let p = 0; p * perRow < text.length || p === 0; p++) {
      const e: Record<string, unknown> = {
        partitionKey: instanceId,
        rowKey: `${chunkRowPrefix(c.exec)}${pad(c.seq, 7)}_${pad(p, 3)}`,
      };
      putText(e, "Data", text.slice(p * perRow, (p + 1) * perRow));
      rows.push(e as Entity);
    }
    return rows;
  }

  /**
   * Creates the instance row. If one exists: returns its status when it is still active,
   * otherwise replaces it (a finished instance id may be started again) and reports the
   * row keys of the old execution for clean-up.
   */
  async createInstance(r: InstanceRow): Promise<{ created: true } | { created: false; status: RuntimeStatus }> {
    this.roundTrips++;
    try {
      await this.table.createEntity(this.instanceEntity(r));
      return { created: true };
    } catch (err) {
      if ((err as { statusCode?: number }).statusCode !== 409) throw err;
    }
    this.roundTrips++;
    const existing = await this.table.getEntity<Record<string, unknown>>(r.instanceId, "I");
    const status = String(existing.Status) as RuntimeStatus;
    if (status !== "Completed" && status !== "Failed" && status !== "Terminated") return { created: false, status };
    this.roundTrips++;
    try {
      await this.table.updateEntity(this.instanceEntity(r), "Replace", { etag: existing.etag });
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
    const ops: TransactionAction[] = [["upsert", this.instanceEntity(row), "Replace"]];
    if (chunk) for (const e of this.chunkEntities(row.instanceId, chunk)) ops.push(["upsert", e, "Replace"]);
    // Messages to entities sent by this episode (entities/store.ts): delivered after the commit.
    if (outboxRow) ops.push(["upsert", outboxRow, "Replace"]);
    // continueAsNew can carry more events than one transaction holds: the overflow is written
    // first. A crash in between may deliver those events twice (at-least-once), never lose them.
    const fits = Math.max(0, MAX_OPS - ops.length);
    for (let i = fits; i < newMessages.length; i += MAX_OPS) await this.putMessages(row.instanceId, newMessages.slice(i, i + MAX_OPS));
    newMessages = newMessages.slice(0, fits);
    for (const m of newMessages) ops.push(["upsert", { partitionKey: row.instanceId, rowKey: m.rowKey, Data: JSON.stringify(m.msg) }, "Replace"]);
    const deletes: TransactionAction[] = deleteKeys.map((k) => ["delete", { partitionKey: row.instanceId, rowKey: k }]);
    // Deletes that do not fit stay behind; they are recognised and removed after a restart.
    const room = MAX_OPS - ops.length;
    ops.push(...deletes.slice(0, Math.max(0, room)));
    this.roundTrips++;
    await this.table.submitTransaction(ops);
    if (deletes.length > room) void this.deleteKeys(row.instanceId, deleteKeys.slice(room)).catch(() => undefined);
  }

  /** Persists messages of one instance in one transaction (at most 100). */
  async putMessages(instanceId: string, ms: StoredMessage[]): Promise<void> {
    this.roundTrips++;
    if (ms.length === 1) {
      await this.table.upsertEntity({ partitionKey: instanceId, rowKey: ms[0]!.rowKey, Data: JSON.stringify(ms[0]!.msg) }, "Replace");
      return;
    }
    await this.table.submitTransaction(
      ms.map((m) => ["upsert", { partitionKey: instanceId, rowKey: m.rowKey, Data: JSON.stringify(m.msg) }, "Replace"] as TransactionAction),
    );
  }

  async readInstance(instanceId: string): Promise<InstanceRow | undefined> {
    this.roundTrips++;
    try {
      return TaskHubStore.rowFromEntity(await this.table.getEntity<Record<string, unknown>>(instanceId, "I"));
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
      this.roundTrips++;
      const next = await pages.next();
      if (next.done) break;
      entities.push(...next.value);
      if (!next.value.continuationToken) break;
    }
    const rowEntity = entities.find((e) => e.rowKey === "I");
    if (!rowEntity) return undefined;
    const row = TaskHubStore.rowFromEntity(rowEntity);
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
        list[part] = getText(e, "Data") ?? "";
        parts.set(seq, list);
      } else if (key.startsWith("M")) {
        messages.push({ rowKey: key, msg: JSON.parse(String(e.Data)) as InstanceMessage });
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
    this.roundTrips++;
    const page = await pages.next();
    if (page.done) return { rows: [] };
    return { rows: page.value.map((e) => TaskHubStore.rowFromEntity(e)), continuationToken: page.value.continuationToken };
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

  async deleteKeys(instanceId: string, keys: string[]): Promise<void> {
    for (let i = 0; i < keys.length; i += MAX_OPS) {
      this.roundTrips++;
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
      this.roundTrips++;
      const next = await pages.next();
      if (next.done) break;
      for (const e of next.value) if (match(String(e.rowKey))) keys.push(String(e.rowKey));
      if (!next.value.continuationToken) break;
    }
    await this.deleteKeys(instanceId, keys);
    return keys.length;
  }
}
