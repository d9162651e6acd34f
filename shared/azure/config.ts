// What the provider layer needs to reach Azure (or Azurite + local/cloud), read from app
// settings. Only endpoints and credentials live here; policy settings belong to the domain.
import type { Settings } from "../settings";
import { managedIdentity, type IdentityChoice } from "./credential";
import type { StorageConnection } from "./storageConnection";

export type AzureConfig = {
  subscriptionId: string;
  resourceGroup: string;
  location: string;
  /** ARM base URL; https://management.azure.com in Azure, local/cloud's URL locally. */
  armEndpoint: string;
  /** Who the app is for ARM and Files: its managed identity (AZURE_CLIENT_ID), or a developer's credential. */
  identity: IdentityChoice;
  /** PEM file to trust for ARM and Files TLS, only when pointed at the emulator. */
  armTlsCaFile?: string;
  filesAccount: string;
  /** Files service URL; default https://<account>.file.core.windows.net. */
  filesEndpoint?: string;
  shareName: string;
  /** AzureWebJobsStorage: a connection string (Azurite) or an identity-based connection. */
  storage: StorageConnection;
  /** SDK retries for 429/5xx/network errors before an error reaches the caller. */
  maxRetries: number;
  /** How often SDK pollers re-check short ARM operations (network) unless Retry-After says otherwise. */
  pollIntervalMs: number;
};

/** The provider layer's view of the app settings (parsed and validated by shared/settings). */
export function azureConfigFromSettings(
  settings: Settings,
  tuning: { maxRetries?: number; pollIntervalMs?: number } = {},
): AzureConfig {
  return {
    subscriptionId: settings.subscriptionId,
    resourceGroup: settings.resourceGroup,
    location: settings.location,
    armEndpoint: settings.arm.endpoint,
    identity: settings.identityClientId !== undefined ? managedIdentity(settings.identityClientId) : { kind: "developer" },
    armTlsCaFile: settings.arm.tlsCaFile,
    filesAccount: settings.workspaceFiles.storageAccount,
    filesEndpoint: settings.workspaceFiles.endpoint,
    shareName: settings.workspaceFiles.shareName,
    storage: settings.storage,
    maxRetries: tuning.maxRetries ?? 4,
    // Only used when ARM sends no Retry-After (Azure always does); keeps local runs snappy.
    pollIntervalMs: tuning.pollIntervalMs ?? 250,
  };
}

/** Optional knobs (not part of the settings contract): AZURE_SDK_MAX_RETRIES, ARM_POLL_INTERVAL_MS. */
export function azureTuningFromEnv(env: Record<string, string | undefined> = process.env): {
  maxRetries?: number;
  pollIntervalMs?: number;
} {
  const int = (key: string, min: number, max: number): number | undefined => {
    const raw = env[key]?.trim();
    if (!raw) return undefined;
    const n = Number(raw);
    if (!Number.isInteger(n) || n < min || n > max) throw new Error(`setting ${key} must be an integer in ${min}..${max}`);
    return n;
  };
  return { maxRetries: int("AZURE_SDK_MAX_RETRIES", 0, 10), pollIntervalMs: int("ARM_POLL_INTERVAL_MS", 10, 60_000) };
}
