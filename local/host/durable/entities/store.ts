// Entities in the task hub table, one partition per entity ("@name@key"), next to the
// orchestration partitions. Rows of an entity partition:
//   "E"       the entity: user state, lock holder, queued requests
//   "M<seq>"  a delivered message not yet processed
//   "O<seq>"  messages this partition sent in a committed transaction, not yet delivered
// A batch commits the "E" row, its outbox row and the deletion of the messages it consumed in
// ONE entity-group transaction: a message is processed exactly once with its state change, and
// what the batch sends is delivered at least once. Orchestration partitions use "O" rows the same way.
import type { TableClient, TableEntity, TransactionAction } from "@azure/data-tables";
import type { EntityMessage, EntityRecord, OutboxEntry } from "./types";

const PART = 30_000; // characters per string property (limit: 64 KiB)
type Row = TableEntity<Record<string, unknown>>;

const odata = (s: string) => `'${s.replace(/'/g, "''")}'`;

export function putText(e: Record<string, unknown>, name: string, text: string): void {
  const n = Math.max(1, Math.ceil(text.length / PART));
  for (let i = 0; i < n; i++) e[i === 0 ? name : `${name}_${i}`] = text.slice(i * PART, (i + 1) * PART);
  if (n > 1) e[`${name}_n`] = n;
}

export function getText(e: Record<string, unknown>, name: string): string | undefined {
  const first = e[name];
  if (typeof first !== "string") return undefined;
  const n = typeof e[`${name}_n`] === "number" ? (e[`${name}_n`] as number) : 1;
  let s = first;
  for (let i = 1; i < n; i++) s += String(e[`${name}_${i}`] ?? "");
  return s;
}

export type StoredEntityMessage = { rowKey: string; msg: EntityMessage };
export type LoadedEntity = { record?: EntityRecord; messages: StoredEntityMessage[]; outbox: { rowKey: string; entries: OutboxEntry[] }[] };

export function outboxRow(partition: string, rowKey: string, entries: OutboxEntry[]): Row {
  const e: Record<string, unknown> = { partitionKey: partition, rowKey };
  putText(e, "Data", JSON.stringify(entries));
  return e as Row;
}

export function outboxEntries(e: Record<string, unknown>): OutboxEntry[] {
  return JSON.parse(getText(e, "Data") ?? "[]") as OutboxEntry[];
}

export class EntityStore {
  private seq = 0;
  constructor(
    readonly table: TableClient,
    private readonly count: () => void,
  ) {}

  /** A row key after every earlier one of this process: messages ("M") and outbox rows ("O"). */
  newKey(prefix: "M" | "O"): string {
    this.seq = (this.seq + 1) % 1_000_000;
    return `${prefix}${String(Date.now()).padStart(15, "0")}${String(this.seq).padStart(6, "0")}`;
  }

  private recordRow(r: EntityRecord): Row {
    const e: Record<string, unknown> = {
      partitionKey: r.id,
      rowKey: "E",
      Name: r.name,
      Key: r.key,
      Exists: r.exists,
      LastModifiedTime: r.lastModifiedTime,
      QueueSize: r.queue.length,
    };
    // A new entity whose operations set no state has none (null): nothing to store, as on Azure.
    if (r.state !== undefined && r.state !== null) putText(e, "State", r.state);
    if (r.lockedBy !== undefined) e.LockedBy = r.lockedBy;
    if (r.queue.length) putText(e, "Queue", JSON.stringify(r.queue));
    if (r.recent?.length) putText(e, "Recent", JSON.stringify(r.recent));
    return e as Row;
  }

  static record(e: Record<string, unknown>): EntityRecord {
    return {
      id: String(e.partitionKey),
      name: String(e.Name),
      key: String(e.Key),
      exists: e.Exists === true,
      state: getText(e, "State"),
      lockedBy: typeof e.LockedBy === "string" ? e.LockedBy : undefined,
      queue: JSON.parse(getText(e, "Queue") ?? "[]") as EntityRecord["queue"],
      lastModifiedTime: String(e.LastModifiedTime),
      recent: JSON.parse(getText(e, "Recent") ?? "[]") as string[],
    };
  }

  async read(id: string): Promise<EntityRecord | undefined> {
    this.count();
    try {
      return EntityStore.record(await this.table.getEntity<Record<string, unknown>>(id, "E"));
    } catch (err) {
      if ((err as { statusCode?: number }).statusCode === 404) return undefined;
      throw err;
    }
  }

  /** The entity, its pending messages (in arrival order) and its undelivered outbox rows. */
  async load(id: string): Promise<LoadedEntity> {
    const out: LoadedEntity = { messages: [], outbox: [] };
    const pages = this.table.listEntities<Record<string, unknown>>({ queryOptions: { filter: `PartitionKey eq ${odata(id)}` } }).byPage({ maxPageSize: 1000 });
    for (;;) {
      this.count();
      const next = await pages.next();
      if (next.done) break;
      for (const e of next.value) {
        const key = String(e.rowKey);
        if (key === "E") out.record = EntityStore.record(e);
        else if (key.startsWith("M")) out.messages.push({ rowKey: key, msg: JSON.parse(getText(e, "Data") ?? "null") as EntityMessage });
        else if (key.startsWith("O")) out.outbox.push({ rowKey: key, entries: outboxEntries(e) });
      }
      if (!next.value.continuationToken) break;
    }
    out.messages.sort((a, b) => (a.rowKey < b.rowKey ? -1 : 1));
    return out;
  }

  /** Messages of one entity in one transaction (at most 100; upserts, so a redelivery is harmless). */
  async putMessages(id: string, ms: StoredEntityMessage[]): Promise<void> {
    this.count();
    await this.table.submitTransaction(
      ms.map((m) => {
        const e: Record<string, unknown> = { partitionKey: id, rowKey: m.rowKey };
        putText(e, "Data", JSON.stringify(m.msg)); // an operation input may exceed one 64 KiB property
        return ["upsert", e as Row, "Replace"] as TransactionAction;
      }),
    );
  }

  /** One batch: the entity row, what it sends, and the messages it consumed, atomically. */
  async commitBatch(r: EntityRecord, consumed: string[], outbox?: { rowKey: string; entries: OutboxEntry[] }): Promise<void> {
    const ops: TransactionAction[] = [["upsert", this.recordRow(r), "Replace"]];
    if (outbox) ops.push(["upsert", outboxRow(r.id, outbox.rowKey, outbox.entries), "Replace"]);
    for (const k of consumed) ops.push(["delete", { partitionKey: r.id, rowKey: k }]);
    this.count();
    await this.table.submitTransaction(ops);
  }

  async deleteRow(partition: string, rowKey: string): Promise<void> {
    this.count();
    try {
      await this.table.deleteEntity(partition, rowKey);
    } catch (err) {
      if ((err as { statusCode?: number }).statusCode !== 404) throw err;
    }
  }

  /** Deletes every row of an entity partition except undelivered outbox rows; returns how many. */
  async deleteAll(id: string): Promise<number> {
    const keys = (await this.scan(`PartitionKey eq ${odata(id)}`, ["RowKey"])).map((e) => String(e.rowKey)).filter((k) => !k.startsWith("O"));
    for (let i = 0; i < keys.length; i += 100) {
      this.count();
      await this.table.submitTransaction(keys.slice(i, i + 100).map((k) => ["delete", { partitionKey: id, rowKey: k }] as TransactionAction));
    }
    return keys.length;
  }

  /** Every row matching a filter, across partitions (start-up scans). */
  async scan(filter: string, select?: string[]): Promise<Record<string, unknown>[]> {
    const rows: Record<string, unknown>[] = [];
    const pages = this.table.listEntities<Record<string, unknown>>({ queryOptions: { filter, select } }).byPage({ maxPageSize: 1000 });
    for (;;) {
      this.count();
      const next = await pages.next();
      if (next.done) break;
      rows.push(...next.value);
      if (!next.value.continuationToken) break;
    }
    return rows;
  }

  /** Undelivered outbox rows of every partition. */
  pendingOutbox(): Promise<Record<string, unknown>[]> {
    return this.scan("RowKey ge 'O' and RowKey lt 'P'");
  }

  /** Entity partitions with messages or queued requests left (entity ids start with "@"). */
  async pendingEntities(): Promise<string[]> {
    const rows = await this.scan("PartitionKey ge '@' and PartitionKey lt 'A' and ((RowKey ge 'M' and RowKey lt 'N') or (RowKey eq 'E' and QueueSize gt 0))", ["PartitionKey"]);
    return [...new Set(rows.map((r) => String(r.partitionKey)))];
  }

  /** Entities of one name (lower-cased), a page at a time. */
  async list(name: string | undefined, top: number | undefined, continuationToken: string | undefined): Promise<{ records: EntityRecord[]; continuationToken?: string }> {
    const clauses = ["RowKey eq 'E'", "Exists eq true"];
    if (name) clauses.push(`Name eq ${odata(name.toLowerCase())}`);
    const pages = this.table.listEntities<Record<string, unknown>>({ queryOptions: { filter: clauses.join(" and ") } }).byPage({ maxPageSize: top ?? 100, continuationToken });
    this.count();
    const page = await pages.next();
    if (page.done) return { records: [] };
    return { records: page.value.map((e) => EntityStore.record(e)), continuationToken: page.value.continuationToken };
  }
}
