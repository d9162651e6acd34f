// Emulator options from environment variables (documented in README.md).
import { parseConfigPatch, type ConfigPatch, type LatencyProfile } from "./config";
import { DEFAULTS, type CloudEmulatorOptions } from "./emulator";

function json(env: NodeJS.ProcessEnv, name: string): unknown {
  const v = env[name];
  if (v === undefined || v.trim() === "") return undefined;
  try {
    return JSON.parse(v);
  } catch (err) {
    throw new Error(`${name} must be JSON: ${(err as Error).message}`);
  }
}

function int(env: NodeJS.ProcessEnv, name: string): number | undefined {
  const v = env[name];
  if (v === undefined || v === "") return undefined;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0) throw new Error(`${name} must be a non-negative integer, got '${v}'`);
  return n;
}

export function optionsFromEnv(env: NodeJS.ProcessEnv = process.env): CloudEmulatorOptions {
  const profile = (env.CLOUD_LATENCY_PROFILE ?? "realistic") as LatencyProfile;
  if (profile !== "realistic" && profile !== "none") throw new Error(`CLOUD_LATENCY_PROFILE must be 'realistic' or 'none', got '${profile}'`);
  const quota = json(env, "QUOTA_VCPUS_PER_FAMILY");
  if (quota !== undefined && (typeof quota !== "object" || quota === null || Object.values(quota).some((v) => typeof v !== "number"))) {
    throw new Error("QUOTA_VCPUS_PER_FAMILY must be a JSON object of family -> vCPU limit");
  }
  const patch: Record<string, unknown> = {};
  const latency = json(env, "CLOUD_LATENCY_MS");
  if (latency !== undefined) patch.latencyMs = latency;
  const retryAfter = int(env, "CLOUD_RETRY_AFTER_SECONDS");
  if (retryAfter !== undefined) patch.retryAfterSeconds = retryAfter;
  const faults = json(env, "CLOUD_FAULTS");
  if (faults !== undefined) patch.faults = faults;
  const throttle = env.CLOUD_WRITE_THROTTLE === "off" ? { enabled: false } : json(env, "CLOUD_WRITE_THROTTLE");
  if (throttle !== undefined) patch.throttle = throttle;
  const reservation = int(env, "CLOUD_NIC_RESERVATION_SECONDS");
  if (reservation !== undefined) patch.nicReservationSeconds = reservation;
  const restrictions = json(env, "CLOUD_SKU_RESTRICTIONS");
  if (restrictions !== undefined) patch.skuRestrictions = restrictions;
  const images = json(env, "CLOUD_CUSTOM_IMAGES");
  if (images !== undefined) patch.customImages = images;
  const config: ConfigPatch = parseConfigPatch(patch, "environment");
  return {
    dataDir: env.DATA_DIR ?? ".data",
    port: int(env, "CLOUD_PORT") ?? DEFAULTS.port,
    identity: {
      tenantId: env.CLOUD_TENANT_ID || undefined,
      appClientId: env.AZURE_CLIENT_ID || undefined,
      port: int(env, "CLOUD_IDENTITY_PORT"),
      header: env.CLOUD_IDENTITY_HEADER || undefined,
      workspaceStorageAccount: env.WORKSPACE_STORAGE_ACCOUNT || undefined,
    },
    subscriptionId: env.AZURE_SUBSCRIPTION_ID || DEFAULTS.subscriptionId,
    resourceGroup: env.AZURE_RESOURCE_GROUP || DEFAULTS.resourceGroup,
    location: env.AZURE_LOCATION || DEFAULTS.location,
    allowedSubnetIds: env.ALLOWED_SUBNET_IDS ? env.ALLOWED_SUBNET_IDS.split(",").map((s) => s.trim()).filter(Boolean) : undefined,
    quotaPerFamily: quota as Record<string, number> | undefined,
    quotaDefaultFamily: int(env, "CLOUD_QUOTA_DEFAULT_VCPUS"),
    quotaRegional: int(env, "CLOUD_QUOTA_REGIONAL_VCPUS"),
    latencyProfile: profile,
    config,
    queuePort: int(env, "CLOUD_QUEUE_PORT") ?? DEFAULTS.queuePort,
    ...queueBackendOf(env.CLOUD_QUEUE_BACKEND || env.AzureWebJobsStorage),
  };
}

/** Azurite's queue service from a connection string (account key + QueueEndpoint). */
function queueBackendOf(conn: string | undefined): Pick<CloudEmulatorOptions, "queueBackend"> {
  if (!conn) return {};
  const parts = new Map(conn.split(";").map((p) => [p.slice(0, p.indexOf("=")).trim().toLowerCase(), p.slice(p.indexOf("=") + 1).trim()] as const));
  const accountName = parts.get("accountname");
  const accountKey = parts.get("accountkey");
  const endpoint = parts.get("queueendpoint");
  if (!accountName || !accountKey || !endpoint) return {};
  return { queueBackend: { url: new URL(endpoint).origin, accountName, accountKey } };
}
