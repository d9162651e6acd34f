// Idempotency keys (Idempotency-Key header, queue idempotencyKey): the first result stored
// under (scope, key) is what every repeat gets. Scope keeps callers' keys apart
// (e.g. "jobs:alice"); keys are client-chosen, so they are percent-encoded into row keys.
import type { StorageClients } from "../azure/clients";
import { ConflictError } from "../errors";
import { RecordTable, tableKey, type Page, type Stored } from "./recordTable";

export const IDEMPOTENCY_TABLE = "idempotency";

export type IdempotencyRecord<R> = { scope: string; key: string; result: R; createdAt: string };

export type IdempotencyStore<R> = {
  get(scope: string, key: string): Promise<Stored<IdempotencyRecord<R>> | undefined>;
  /** Creates; ConflictError if the key was used already. */
  create(record: IdempotencyRecord<R>): Promise<Stored<IdempotencyRecord<R>>>;
  /**
   * Stores `result` unless the key is taken; returns the first result either way and
   * whether this call was the first.
   */
  remember(scope: string, key: string, result: R, now?: Date): Promise<{ result: R; first: boolean }>;
  update(record: IdempotencyRecord<R>, etag: string): Promise<Stored<IdempotencyRecord<R>>>;
  delete(scope: string, key: string, etag?: string): Promise<boolean>;
  list(scope: string, opts?: { pageSize?: number; continuationToken?: string }): Promise<Page<IdempotencyRecord<R>>>;
};

export function createIdempotencyStore<R>(storage: StorageClients, tableName = IDEMPOTENCY_TABLE): IdempotencyStore<R> {
  const table = new RecordTable<IdempotencyRecord<R>>(storage.table(tableName), "idempotency key");
  const pk = (scope: string) => tableKey(scope, "scope");
  const rk = (key: string) => tableKey(key, "Idempotency-Key");
  const store: IdempotencyStore<R> = {
    get: (scope, key) => table.get(pk(scope), rk(key)),
    create: (record) => table.create(pk(record.scope), rk(record.key), record),
    async remember(scope, key, result, now = new Date()) {
      try {
        await store.create({ scope, key, result, createdAt: now.toISOString() });
        return { result, first: true };
      } catch (err) {
        if (!(err instanceof ConflictError)) throw err;
        const existing = await store.get(scope, key);
        if (!existing) throw err; // deleted in between: let the caller retry
        return { result: existing.record.result, first: false };
      }
    },
    update: (record, etag) => table.update(pk(record.scope), rk(record.key), record, etag),
    delete: (scope, key, etag) => table.delete(pk(scope), rk(key), etag),
    list: (scope, opts = {}) => table.list(pk(scope), opts),
  };
  return store;
}
