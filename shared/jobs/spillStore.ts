// The part of an instance's job queue that does not fit in the dispatcher's window: rows in the
// `jobqueue` table (partition = instance, row = the dispatcher's spill sequence number, padded
// so row order is queue order). The dispatcher carries only the window and the range
// [from, next) of rows; reading the oldest n is a range query, so the cost of a refill does not
// grow with the depth of the queue. Rows are hints, not truth: whoever reads one checks the job
// record (a row may name a job that was canceled or started since).
import type { TableClient, TransactionAction } from "@azure/data-tables";
import type { StorageClients } from "../azure/clients";
import { statusOf, translateAzureError } from "../azure/errors";
import { instanceKey } from "../ids";
import { tableKey } from "../store/recordTable";

export const JOB_QUEUE_TABLE = "jobqueue";
/** Entity-group transactions take at most 100 operations. */
const BATCH = 100;

export type SpillRow = { seq: number; jobId: string; gpus: number };

export type SpillStore = {
  /** Writes rows (upsert: a retried write of the same sequence numbers is harmless). */
  put(instance: string, rows: SpillRow[]): Promise<void>;
  /** Up to `max` rows with from ≤ seq < until, in sequence order. */
  read(instance: string, from: number, until: number, max: number): Promise<SpillRow[]>;
  remove(instance: string, seqs: number[]): Promise<void>;
  /** Every row of the instance (reconcile only: O(rows)). */
  all(instance: string): Promise<SpillRow[]>;
};

const rowKey = (seq: number) => String(seq).padStart(15, "0");

export function createSpillStore(storage: StorageClients, table = JOB_QUEUE_TABLE): SpillStore {
  const client: TableClient = storage.table(table);
  let ready: Promise<void> | undefined;
  const ensure = (): Promise<void> =>
    (ready ??= client.createTable().catch((err: unknown) => {
      ready = undefined;
      throw translateAzureError(err, `create table ${table}`);
    }));
  const pk = (instance: string) => tableKey(instanceKey(instance), "instance");

  async function batches(instance: string, actions: TransactionAction[], what: string): Promise<void> {
    await ensure();
    const chunks: TransactionAction[][] = [];
    for (let i = 0; i < actions.length; i += BATCH) chunks.push(actions.slice(i, i + BATCH));
    try {
      await Promise.all(chunks.map((c) => client.submitTransaction(c)));
    } catch (err) {
      throw translateAzureError(err, `${what} (instance ${instance})`);
    }
  }

  async function query(instance: string, filter: string, max: number): Promise<SpillRow[]> {
    await ensure();
    const out: SpillRow[] = [];
    try {
      const pages = client.listEntities<{ jobId: string; gpus: number }>({ queryOptions: { filter } }).byPage({ maxPageSize: Math.min(1000, max) });
      for await (const page of pages) {
        for (const e of page) {
          out.push({ seq: Number(e.rowKey), jobId: e.jobId, gpus: e.gpus });
          if (out.length >= max) return out;
        }
      }
    } catch (err) {
      if (statusOf(err) === 404) return out;
      throw translateAzureError(err, `read the job queue of ${instance}`);
    }
    return out;
  }

  return {
    put: (instance, rows) =>
      batches(
        instance,
        rows.map((r) => ["upsert", { partitionKey: pk(instance), rowKey: rowKey(r.seq), jobId: r.jobId, gpus: r.gpus }, "Replace"] as TransactionAction),
        "write the job queue",
      ),
    read: (instance, from, until, max) =>
      until <= from || max <= 0
        ? Promise.resolve([])
        : query(instance, `PartitionKey eq '${pk(instance).replace(/'/g, "''")}' and RowKey ge '${rowKey(from)}' and RowKey lt '${rowKey(until)}'`, max),
    remove: async (instance, seqs) => {
      // One by one when a batch fails on a row already gone (a retried refill removed it).
      try {
        await batches(instance, seqs.map((s) => ["delete", { partitionKey: pk(instance), rowKey: rowKey(s) }] as TransactionAction), "trim the job queue");
      } catch {
        await Promise.all(
          seqs.map((s) =>
            client.deleteEntity(pk(instance), rowKey(s)).catch((err: unknown) => {
              if (statusOf(err) !== 404) throw translateAzureError(err, `trim the job queue of ${instance}`);
            }),
          ),
        );
      }
    },
    all: (instance) => query(instance, `PartitionKey eq '${pk(instance).replace(/'/g, "''")}'`, Number.MAX_SAFE_INTEGER),
  };
}
