// The whole local stack for end-to-end tests: in-memory Azurite, the cloud emulator (in this
// process, latency "none" unless asked) and the local host running the real app (dist/app.js)
// on free ports with a temp DATA_DIR. One stack per test file keeps the 2-core machine usable.
// Settings come from local.settings.example.json (forced, so a developer's local.settings.json
// cannot change test behaviour), overridden by `env`.
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { startCloudEmulator, type CloudEmulator, type CloudEmulatorOptions } from "../../local/cloud/emulator";
import type { AdminState } from "../../local/cloud/admin";
import type { ConfigPatch, RuntimeConfig } from "../../local/cloud/config";
import { readLocalSettings } from "../../local/host/settings";
import { startTestAzurite, type AzuriteProcess } from "./azurite";
import { eventually, REPO_ROOT, startHost, type TestHost } from "./host";

export { eventually };

/** Bearer tokens of LOCAL_PRINCIPALS in local.settings.example.json. */
export const TOKENS = { alice: "alice-token", bob: "bob-token", admin: "admin-token", reader: "reader-token" } as const;
export type Caller = keyof typeof TOKENS;

export type StackOptions = {
  /** App settings over the example file (e.g. AUTOSTOP_SCHEDULE, QUOTA_VCPUS_PER_FAMILY). */
  env?: Record<string, string | undefined>;
  /** Extra emulator options (quotaPerFamily, config with latencies/faults, ...). */
  cloud?: CloudEmulatorOptions;
};

export type ApiResponse<T = unknown> = { status: number; headers: Headers; body: T; text: string };

export type Stack = {
  baseUrl: string;
  dataDir: string;
  host: TestHost;
  azurite: AzuriteProcess;
  cloud: CloudEmulator;
  /** The effective app settings the host was started with. */
  settings: Record<string, string>;
  /** Calls the API as a local principal (`undefined`: anonymous). JSON in, JSON (or text) out. */
  api<T = unknown>(method: string, route: string, opts?: { as?: Caller; body?: unknown; headers?: Record<string, string> }): Promise<ApiResponse<T>>;
  /** Emulator admin: resources, VMs, run commands, shares. */
  cloudState(): AdminState;
  /** Emulator admin: latencies, faults, throttle. */
  setCloudConfig(patch: ConfigPatch): RuntimeConfig;
  /** Folder of the workspace file share on disk (emulator sandbox), once the share exists. */
  shareDir(): string | undefined;
  stop(): Promise<void>;
};

export async function startStack(opts: StackOptions = {}): Promise<Stack> {
  const settingsFile = path.join(REPO_ROOT, "local.settings.example.json");
  const base = readLocalSettings(REPO_ROOT, { LOCAL_SETTINGS: settingsFile }).Values;
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "stack-"));
  const azurite = await startTestAzurite();
  let cloud: CloudEmulator | undefined;
  let host: TestHost | undefined;
  try {
    const merged = { ...base, ...stripUndefined(opts.env ?? {}) };
    const quota = merged.QUOTA_VCPUS_PER_FAMILY ? (JSON.parse(merged.QUOTA_VCPUS_PER_FAMILY) as Record<string, number>) : undefined;
    cloud = await startCloudEmulator({
      dataDir, port: 0, token: merged.ARM_EMULATOR_TOKEN, subscriptionId: merged.AZURE_SUBSCRIPTION_ID,
      resourceGroup: merged.AZURE_RESOURCE_GROUP, location: merged.AZURE_LOCATION,
      allowedSubnetIds: merged.ALLOWED_SUBNET_IDS?.split(",").map((s) => s.trim()).filter(Boolean),
      quotaPerFamily: quota, latencyProfile: "none", ...opts.cloud,
    });
    const account = merged.WORKSPACE_STORAGE_ACCOUNT ?? "wslocalfiles";
    const settings: Record<string, string> = {
      ...merged,
      AzureWebJobsStorage: azurite.connectionString,
      ARM_ENDPOINT: cloud.url,
      ARM_TLS_CA_FILE: cloud.caCertFile,
      WORKSPACE_FILES_ENDPOINT: `${cloud.url}/files/${account}`,
      // Fast SDK polling against the emulator; Azure would send Retry-After.
      ARM_POLL_INTERVAL_MS: merged.ARM_POLL_INTERVAL_MS ?? "50",
    };
    host = await startHost({ env: { ...settings, LOCAL_SETTINGS: settingsFile }, dataDir: path.join(dataDir, "host") });
    const baseUrl = host.baseUrl;
    const c = cloud;
    const h = host;
    return {
      baseUrl, dataDir, host: h, azurite, cloud: c, settings,
      api: (method, route, o = {}) => callApi(baseUrl, method, route, o),
      cloudState: () => c.getState(),
      setCloudConfig: (patch) => c.setConfig(patch),
      shareDir: () => c.getState().shares.find((s) => s.account === account && s.name === (settings.WORKSPACE_SHARE_NAME ?? "workspace"))?.dir,
      stop: async () => {
        await h.stop();
        await c.stop();
        await azurite.stop();
        fs.rmSync(dataDir, { recursive: true, force: true });
      },
    };
  } catch (err) {
    await host?.stop();
    await cloud?.stop();
    await azurite.stop();
    throw err;
  }
}

async function callApi<T>(baseUrl: string, method: string, route: string, o: { as?: Caller; body?: unknown; headers?: Record<string, string> }): Promise<ApiResponse<T>> {
  const headers: Record<string, string> = { ...o.headers };
  if (o.as) headers.authorization = `Bearer ${TOKENS[o.as]}`;
  let payload: string | undefined;
  if (o.body !== undefined) {
    payload = typeof o.body === "string" ? o.body : JSON.stringify(o.body);
    headers["content-type"] ??= "application/json";
  }
  const url = route.startsWith("http") ? route : `${baseUrl}${route.startsWith("/") ? "" : "/"}${route}`;
  const res = await fetch(url, { method, headers, body: payload });
  const text = await res.text();
  let body: unknown = text;
  if (text && (res.headers.get("content-type") ?? "").includes("json")) body = JSON.parse(text);
  return { status: res.status, headers: res.headers, body: body as T, text };
}

function stripUndefined(env: Record<string, string | undefined>): Record<string, string> {
  return Object.fromEntries(Object.entries(env).filter((e): e is [string, string] => e[1] !== undefined));
}
