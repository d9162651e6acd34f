// Record stores of the instance API, built once from the app settings.
import { instanceRecords, type InstanceRecord } from "../shared/instances/record";
import { createAuditStore, type AuditStore } from "../shared/store/audit";
import { createIdempotencyStore, type IdempotencyStore } from "../shared/store/idempotency";
import type { InstanceStore } from "../shared/store/instances";
import { createOperationStore, type OperationStore } from "../shared/store/operations";
import type { OperationRecord } from "../orchestrations/instances/types";
import { getClients, getSettings } from "./runtime";

/** What an Idempotency-Key remembers: the response the first request got. */
export type RememberedResponse = { status: number; body: unknown; headers: Record<string, string> };

type Stores = {
  instances: InstanceStore<InstanceRecord>;
  operations: OperationStore<OperationRecord>;
  idempotency: IdempotencyStore<RememberedResponse>;
  audit: AuditStore;
};

let stores: Stores | undefined;

export function instanceStores(): Stores {
  if (!stores) {
    const storage = getClients().storage;
    const ws = getSettings().workspaceName;
    stores = {
      instances: instanceRecords(storage, ws),
      operations: createOperationStore<OperationRecord>(storage, ws),
      idempotency: createIdempotencyStore<RememberedResponse>(storage),
      audit: createAuditStore(storage, ws),
    };
  }
  return stores;
}
