// A typed repository over one Azure Table with optimistic concurrency: every read returns
// the ETag, every write checks it. The table is created on first use.
import { type TableClient, type TableEntityResult } from "@azure/data-tables";
import { ConflictError, NotFoundError, PreconditionFailedError, ValidationError } from "../errors";
import { statusOf, translateAzureError } from "../azure/errors";
import { signToken, verifyToken } from "./continuationToken";
import { decodeRecord, encodeRecord } from "./entityCodec";

export type Stored<T> = { record: T; etag: string };
export type Page<T> = { items: Stored<T>[]; continuationToken?: string };
export type Scalar = string | number | boolean;
export type Filter = Record<string, Scalar | undefined>;
/** Row keys in [ge, lt): for tables whose row key orders the records (the audit trail's, by time). */
export type RowKeyRange = { ge?: string; lt?: string };
export type ListOptions = { filter?: Filter; rowKeys?: RowKeyRange; pageSize?: number; continuationToken?: string };

export const MAX_PAGE_SIZE = 1000;
const FIELD_RE = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** Keys may not contain / \ # ? or control characters; percent-encoding removes them all. */
export function tableKey(raw: string, what: string): string {
  const key = encodeURIComponent(raw);
  if (key.length > 1024) throw ValidationError.field(what, `${what} is too long (at most 1 KiB encoded)`);
  return key;
}

function literal(value: Scalar): string {
  if (typeof value === "string") return `'${value.replace(/'/g, "''")}'`;
  if (typeof value === "number") {
    if (!Number.isFinite(value)) throw new Error("cannot filter on a non-finite number");
    return String(value);
  }
  return value ? "true" : "false";
}

export function buildFilter(partitionKey: string | undefined, filter: Filter = {}, rowKeys: RowKeyRange = {}): string | undefined {
  const clauses: string[] = [];
  if (partitionKey !== undefined) clauses.push(`PartitionKey eq ${literal(partitionKey)}`);
  if (rowKeys.ge !== undefined) clauses.push(`RowKey ge ${literal(rowKeys.ge)}`);
  if (rowKeys.lt !== undefined) clauses.push(`RowKey lt ${literal(rowKeys.lt)}`);
  for (const [field, value] of Object.entries(filter)) {
    if (value === undefined) continue;
    if (!FIELD_RE.test(field)) throw new Error(`cannot filter on field ${JSON.stringify(field)}`);
    clauses.push(`${field} eq ${literal(value)}`);
  }
  return clauses.length ? clauses.join(" and ") : undefined;
}

export class RecordTable<T extends object> {
  private ready?: Promise<void>;

  /** `kind` names records in errors ("instance", "job"). */
  constructor(readonly client: TableClient, readonly kind: string) {}

  private ensureTable(): Promise<void> {
    this.ready ??= this.client.createTable().catch((err: unknown) => {
      this.ready = undefined; // try again next time
      throw translateAzureError(err, `create table ${this.client.tableName}`);
    });
    return this.ready;
  }

  private async call<R>(what: string, fn: () => Promise<R>): Promise<R> {
    await this.ensureTable();
    try {
      return await fn();
    } catch (err) {
      // The table can vanish under us (tests, manual cleanup): recreate once and retry.
      if (statusOf(err) === 404 && (err as { code?: string }).code === "TableNotFound") {
        this.ready = undefined;
        await this.ensureTable();
        try {
          return await fn();
        } catch (again) {
          throw translateAzureError(again, what);
        }
      }
      throw translateAzureError(err, what);
    }
  }

  async get(partitionKey: string, rowKey: string): Promise<Stored<T> | undefined> {
    await this.ensureTable();
    try {
      const e = await this.client.getEntity<Record<string, unknown>>(partitionKey, rowKey);
      return { record: decodeRecord<T>(e), etag: e.etag };
    } catch (err) {
      if (statusOf(err) === 404) return undefined;
      throw translateAzureError(err, `read ${this.kind} ${rowKey}`);
    }
  }

  /** Inserts; ConflictError when a record with these keys exists. */
  async create(partitionKey: string, rowKey: string, record: T): Promise<Stored<T>> {
    const entity = { partitionKey, rowKey, ...encodeRecord(record, this.kind) };
    try {
      const res = await this.call(`create ${this.kind} ${rowKey}`, () => this.client.createEntity(entity));
      return { record, etag: res.etag ?? "" };
    } catch (err) {
      if (err instanceof ConflictError) throw new ConflictError(`${this.kind} '${decodeURIComponent(rowKey)}' already exists.`, { retryable: false });
      throw err;
    }
  }

  /**
   * Replaces the record if its ETag still matches (`"*"` = unconditionally).
   * PreconditionFailedError when someone else wrote first; NotFoundError when it is gone.
   */
  async update(partitionKey: string, rowKey: string, record: T, etag: string): Promise<Stored<T>> {
    const entity = { partitionKey, rowKey, ...encodeRecord(record, this.kind) };
    try {
      const res = await this.call(`update ${this.kind} ${rowKey}`, () => this.client.updateEntity(entity, "Replace", { etag }));
      return { record, etag: res.etag ?? "" };
    } catch (err) {
      if (err instanceof PreconditionFailedError) {
        throw new PreconditionFailedError(`${this.kind} '${decodeURIComponent(rowKey)}' was changed by someone else (ETag mismatch).`);
      }
      if (err instanceof NotFoundError) throw NotFoundError.resource(this.kind, decodeURIComponent(rowKey));
      throw err;
    }
  }

  /** Inserts or replaces without a concurrency check (for records owned by one writer). */
  async upsert(partitionKey: string, rowKey: string, record: T): Promise<Stored<T>> {
    const entity = { partitionKey, rowKey, ...encodeRecord(record, this.kind) };
    const res = await this.call(`write ${this.kind} ${rowKey}`, () => this.client.upsertEntity(entity, "Replace"));
    return { record, etag: res.etag ?? "" };
  }

  /** Deletes; false when it did not exist. With an ETag, PreconditionFailedError if it changed. */
  async delete(partitionKey: string, rowKey: string, etag = "*"): Promise<boolean> {
    await this.ensureTable();
    try {
      await this.client.deleteEntity(partitionKey, rowKey, { etag });
      return true;
    } catch (err) {
      if (statusOf(err) === 404) return false;
      const translated = translateAzureError(err, `delete ${this.kind} ${rowKey}`);
      if (translated instanceof PreconditionFailedError) {
        throw new PreconditionFailedError(`${this.kind} '${decodeURIComponent(rowKey)}' was changed by someone else (ETag mismatch).`);
      }
      throw translated;
    }
  }

  /** One page; pass the returned continuationToken back for the next one. */
  async list(partitionKey: string | undefined, opts: ListOptions = {}): Promise<Page<T>> {
    const pageSize = Math.min(Math.max(opts.pageSize ?? 100, 1), MAX_PAGE_SIZE);
    const filter = buildFilter(partitionKey, opts.filter, opts.rowKeys);
    // A token continues exactly this query: same table, same filter.
    const context = `${this.client.tableName}\n${filter ?? ""}`;
    const token = verifyToken(context, opts.continuationToken);
    return this.call(`list ${this.kind} records`, async () => {
      const pages = this.client
        .listEntities<Record<string, unknown>>({ queryOptions: filter ? { filter } : {} })
        .byPage({ maxPageSize: pageSize, ...(token ? { continuationToken: token } : {}) });
      const first = await pages.next();
      if (first.done) return { items: [] };
      const page = first.value;
      const items = page.map((e: TableEntityResult<Record<string, unknown>>) => ({
        record: decodeRecord<T>(e),
        etag: e.etag,
      }));
      return { items, continuationToken: signToken(context, page.continuationToken) };
    });
  }

  /** Every record matching, following continuation tokens (for small partitions only). */
  async listAll(partitionKey: string | undefined, filter?: Filter): Promise<Stored<T>[]> {
    const out: Stored<T>[] = [];
    let continuationToken: string | undefined;
    do {
      const page = await this.list(partitionKey, { filter, pageSize: MAX_PAGE_SIZE, continuationToken });
      out.push(...page.items);
      continuationToken = page.continuationToken;
    } while (continuationToken);
    return out;
  }
}
