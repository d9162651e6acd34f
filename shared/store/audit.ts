// The audit trail (GET /api/audit): partition = workspace, row = entry id. The id starts with
// the time inverted (ms before year 2286), so a partition scan returns the newest first and a
// time window is a row-key range; an operation's entry id is derived from the operation (its
// start time and id), so whoever finishes the operation finds the entry without a lookup, and
// writing it twice (a retried activity or trigger) is one entry.
import { randomBytes } from "node:crypto";
import type { StorageClients } from "../azure/clients";
import { ConflictError, PreconditionFailedError } from "../errors";
import type { AuditEntry } from "../schemas/audit";
import { RecordTable, tableKey, type Page, type Stored } from "./recordTable";

export const AUDIT_TABLE = "audit";
const MAX_MS = 9_999_999_999_999;

function invertedTime(iso: string): string {
  const ms = Date.parse(iso);
  if (!Number.isFinite(ms)) throw new Error(`not a time: ${iso}`);
  return String(MAX_MS - ms).padStart(13, "0");
}

/** The entry id of an operation (create, start, stop, restart, delete): from its start time and id. */
export function operationAuditId(startedAt: string, operationId: string): string {
  return `${invertedTime(startedAt)}-${operationId}`;
}

/** A new entry id for a call that started no operation. */
export function newAuditId(at: string): string {
  return `${invertedTime(at)}-${randomBytes(8).toString("hex")}`;
}

export type AuditQuery = {
  instance?: string;
  actor?: string;
  /** The caller's scope: users see the entries of their instances only. */
  assignedUser?: string;
  from?: string;
  to?: string;
  pageSize?: number;
  continuationToken?: string;
};

export type AuditStore = {
  /** Writes the entry once; a second write of the same id keeps the first. */
  record(entry: AuditEntry): Promise<void>;
  /** Sets the result of a Running entry (an operation that ended); absent or already ended: nothing. */
  finish(id: string, end: Pick<AuditEntry, "result" | "endedAt" | "error">): Promise<void>;
  get(id: string): Promise<AuditEntry | undefined>;
  list(q: AuditQuery): Promise<Page<AuditEntry>>;
  /** Deletes entries older than `before` (the retention); returns how many. */
  purge(before: string): Promise<number>;
};

export function createAuditStore(storage: StorageClients, workspace: string): AuditStore {
  const table = new RecordTable<AuditEntry>(storage.table(AUDIT_TABLE), "audit entry");
  const pk = tableKey(workspace, "workspace");
  const rk = (id: string) => tableKey(id, "auditId");
  return {
    async record(entry) {
      try {
        await table.create(pk, rk(entry.id), entry);
      } catch (err) {
        if (!(err instanceof ConflictError)) throw err;
      }
    },
    async finish(id, end) {
      for (let attempt = 0; attempt < 10; attempt++) {
        const got = await table.get(pk, rk(id));
        if (!got || got.record.result !== "Running") return;
        try {
          await table.update(pk, rk(id), { ...got.record, ...end }, got.etag);
          return;
        } catch (err) {
          if (!(err instanceof PreconditionFailedError)) throw err;
        }
      }
    },
    async get(id) {
      return (await table.get(pk, rk(id)))?.record;
    },
    list(q) {
      // Newest first: `to` bounds the smallest row key, `from` the largest.
      const rowKeys = {
        ...(q.to ? { ge: invertedTime(q.to) } : {}),
        ...(q.from ? { lt: `${invertedTime(q.from)}.` } : {}),
      };
      return table.list(pk, {
        filter: { instance: q.instance, actor: q.actor, assignedUser: q.assignedUser },
        rowKeys,
        ...(q.pageSize ? { pageSize: q.pageSize } : {}),
        ...(q.continuationToken ? { continuationToken: q.continuationToken } : {}),
      });
    },
    async purge(before) {
      let removed = 0;
      let page: Page<AuditEntry> | undefined;
      do {
        // Entries older than `before` have row keys from its inverted time on.
        page = await table.list(pk, { rowKeys: { ge: `${invertedTime(before)}.` }, pageSize: 1000, ...(page?.continuationToken ? { continuationToken: page.continuationToken } : {}) });
        for (const item of page.items as Stored<AuditEntry>[]) if (await table.delete(pk, rk(item.record.id))) removed++;
      } while (page.continuationToken);
      return removed;
    },
  };
}
