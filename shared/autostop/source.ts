// Where the tick reads instances from: the instances table, in pages of the largest size
// Azure Tables returns, so 10,000 instances are ten requests.
import type { StorageClients } from "../azure/clients";
import { createInstanceStore, MAX_PAGE_SIZE } from "../store";
import type { AutoStopRecord } from "./plan";
import type { TickDeps } from "./tick";

export function instancePages(storage: StorageClients, workspace: string, pageSize = MAX_PAGE_SIZE): TickDeps["listPage"] {
  const store = createInstanceStore<AutoStopRecord>(storage, workspace);
  return async (continuationToken) => {
    const page = await store.list({ pageSize, continuationToken });
    return { items: page.items.map((i) => i.record), continuationToken: page.continuationToken };
  };
}
