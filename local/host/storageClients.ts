// Storage clients for a binding's `connection` setting, as the Functions host resolves it:
// the named app setting holds a connection string, or `<name>__*` settings describe an
// identity-based connection (service URIs or account name, __credential, __clientId); an
// empty or missing name means AzureWebJobsStorage. One parser for the host and the app
// (shared/azure/storageConnection.ts). Clients are cached per connection.
import type { BlobServiceClient } from "@azure/storage-blob";
import type { QueueServiceClient } from "@azure/storage-queue";
import { createStorageServiceClients } from "../../shared/azure/clients";
import { connectionKey, requireStorageConnection, type StorageConnection } from "../../shared/azure/storageConnection";
import type { TableClient } from "@azure/data-tables";

export type HostStorage = ReturnType<typeof createStorageServiceClients>;

export function storageConnection(env: NodeJS.ProcessEnv, connection: unknown): StorageConnection {
  const name = typeof connection === "string" && connection !== "" ? connection : "AzureWebJobsStorage";
  return requireStorageConnection(env, name);
}

const services = new Map<string, HostStorage>();

/** Blob, queue and table clients for a binding's connection (the host's own retries: 2). */
export function hostStorage(env: NodeJS.ProcessEnv, connection?: unknown): HostStorage {
  const conn = storageConnection(env, connection);
  const key = connectionKey(conn);
  let s = services.get(key);
  if (!s) services.set(key, (s = createStorageServiceClients(conn, { maxRetries: 2 })));
  return s;
}

export function queueService(env: NodeJS.ProcessEnv, connection?: unknown): QueueServiceClient {
  return hostStorage(env, connection).queues;
}

export function blobService(env: NodeJS.ProcessEnv, connection?: unknown): BlobServiceClient {
  return hostStorage(env, connection).blobs;
}

const tableClients = new Map<string, TableClient>();

/** A table of a binding's connection (plain http for Azurite's connection string is allowed there). */
export function tableClient(env: NodeJS.ProcessEnv, connection: unknown, tableName: string): TableClient {
  const conn = storageConnection(env, connection);
  const key = `${connectionKey(conn)}\n${tableName}`;
  let c = tableClients.get(key);
  if (!c) tableClients.set(key, (c = hostStorage(env, connection).table(tableName)));
  return c;
}
