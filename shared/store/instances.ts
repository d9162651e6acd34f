// Instance records: partition = workspace, row = instance key (the lowercased name, because
// ARM names are case-insensitive and two spellings must not become two VMs).
import { instanceKey } from "../ids";
import type { StorageClients } from "../azure/clients";
import { RecordTable, tableKey, type Filter, type Page, type Stored } from "./recordTable";

export const INSTANCES_TABLE = "instances";

export type InstanceListOptions<T> = {
  /** Equality on top-level scalar fields, e.g. {state: "Running", assignedUser: "alice"}. */
  filter?: Partial<Record<keyof T & string, string | number | boolean>>;
  pageSize?: number;
  continuationToken?: string;
};

export type InstanceStore<T extends { name: string }> = {
  get(name: string): Promise<Stored<T> | undefined>;
  create(record: T): Promise<Stored<T>>;
  update(record: T, etag: string): Promise<Stored<T>>;
  delete(name: string, etag?: string): Promise<boolean>;
  list(opts?: InstanceListOptions<T>): Promise<Page<T>>;
  listAll(filter?: InstanceListOptions<T>["filter"]): Promise<Stored<T>[]>;
};

export function createInstanceStore<T extends { name: string }>(
  storage: StorageClients,
  workspace: string,
  tableName = INSTANCES_TABLE,
): InstanceStore<T> {
  const table = new RecordTable<T>(storage.table(tableName), "instance");
  const pk = tableKey(workspace, "workspace");
  const rk = (name: string) => tableKey(instanceKey(name), "name");
  return {
    get: (name) => table.get(pk, rk(name)),
    create: (record) => table.create(pk, rk(record.name), record),
    update: (record, etag) => table.update(pk, rk(record.name), record, etag),
    delete: (name, etag) => table.delete(pk, rk(name), etag),
    list: (opts = {}) => table.list(pk, { ...opts, filter: opts.filter as Filter | undefined }),
    listAll: (filter) => table.listAll(pk, filter as Filter | undefined),
  };
}
