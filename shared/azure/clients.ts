// Azure SDK clients built from settings. One code path: in Azure they authenticate as the
// app's managed identity (credential.ts) against the public endpoints; locally the very same
// clients point at Azurite and local/cloud, which issues the managed-identity tokens and
// checks them (emulator CA trusted through the pipeline's TLS options — never by turning
// certificate checks off).
import fs from "node:fs";
import path from "node:path";
import { ComputeManagementClient } from "@azure/arm-compute";
import { NetworkManagementClient } from "@azure/arm-network";
import type { TokenCredential } from "@azure/core-auth";
import type { TlsSettings } from "@azure/core-rest-pipeline";
import { TableClient, TableServiceClient } from "@azure/data-tables";
import { BlobServiceClient, type StoragePipelineOptions as BlobPipelineOptions } from "@azure/storage-blob";
import { ShareServiceClient, type ShareClientOptions } from "@azure/storage-file-share";
import { QueueServiceClient } from "@azure/storage-queue";
import { AuthorizationManagementClient } from "@azure/arm-authorization";
import { parseSettings } from "../settings";
import { azureConfigFromSettings, azureTuningFromEnv, type AzureConfig } from "./config";
import { parseConnectionString, type StorageEndpoints } from "./connectionString";
import { credentialFor, managedIdentity, type IdentityChoice } from "./credential";
import type { StorageConnection } from "./storageConnection";
import { armMetricsPolicy } from "../telemetry/metrics";

export type ArmScope = { subscriptionId: string; resourceGroup: string; location: string };

export type ArmClients = ArmScope & {
  compute: ComputeManagementClient;
  network: NetworkManagementClient;
  /** Role assignments (the agent queues' data role for VM identities). */
  authorization: AuthorizationManagementClient;
  pollIntervalMs: number;
};

export type FilesClients = { service: ShareServiceClient; shareName: string; account: string };

export type StorageClients = {
  endpoints: StorageEndpoints;
  blobs: BlobServiceClient;
  queues: QueueServiceClient;
  /** A client for one table (cached; tables are created by the stores on first use). */
  table(name: string): TableClient;
  /** Account name + key when the connection string has them (Azurite); else user-delegation SAS. */
  sharedKey?: { accountName: string; accountKey: string };
  credential?: TokenCredential;
};

export type AzureClients = { config: AzureConfig; arm: ArmClients; files: FilesClients; storage: StorageClients };

function armCredential(config: AzureConfig): TokenCredential {
  return credentialFor(config.identity);
}

/** The identity of an identity-based storage connection, as the Functions host picks it. */
export function storageIdentity(conn: Extract<StorageConnection, { kind: "identity" }>): IdentityChoice {
  return conn.credential === "managedidentity" ? managedIdentity(conn.clientId) : { kind: "developer" };
}

function tlsOptions(config: AzureConfig): TlsSettings | undefined {
  if (!config.armTlsCaFile) return undefined;
  const file = path.resolve(config.armTlsCaFile);
  try {
    return { ca: fs.readFileSync(file, "utf8") };
  } catch (err) {
    throw new Error(`cannot read ARM_TLS_CA_FILE ${file}: ${(err as NodeJS.ErrnoException).code ?? "error"}`);
  }
}

export function createArmClients(config: AzureConfig): ArmClients {
  const credential = armCredential(config);
  // The SDK's default retry policy already honours Retry-After on 429/503 and backs off
  // exponentially on other 5xx and network errors; we only bound how long it keeps trying.
  const common = {
    endpoint: config.armEndpoint,
    // The token's audience is ARM's, wherever the endpoint is: the SDKs would otherwise derive
    // the scope from a custom endpoint, and ARM (and the emulator) refuse that audience.
    credentialScopes: ["https://management.azure.com/.default"],
    tlsOptions: tlsOptions(config),
    retryOptions: { maxRetries: config.maxRetries, retryDelayInMs: 500, maxRetryDelayInMs: 30_000 },
    // Every attempt counted (requests, 429s, retries): the ci.arm.* metrics.
    additionalPolicies: [{ policy: armMetricsPolicy(), position: "perRetry" as const }],
  };
  return {
    subscriptionId: config.subscriptionId,
    resourceGroup: config.resourceGroup,
    location: config.location,
    pollIntervalMs: config.pollIntervalMs,
    compute: new ComputeManagementClient(credential, config.subscriptionId, common),
    network: new NetworkManagementClient(credential, config.subscriptionId, common),
    authorization: new AuthorizationManagementClient(credential, config.subscriptionId, common),
  };
}

export function filesServiceUrl(config: AzureConfig): string {
  return config.filesEndpoint ?? `https://${config.filesAccount}.file.core.windows.net`;
}

export function createFilesClients(config: AzureConfig): FilesClients {
  // Storage pipelines pass unknown options straight to core-rest-pipeline, which is how the
  // emulator's CA reaches the TLS layer; StoragePipelineOptions just doesn't declare it.
  const options: ShareClientOptions & { tlsOptions?: TlsSettings } = {
    fileRequestIntent: "backup",
    tlsOptions: tlsOptions(config),
    retryOptions: { maxTries: config.maxRetries + 1, retryDelayInMs: 500, maxRetryDelayInMs: 30_000 },
  };
  return {
    service: new ShareServiceClient(filesServiceUrl(config), armCredential(config), options),
    shareName: config.shareName,
    account: config.filesAccount,
  };
}

export type StorageServiceOptions = { maxRetries: number; tlsOptions?: TlsSettings };

/** Blob, queue and table clients for one storage connection (also used by health, with no retries). */
export function createStorageServiceClients(conn: StorageConnection, opts: StorageServiceOptions): Omit<StorageClients, "table"> & {
  tableService: TableServiceClient;
  table(name: string): TableClient;
} {
  const retry: BlobPipelineOptions["retryOptions"] = { maxTries: opts.maxRetries + 1, retryDelayInMs: 500, maxRetryDelayInMs: 30_000 };
  const tableRetry = { maxRetries: opts.maxRetries };
  if (conn.kind === "connectionString") {
    const cs = conn.connectionString;
    const parsed = parseConnectionString(cs);
    const insecure = parsed.endpoints.table.startsWith("http://");
    return {
      endpoints: parsed.endpoints,
      sharedKey: parsed.accountKey ? { accountName: parsed.accountName, accountKey: parsed.accountKey } : undefined,
      blobs: BlobServiceClient.fromConnectionString(cs, { retryOptions: retry }),
      queues: QueueServiceClient.fromConnectionString(cs, { retryOptions: retry }),
      tableService: TableServiceClient.fromConnectionString(cs, { allowInsecureConnection: insecure, retryOptions: tableRetry }),
      table: (name) => TableClient.fromConnectionString(cs, name, { allowInsecureConnection: insecure, retryOptions: tableRetry }),
    };
  }
  const credential = credentialFor(storageIdentity(conn));
  // Storage pipelines forward tlsOptions to core-rest-pipeline (see createFilesClients).
  const tls = opts.tlsOptions ? { tlsOptions: opts.tlsOptions } : {};
  return {
    endpoints: conn.endpoints,
    credential,
    blobs: new BlobServiceClient(conn.endpoints.blob, credential, { retryOptions: retry, ...tls }),
    queues: new QueueServiceClient(conn.endpoints.queue, credential, { retryOptions: retry, ...tls }),
    tableService: new TableServiceClient(conn.endpoints.table, credential, { retryOptions: tableRetry, ...tls }),
    table: (name) => new TableClient(conn.endpoints.table, name, credential, { retryOptions: tableRetry, ...tls }),
  };
}

export function createStorageClients(config: AzureConfig): StorageClients {
  const services = createStorageServiceClients(config.storage, { maxRetries: config.maxRetries });
  const tables = new Map<string, TableClient>();
  return {
    endpoints: services.endpoints,
    blobs: services.blobs,
    queues: services.queues,
    ...(services.sharedKey ? { sharedKey: services.sharedKey } : {}),
    ...(services.credential ? { credential: services.credential } : {}),
    table(name) {
      let c = tables.get(name);
      if (!c) tables.set(name, (c = services.table(name)));
      return c;
    },
  };
}

export function createAzureClients(config: AzureConfig): AzureClients {
  return {
    config,
    arm: createArmClients(config),
    files: createFilesClients(config),
    storage: createStorageClients(config),
  };
}

let cached: { key: string; clients: AzureClients } | undefined;

/** Clients for this process, built once from the app settings (environment). */
export function getAzureClients(
  config: AzureConfig = azureConfigFromSettings(parseSettings(process.env), azureTuningFromEnv()),
): AzureClients {
  const key = JSON.stringify(config);
  if (!cached || cached.key !== key) cached = { key, clients: createAzureClients(config) };
  return cached.clients;
}
