// Operation records (GET /api/operations/{id}): partition = workspace, row = operation id.
// One partition keeps "operations of instance X" a cheap filtered query.
import type { OperationResponse } from "../schemas/operation";
import type { StorageClients } from "../azure/clients";
import { RecordTable, tableKey, type Filter, type Page, type Stored } from "./recordTable";

export const OPERATIONS_TABLE = "operations";

export type OperationRecord = OperationResponse;

export type OperationListOptions = {
  filter?: { instance?: string; status?: OperationRecord["status"]; name?: string };
  pageSize?: number;
  continuationToken?: string;
};

export type OperationStore<T extends { id: string } = OperationRecord> = {
  get(id: string): Promise<Stored<T> | undefined>;
  create(record: T): Promise<Stored<T>>;
  update(record: T, etag: string): Promise<Stored<T>>;
  delete(id: string, etag?: string): Promise<boolean>;
  list(opts?: OperationListOptions): Promise<Page<T>>;
};

export function createOperationStore<T extends { id: string } = OperationRecord>(
  storage: StorageClients,
  workspace: string,
  tableName = OPERATIONS_TABLE,
): OperationStore<T> {
  const table = new RecordTable<T>(storage.table(tableName), "operation");
  const pk = tableKey(workspace, "workspace");
  const rk = (id: string) => tableKey(id, "operationId");
  return {
    get: (id) => table.get(pk, rk(id)),
    create: (record) => table.create(pk, rk(record.id), record),
    update: (record, etag) => table.update(pk, rk(record.id), record, etag),
    delete: (id, etag) => table.delete(pk, rk(id), etag),
    list: (opts = {}) => table.list(pk, { ...opts, filter: opts.filter as Filter | undefined }),
  };
}
