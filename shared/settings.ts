import { Cron } from "croner";
import { parseSourcePrefix, type SourcePrefix } from "./cidr";
import { parseSubnetId } from "./armIds";
import { parseImageSetting, type ImageChoice } from "./images";
import { readStorageConnection, type StorageConnection } from "./azure/storageConnection";

// The settings contract (api.md "Settings", local.settings.example.json), parsed once into a
// typed object. Every problem names its setting; secret values are never echoed.

export type Env = Readonly<Record<string, string | undefined>>;

export interface Settings {
  workspaceName: string;
  subscriptionId: string;
  resourceGroup: string;
  location: string;
  allowedVmSizes: string[];
  allowedSubnetIds: string[];
  allowPublicIp: boolean;
  allowSshPublicAccess: boolean;
  sshAllowedSourcePrefixes: SourcePrefix[];
  /** Workspace policy limits, vCPUs per VM family (family names as in the SKU list). */
  quotaVcpusPerFamily: Record<string, number>;
  jobsPerCoreDefault: number;
  /** Registries (host[:port], lower case) a job's environment.image may come from; empty: none. */
  allowedJobRegistries: string[];
  /** NCRONTAB (six fields, seconds first) for the auto-stop timer. */
  autostopSchedule: string;
  idleShutdownMinMinutes: number;
  /** AUDIT_RETENTION_DAYS: audit entries older than this are deleted (daily). */
  auditRetentionDays: number;
  /** Minutes before an idle or scheduled stop that the instance shows autoStop.warning. */
  autostopWarningMinutes: number;
  /** How often VM agents report their busy signals (AGENT_SIGNALS_SECONDS). */
  agentSignalsSeconds: number;
  /** Port of the agent's application proxy on the VM (APPS_PROXY_PORT; 0 = any free port, local only). */
  appsProxyPort: number;
  /** Input on an application session within this many seconds counts as use (APPS_INPUT_RECENT_SECONDS). */
  appsInputRecentSeconds: number;
  /** The instances' OS image (VM_IMAGE, VM_IMAGE_HAS_GPU_DRIVERS). */
  vmImage: ImageChoice;
  arm: {
    endpoint: string;
    tlsCaFile?: string;
  };
  workspaceFiles: {
    storageAccount: string;
    shareName: string;
    endpoint: string;
    shareQuotaGb: number;
  };
  /** CONTINUATION_TOKEN_KEY: signs list continuation tokens; unset = a random key per process. */
  continuationTokenKey?: string;
  /** Client id of the app's user-assigned managed identity (AZURE_CLIENT_ID); absent on a developer's machine. */
  identityClientId?: string;
  /** AzureWebJobsStorage: a connection string, or an identity-based connection (AzureWebJobsStorage__*). */
  storage: StorageConnection;
}

export class SettingsError extends Error {
  constructor(readonly problems: { setting: string; message: string }[]) {
    super(`Invalid app settings: ${problems.map((p) => `${p.setting}: ${p.message}`).join("; ")}`);
    this.name = "SettingsError";
  }
}

export const IDLE_SHUTDOWN_MAX_MINUTES = 4320;
const SECRET_SETTINGS = new Set(["AzureWebJobsStorage", "IDENTITY_HEADER", "CONTINUATION_TOKEN_KEY"]);

export function isSecretSetting(name: string): boolean {
  return SECRET_SETTINGS.has(name);
}

export function parseSettings(env: Env): Settings {
  const problems: { setting: string; message: string }[] = [];
  const fail = (setting: string, message: string): undefined => {
    problems.push({ setting, message });
    return undefined;
  };
  const raw = (name: string): string | undefined => {
    const v = env[name];
    return v === undefined || v.trim() === "" ? undefined : v.trim();
  };
  const required = (name: string): string => raw(name) ?? fail(name, "is required") ?? "";
  const list = (name: string): string[] =>
    (raw(name) ?? "")
      .split(",")
      .map((s) => s.trim())
      .filter((s) => s !== "");
  const bool = (name: string, fallback: boolean): boolean => {
    const v = raw(name);
    if (v === undefined) return fallback;
    if (/^(true|1|yes)$/i.test(v)) return true;
    if (/^(false|0|no)$/i.test(v)) return false;
    return fail(name, "must be true or false") ?? fallback;
  };
  const int = (name: string, fallback: number | undefined, min: number, max: number): number => {
    const v = raw(name);
    if (v === undefined) return fallback ?? fail(name, "is required") ?? min;
    const n = /^-?\d+$/.test(v) ? Number(v) : NaN;
    if (!Number.isSafeInteger(n) || n < min || n > max) {
      return fail(name, `must be an integer in ${min}..${max}`) ?? fallback ?? min;
    }
    return n;
  };

  const subscriptionId = required("AZURE_SUBSCRIPTION_ID");
  if (subscriptionId && !/^[0-9a-f]{8}-([0-9a-f]{4}-){3}[0-9a-f]{12}$/i.test(subscriptionId)) {
    fail("AZURE_SUBSCRIPTION_ID", "must be a subscription GUID");
  }
  const resourceGroup = required("AZURE_RESOURCE_GROUP");
  if (resourceGroup && !/^[-\w.()]{1,90}$/.test(resourceGroup)) {
    fail("AZURE_RESOURCE_GROUP", "is not a valid resource group name");
  }
  const workspaceName = required("WORKSPACE_NAME");
  if (workspaceName && !/^[A-Za-z0-9][A-Za-z0-9-]{0,62}$/.test(workspaceName)) {
    fail("WORKSPACE_NAME", "must be 1–63 letters, digits or hyphens, starting with a letter or digit");
  }

  const allowedVmSizes = list("ALLOWED_VM_SIZES");
  if (allowedVmSizes.length === 0) fail("ALLOWED_VM_SIZES", "must list at least one VM size");
  for (const size of allowedVmSizes) {
    if (!/^[A-Za-z0-9_]+$/.test(size)) fail("ALLOWED_VM_SIZES", `'${size}' is not a VM size name`);
  }

  const allowedSubnetIds = list("ALLOWED_SUBNET_IDS");
  if (allowedSubnetIds.length === 0) fail("ALLOWED_SUBNET_IDS", "must list at least one subnet id");
  for (const id of allowedSubnetIds) {
    if (!parseSubnetId(id)) fail("ALLOWED_SUBNET_IDS", `'${id}' is not a subnet resource id`);
  }

  const allowedJobRegistries = list("ALLOWED_JOB_REGISTRIES").map((r) => r.toLowerCase());
  for (const r of allowedJobRegistries) {
    if (!/^[a-z0-9]([a-z0-9.-]*[a-z0-9])?(:[0-9]{1,5})?$/.test(r)) fail("ALLOWED_JOB_REGISTRIES", `'${r}' is not a registry host (host or host:port, e.g. myacr.azurecr.io)`);
  }

  const sshAllowedSourcePrefixes: SourcePrefix[] = [];
  for (const item of list("SSH_ALLOWED_SOURCE_PREFIXES")) {
    const parsed = parseSourcePrefix(item);
    if ("error" in parsed) fail("SSH_ALLOWED_SOURCE_PREFIXES", parsed.error);
    else sshAllowedSourcePrefixes.push(parsed);
  }

  const quotaVcpusPerFamily: Record<string, number> = {};
  const quotaText = raw("QUOTA_VCPUS_PER_FAMILY");
  if (quotaText !== undefined) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(quotaText);
    } catch {
      fail("QUOTA_VCPUS_PER_FAMILY", "must be a JSON object of family → vCPU limit");
    }
    if (parsed !== undefined) {
      if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) {
        fail("QUOTA_VCPUS_PER_FAMILY", "must be a JSON object of family → vCPU limit");
      } else {
        for (const [family, limit] of Object.entries(parsed)) {
          if (typeof limit !== "number" || !Number.isSafeInteger(limit) || limit < 0) {
            fail("QUOTA_VCPUS_PER_FAMILY", `limit for '${family}' must be a non-negative integer`);
          } else quotaVcpusPerFamily[family] = limit;
        }
      }
    }
  }

  const autostopSchedule = raw("AUTOSTOP_SCHEDULE") ?? "0 */1 * * * *";
  try {
    new Cron(autostopSchedule, { mode: "6-part" });
  } catch {
    fail("AUTOSTOP_SCHEDULE", "must be a six-field NCRONTAB expression (seconds first)");
  }

  const armEndpoint = url("ARM_ENDPOINT", raw("ARM_ENDPOINT") ?? "https://management.azure.com", fail);
  const tlsCaFile = raw("ARM_TLS_CA_FILE");

  const storageAccount = required("WORKSPACE_STORAGE_ACCOUNT");
  if (storageAccount && !/^[a-z0-9]{3,24}$/.test(storageAccount)) {
    fail("WORKSPACE_STORAGE_ACCOUNT", "must be 3–24 lowercase letters or digits");
  }
  const shareName = raw("WORKSPACE_SHARE_NAME") ?? "workspace";
  if (!/^[a-z0-9](?!.*--)[a-z0-9-]{1,61}[a-z0-9]$/.test(shareName)) {
    fail("WORKSPACE_SHARE_NAME", "must be 3–63 lowercase letters, digits or single hyphens");
  }
  const filesEndpoint = url(
    "WORKSPACE_FILES_ENDPOINT",
    raw("WORKSPACE_FILES_ENDPOINT") ?? `https://${storageAccount || "account"}.file.core.windows.net`,
    fail,
  );

  const identityClientId = raw("AZURE_CLIENT_ID");
  if (identityClientId !== undefined && !/^[0-9a-f]{8}-([0-9a-f]{4}-){3}[0-9a-f]{12}$/i.test(identityClientId)) {
    fail("AZURE_CLIENT_ID", "must be the managed identity's client id (a GUID)");
  }

  let storage: StorageConnection = { kind: "connectionString", name: "AzureWebJobsStorage", connectionString: "", endpoints: { blob: "", queue: "", table: "" } };
  const storageResult = readStorageConnection(env);
  if (storageResult === undefined) {
    fail("AzureWebJobsStorage", "is required (a connection string, or AzureWebJobsStorage__blobServiceUri/__queueServiceUri/__tableServiceUri or __accountName for identity-based access)");
  } else if (Array.isArray(storageResult)) {
    for (const p of storageResult) fail(p.setting, p.message);
  } else {
    storage = storageResult;
  }

  const continuationTokenKey = raw("CONTINUATION_TOKEN_KEY");
  // Checked by length only: the value is a secret.
  if (continuationTokenKey !== undefined && continuationTokenKey.length < 32) fail("CONTINUATION_TOKEN_KEY", "must be at least 32 characters");

  const imageSetting = parseImageSetting(raw("VM_IMAGE"), raw("VM_IMAGE_HAS_GPU_DRIVERS") === undefined ? undefined : bool("VM_IMAGE_HAS_GPU_DRIVERS", false));
  const vmImage = typeof imageSetting === "string" ? (fail("VM_IMAGE", imageSetting), parseImageSetting("dsvm", undefined) as ImageChoice) : imageSetting;

  const settings: Settings = {
    workspaceName,
    subscriptionId,
    resourceGroup,
    location: required("AZURE_LOCATION").toLowerCase().replace(/\s+/g, ""),
    allowedVmSizes,
    allowedSubnetIds,
    allowPublicIp: bool("ALLOW_PUBLIC_IP", false),
    allowSshPublicAccess: bool("ALLOW_SSH_PUBLIC_ACCESS", false),
    sshAllowedSourcePrefixes,
    quotaVcpusPerFamily,
    jobsPerCoreDefault: int("JOBS_PER_CORE_DEFAULT", 2, 1, 16),
    allowedJobRegistries,
    autostopSchedule,
    idleShutdownMinMinutes: int("IDLE_SHUTDOWN_MIN_MINUTES", 15, 1, IDLE_SHUTDOWN_MAX_MINUTES),
    auditRetentionDays: int("AUDIT_RETENTION_DAYS", 90, 1, 3650),
    autostopWarningMinutes: int("AUTOSTOP_WARNING_MINUTES", 10, 0, 1440),
    agentSignalsSeconds: int("AGENT_SIGNALS_SECONDS", 60, 1, 600),
    appsProxyPort: int("APPS_PROXY_PORT", 8890, 0, 65535),
    appsInputRecentSeconds: int("APPS_INPUT_RECENT_SECONDS", 300, 1, 86400),
    vmImage,
    arm: {
      endpoint: armEndpoint,
      ...(tlsCaFile !== undefined ? { tlsCaFile } : {}),
    },
    workspaceFiles: {
      storageAccount,
      shareName,
      endpoint: filesEndpoint,
      shareQuotaGb: int("WORKSPACE_SHARE_QUOTA_GB", 100, 1, 102400),
    },
    ...(continuationTokenKey !== undefined ? { continuationTokenKey } : {}),
    ...(identityClientId !== undefined ? { identityClientId } : {}),
    storage,
  };
  if (problems.length > 0) throw new SettingsError(problems);
  return settings;
}

function url(name: string, value: string, fail: (s: string, m: string) => undefined): string {
  try {
    const u = new URL(value);
    if (u.protocol !== "https:" && u.protocol !== "http:") fail(name, "must be an http(s) URL");
  } catch {
    fail(name, "must be an absolute URL");
  }
  return value.replace(/\/+$/, "");
}
