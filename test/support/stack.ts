// The whole local stack for end-to-end tests: in-memory Azurite, the cloud emulator (in this
// process, latency "none" unless asked) and the local host running the real app (dist/app.js)
// on free ports with a temp DATA_DIR. One stack per test file keeps the 2-core machine usable.
// Settings come from local.settings.example.json (forced, so a developer's local.settings.json
// cannot change test behaviour), overridden by `env`.
import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { startCloudEmulator, type CloudEmulator, type CloudEmulatorOptions } from "../../local/cloud/emulator";
import { ensureCertificate } from "../../local/cloud/tls";
import type { AdminState } from "../../local/cloud/admin";
import type { ConfigPatch, RuntimeConfig } from "../../local/cloud/config";
import { readLocalSettings } from "../../local/host/settings";
import { DEV_ACCOUNT, DEV_KEY, freePort, stopChild } from "../../local/shared/azurite";
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
  /**
   * "identity": Azurite over HTTPS with OAuth and identity-based AzureWebJobsStorage__* settings
   * (no connection string, no key), tokens from the emulator — the storage path the app takes in
   * Azure. Default "connectionString" (Azurite over HTTP with its well-known key).
   */
  storage?: "connectionString" | "identity";
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
  const identityStorage = opts.storage === "identity";
  // Identity-based storage needs Azurite on HTTPS, with the emulator's certificate (made first).
  const azurite = identityStorage
    ? await ensureCertificate(path.join(dataDir, "cloud")).then((t) => startTestAzurite({ certFile: t.certFile, keyFile: path.join(path.dirname(t.certFile), "key.pem") }))
    : await startTestAzurite();
  let cloud: CloudEmulator | undefined;
  let host: TestHost | undefined;
  try {
    const merged = { ...base, ...stripUndefined(opts.env ?? {}) };
    const quota = merged.QUOTA_VCPUS_PER_FAMILY ? (JSON.parse(merged.QUOTA_VCPUS_PER_FAMILY) as Record<string, number>) : undefined;
    cloud = await startCloudEmulator({
      dataDir, port: 0, subscriptionId: merged.AZURE_SUBSCRIPTION_ID,
      identity: { appClientId: merged.AZURE_CLIENT_ID, workspaceStorageAccount: merged.WORKSPACE_STORAGE_ACCOUNT },
      resourceGroup: merged.AZURE_RESOURCE_GROUP, location: merged.AZURE_LOCATION,
      allowedSubnetIds: merged.ALLOWED_SUBNET_IDS?.split(",").map((s) => s.trim()).filter(Boolean),
      quotaPerFamily: quota, latencyProfile: "none",
      queueBackend: { url: `http://127.0.0.1:${azurite.ports.queue}`, accountName: DEV_ACCOUNT, accountKey: DEV_KEY },
      ...opts.cloud,
      // Azure's NIC reservation (180 s) shortened, not removed: every delete and rollback waits it out.
      config: { nicReservationSeconds: 1, ...opts.cloud?.config },
    });
    const account = merged.WORKSPACE_STORAGE_ACCOUNT ?? "wslocalfiles";
    const port = await freePort();
    const settings = appSettings(merged, azurite, cloud.url, cloud.caCertFile, cloud.identity, { port, queueUrl: cloud.queueUrl, identityKeyFile: cloud.identityPublicKeyFile });
    // Jobs may use this stack's emulator registry (ACR's stand-in) unless a test says otherwise.
    settings.ALLOWED_JOB_REGISTRIES = opts.env?.ALLOWED_JOB_REGISTRIES ?? cloud.registry.host;
    // It is the workspace registry too: VMs get AcrPull on it and pull with their identity.
    settings.WORKSPACE_REGISTRY = opts.env?.WORKSPACE_REGISTRY ?? cloud.registry.host;
    settings.WORKSPACE_REGISTRY_ID = opts.env?.WORKSPACE_REGISTRY_ID ?? cloud.registry.resourceId;
    if (identityStorage) {
      const base = (port: number) => `https://127.0.0.1:${port}/devstoreaccount1`;
      Object.assign(settings, {
        AzureWebJobsStorage: "",
        AzureWebJobsStorage__blobServiceUri: base(azurite.ports.blob),
        AzureWebJobsStorage__queueServiceUri: base(azurite.ports.queue),
        AzureWebJobsStorage__tableServiceUri: base(azurite.ports.table),
        AzureWebJobsStorage__credential: "managedidentity",
        AzureWebJobsStorage__clientId: cloud.identity.appClientId,
        // Trust for Azurite's (the emulator's) certificate in the host process: added to the
        // default CAs, never a switch that turns certificate checks off.
        NODE_EXTRA_CA_CERTS: cloud.caCertFile,
      });
    }
    host = await startHost({ env: { ...settings, LOCAL_SETTINGS: settingsFile }, dataDir: path.join(dataDir, "host"), port });
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

/** The host's settings: the merged ones pointed at this stack's Azurite and emulator. */
function appSettings(
  merged: Record<string, string>,
  azurite: AzuriteProcess,
  cloudUrl: string,
  caCertFile: string,
  identity: { endpoint: string; header: string },
  agent: { port: number; queueUrl: string; identityKeyFile: string },
): Record<string, string> {
  return {
    ...merged,
    // The managed-identity endpoint the platform gives a Function App; the emulator serves it.
    IDENTITY_ENDPOINT: identity.endpoint,
    IDENTITY_HEADER: identity.header,
    // The job agents on the emulator's VMs: report to this host, take jobs through the emulator's
    // Entra-authorized queue front; the host admits their tokens with the emulator's key.
    JOBS_AGENT_APP_URL: `http://127.0.0.1:${agent.port}`,
    JOBS_AGENT_QUEUE_ENDPOINT: `${agent.queueUrl}/${DEV_ACCOUNT}`,
    LOCAL_IDENTITY_PUBLIC_KEY_FILE: agent.identityKeyFile,
    AzureWebJobsStorage: azurite.connectionString,
    ARM_ENDPOINT: cloudUrl,
    ARM_TLS_CA_FILE: caCertFile,
    WORKSPACE_FILES_ENDPOINT: `${cloudUrl}/files/${merged.WORKSPACE_STORAGE_ACCOUNT ?? "wslocalfiles"}`,
    // Fast SDK polling against the emulator; Azure would send Retry-After.
    ARM_POLL_INTERVAL_MS: merged.ARM_POLL_INTERVAL_MS ?? "50",
  };
}

/** A stack laid out like `npm start`: Azurite, the emulator and the host each in their own process. */
export type ProcessStack = Pick<Stack, "baseUrl" | "dataDir" | "host" | "azurite" | "settings" | "api" | "stop"> & { cloudPid: number };

/**
 * The same stack with the cloud emulator as its own process (`dist/local/cloud/main.js`, latency
 * "none"), as `npm start` runs it: for benchmarks, where an emulator inside the test process
 * would pay for that process's size on every run-command spawn. `cloudEnv`: the emulator's
 * settings (local/cloud/README.md), e.g. CLOUD_WRITE_THROTTLE=off; `hostNodeArgs`: Node options of
 * the host process (e.g. --cpu-prof). No admin access.
 */
export async function startProcessStack(opts: { env?: Record<string, string | undefined>; cloudEnv?: Record<string, string>; hostNodeArgs?: string[] } = {}): Promise<ProcessStack> {
  const settingsFile = path.join(REPO_ROOT, "local.settings.example.json");
  const merged = { ...readLocalSettings(REPO_ROOT, { LOCAL_SETTINGS: settingsFile }).Values, ...stripUndefined(opts.env ?? {}) };
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "stack-"));
  const azurite = await startTestAzurite();
  const port = await freePort();
  const identityHeader = randomBytes(24).toString("base64url");
  const cloud = spawn(process.execPath, [path.join(REPO_ROOT, "dist", "local", "cloud", "main.js")], {
    env: {
      ...process.env, ...merged, LOCAL_SETTINGS: settingsFile, DATA_DIR: dataDir, CLOUD_PORT: String(port), CLOUD_IDENTITY_HEADER: identityHeader, CLOUD_QUEUE_PORT: "0",
      CLOUD_LATENCY_PROFILE: "none", CLOUD_NIC_RESERVATION_SECONDS: "1", CLOUD_QUEUE_BACKEND: azurite.connectionString, ...opts.cloudEnv,
    },
    stdio: ["ignore", "pipe", "inherit"],
  });
  let host: TestHost | undefined;
  try {
    let out = "";
    cloud.stdout!.on("data", (c: Buffer) => (out += c.toString("utf8")));
    const listening = /listening on (https:\/\/\S+) .*CA (\S+)\)\n.*managed-identity endpoint (\S+) /;
    const front = /queues for VM identities on (https:\/\/\S+)/;
    await eventually(async () => (cloud.exitCode !== null ? "exited" : out), (o) => o === "exited" || (listening.test(o) && front.test(o)), 30_000, 50);
    const m = listening.exec(out);
    const q = front.exec(out);
    if (!m || !q) throw new Error(`the cloud emulator did not start: ${out.trim()}`);
    const hostPort = await freePort();
    const settings = appSettings(merged, azurite, m[1]!, m[2]!, { endpoint: m[3]!, header: identityHeader }, {
      port: hostPort, queueUrl: q[1]!, identityKeyFile: path.join(dataDir, "cloud", "identity", "public.pem"),
    });
    host = await startHost({ env: { ...settings, LOCAL_SETTINGS: settingsFile }, dataDir: path.join(dataDir, "host"), port: hostPort, ...(opts.hostNodeArgs ? { nodeArgs: opts.hostNodeArgs } : {}) });
    const h = host;
    return {
      baseUrl: h.baseUrl, dataDir, host: h, azurite, settings, cloudPid: cloud.pid!,
      api: (method, route, o = {}) => callApi(h.baseUrl, method, route, o),
      stop: async () => {
        await h.stop();
        await stopChild(cloud);
        await azurite.stop();
        fs.rmSync(dataDir, { recursive: true, force: true });
      },
    };
  } catch (err) {
    await host?.stop();
    await stopChild(cloud);
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
