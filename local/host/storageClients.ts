// Storage clients for a binding's `connection` setting, as the Functions host resolves it:
// the named app setting holds a connection string; an empty or missing name means
// AzureWebJobsStorage. Clients are cached per connection string (and table).
import { BlobServiceClient } from "@azure/storage-blob";
import { QueueServiceClient } from "@azure/storage-queue";
import { TableClient } from "@azure/data-tables";

export function connectionString(env: NodeJS.ProcessEnv, connection: unknown): string {
  const name = typeof connection === "string" && connection !== "" ? connection : "AzureWebJobsStorage";
  const value = env[name];
  if (!value) throw new Error(`app setting ${name} (a storage connection string) is not set`);
  return value;
}

const queueServices = new Map<string, QueueServiceClient>();
const blobServices = new Map<string, BlobServiceClient>();

export function queueService(env: NodeJS.ProcessEnv, connection?: unknown): QueueServiceClient {
  const cs = connectionString(env, connection);
  let c = queueServices.get(cs);
  if (!c) queueServices.set(cs, (c = QueueServiceClient.fromConnectionString(cs)));
  return c;
}

export function blobService(env: NodeJS.ProcessEnv, connection?: unknown): BlobServiceClient {
  const cs = connectionString(env, connection);
  let c = blobServices.get(cs);
  if (!c) blobServices.set(cs, (c = BlobServiceClient.fromConnectionString(cs)));
  return c;
}

const tableClients = new Map<string, TableClient>();

/** Azurite serves plain http, which the Tables SDK refuses unless told otherwise. */
export function tableClient(env: NodeJS.ProcessEnv, connection: unknown, tableName: string): TableClient {
  const cs = connectionString(env, connection);
  const key = `${cs}\n${tableName}`;
  let c = tableClients.get(key);
  if (!c) tableClients.set(key, (c = TableClient.fromConnectionString(cs, tableName, { allowInsecureConnection: cs.includes("http://") || cs.includes("UseDevelopmentStorage") })));
  return c;
}
