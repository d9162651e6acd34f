// Job records: partition = instance key, row = job id, so an instance's queue is one
// partition query. GET /api/jobs/{id} knows only the id, so a second table `jobindex`
// (partition = job id, row = "") maps id → instance: a point read instead of a scan.
// Tables has no cross-partition transactions; the index row is written first and deleted
// last, so a job row never exists without its index row (an orphan index row reads as
// "not found" and is repaired by the next create of the same id).
import { ConflictError } from "../errors";
import { instanceKey } from "../ids";
import type { StorageClients } from "../azure/clients";
import { RecordTable, tableKey, type Filter, type Page, type Stored } from "./recordTable";

export const JOBS_TABLE = "jobs";
export const JOB_INDEX_TABLE = "jobindex";

type JobIndexRow = { instance: string };

export type JobListOptions<T> = {
  filter?: Partial<Record<keyof T & string, string | number | boolean>>;
  pageSize?: number;
  continuationToken?: string;
};

export type JobStore<T extends { id: string; instance: string }> = {
  /** By id alone (through the index). */
  get(id: string): Promise<Stored<T> | undefined>;
  getInInstance(instance: string, id: string): Promise<Stored<T> | undefined>;
  create(record: T): Promise<Stored<T>>;
  update(record: T, etag: string): Promise<Stored<T>>;
  delete(instance: string, id: string, etag?: string): Promise<boolean>;
  list(instance: string, opts?: JobListOptions<T>): Promise<Page<T>>;
  listAll(instance: string, filter?: JobListOptions<T>["filter"]): Promise<Stored<T>[]>;
};

export function createJobStore<T extends { id: string; instance: string }>(
  storage: StorageClients,
  tables: { jobs?: string; index?: string } = {},
): JobStore<T> {
  const jobs = new RecordTable<T>(storage.table(tables.jobs ?? JOBS_TABLE), "job");
  const index = new RecordTable<JobIndexRow>(storage.table(tables.index ?? JOB_INDEX_TABLE), "job");
  const pk = (instance: string) => tableKey(instanceKey(instance), "instance");
  const rk = (id: string) => tableKey(id, "jobId");

  async function getInInstance(instance: string, id: string) {
    return jobs.get(pk(instance), rk(id));
  }

  return {
    async get(id) {
      const idx = await index.get(rk(id), "");
      return idx ? getInInstance(idx.record.instance, id) : undefined;
    },
    getInInstance,
    async create(record) {
      try {
        await index.create(rk(record.id), "", { instance: record.instance });
      } catch (err) {
        if (!(err instanceof ConflictError)) throw err;
        // A retry after a crash between the two writes finds its own index row: go on.
        const existing = await index.get(rk(record.id), "");
        if (existing && instanceKey(existing.record.instance) !== instanceKey(record.instance)) {
          throw new ConflictError(`job '${record.id}' already exists.`, { retryable: false });
        }
      }
      return jobs.create(pk(record.instance), rk(record.id), record);
    },
    update: (record, etag) => jobs.update(pk(record.instance), rk(record.id), record, etag),
    async delete(instance, id, etag) {
      const deleted = await jobs.delete(pk(instance), rk(id), etag);
      await index.delete(rk(id), "");
      return deleted;
    },
    list: (instance, opts = {}) => jobs.list(pk(instance), { ...opts, filter: opts.filter as Filter | undefined }),
    listAll: (instance, filter) => jobs.listAll(pk(instance), filter as Filter | undefined),
  };
}
