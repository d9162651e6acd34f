// Azure SDK clients built from settings. One code path: in Azure they use
// DefaultAzureCredential and the public endpoints; locally the very same clients point at
// Azurite and local/cloud (static bearer token, emulator CA trusted through the pipeline's
// TLS options — never by turning certificate checks off).
import fs from "node:fs";
import path from "node:path";
import { ComputeManagementClient } from "@azure/arm-compute";
import { NetworkManagementClient } from "@azure/arm-network";
import type { AccessToken, TokenCredential } from "@azure/core-auth";
import type { TlsSettings } from "@azure/core-rest-pipeline";
import { TableClient } from "@azure/data-tables";
import { DefaultAzureCredential } from "@azure/identity";
import { BlobServiceClient, type StoragePipelineOptions as BlobPipelineOptions } from "@azure/storage-blob";
import { ShareServiceClient, type ShareClientOptions } from "@azure/storage-file-share";
import { QueueServiceClient } from "@azure/storage-queue";
import { AuthorizationManagementClient } from "@azure/arm-authorization";
import { parseSettings } from "../settings";
import { azureConfigFromSettings, azureTuningFromEnv, type AzureConfig } from "./config";
import { parseConnectionString, type StorageEndpoints } from "./connectionString";

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

/** A credential that always serves the configured token: the emulator checks it, Azure never sees it. */
export function staticTokenCredential(token: string): TokenCredential {
  return {
    async getToken(): Promise<AccessToken> {
      return { token, expiresOnTimestamp: Date.now() + 60 * 60 * 1000 };
    },
  };
}

function armCredential(config: AzureConfig): TokenCredential {
  if (config.armAuth === "emulator") {
    if (!config.armEmulatorToken) throw new Error("ARM_EMULATOR_TOKEN is required when ARM_AUTH=emulator");
    return staticTokenCredential(config.armEmulatorToken);
  }
  return sharedDefaultCredential();
}

let defaultCredential: DefaultAzureCredential | undefined;
function sharedDefaultCredential(): DefaultAzureCredential {
  // One instance per process so its token cache is shared by every client.
  defaultCredential ??= new DefaultAzureCredential();
  return defaultCredential;
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
    tlsOptions: tlsOptions(config),
    retryOptions: { maxRetries: config.maxRetries, retryDelayInMs: 500, maxRetryDelayInMs: 30_000 },
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

export function createStorageClients(config: AzureConfig): StorageClients {
  const retry: BlobPipelineOptions["retryOptions"] = {
    maxTries: config.maxRetries + 1,
    retryDelayInMs: 500,
    maxRetryDelayInMs: 30_000,
  };
  const tables = new Map<string, TableClient>();
  if (config.storageConnectionString) {
    const conn = config.storageConnectionString;
    const parsed = parseConnectionString(conn);
    const insecure = parsed.endpoints.table.startsWith("http://");
    return {
      endpoints: parsed.endpoints,
      sharedKey: parsed.accountKey ? { accountName: parsed.accountName, accountKey: parsed.accountKey } : undefined,
      blobs: BlobServiceClient.fromConnectionString(conn, { retryOptions: retry }),
      queues: QueueServiceClient.fromConnectionString(conn, { retryOptions: retry }),
      table(name) {
        let c = tables.get(name);
        if (!c) {
          c = TableClient.fromConnectionString(conn, name, {
            allowInsecureConnection: insecure,
            retryOptions: { maxRetries: config.maxRetries },
          });
          tables.set(name, c);
        }
        return c;
      },
    };
  }
  const account = config.storageAccountName;
  if (!account) throw new Error("AzureWebJobsStorage or AzureWebJobsStorage__accountName is required");
  const credential = sharedDefaultCredential();
  const endpoints: StorageEndpoints = {
    blob: `https://${account}.blob.core.windows.net`,
    queue: `https://${account}.queue.core.windows.net`,
    table: `https://${account}.table.core.windows.net`,
  };
  return {
    endpoints,
    credential,
    blobs: new BlobServiceClient(endpoints.blob, credential, { retryOptions: retry }),
    queues: new QueueServiceClient(endpoints.queue, credential, { retryOptions: retry }),
    table(name) {
      let c = tables.get(name);
      if (!c) {
        c = new TableClient(endpoints.table, name, credential, { retryOptions: { maxRetries: config.maxRetries } });
        tables.set(name, c);
      }
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
