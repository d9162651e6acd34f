// startCloudEmulator: the HTTPS server in front of ARM, Azure Files and the admin surface,
// with Entra ID tokens and RBAC (identity/, rbac.ts), fault injection, the write throttle and persisted state.
import fs from "node:fs";
import https from "node:https";
import path from "node:path";
import type { AddressInfo } from "node:net";
import type { IncomingMessage, ServerResponse } from "node:http";
import { adminState, handleAdmin, setConfig, type AdminState } from "./admin";
import { dispatchArm } from "./arm";
import { registerComputeCompleters, vmNicIds } from "./compute";
import { registerExtensionCompleters } from "./extensions";
import { defaultConfig, applyPatch, type ConfigPatch, type LatencyProfile, type RuntimeConfig } from "./config";
import type { Ctx, ResolvedOptions } from "./context";
import { decideFault, decideLost, decideOutcome } from "./faults";
import { handleFiles } from "./files";
import { ArmError, readBody, sendArmError, sendJson, parseJsonObject, type JsonObject } from "./http";
import { Operations } from "./lro";
import { registerNetworkCompleters, seedNetworks } from "./network";
import { recoverRunCommands, registerRunCommandCompleters } from "./runCommands";
import { defaultRegistryDir, Registry } from "./registry";
import { ACR_PULL_ACTION, RegistryAuth } from "./registryAuth";
import { allowedRegistryAction } from "./roleAssignments";
import { Sandbox } from "./sandbox";
import type { Quota } from "./skus";
import { key, Store } from "./store";
import { Throttle } from "./throttle";
import { ensureCertificate } from "./tls";
import { authenticateRequest, authorizeRequest, templateScopes } from "./identity/hooks";
import { IdentityService, type IdentityOptions } from "./identity/service";
import { startQueueFront, type QueueBackend } from "./storageQueues";
import { bootVm } from "./vmInit";
import { killMarked, VM_MARKER_ENV } from "./sandbox";

export type CloudEmulatorOptions = {
  /** State lives under <dataDir>/cloud. Default ".data". */
  dataDir?: string;
  /** 0 picks a free port. Default 10443. */
  port?: number;
  /** The local Entra ID: tenant, the app identity's client id, the managed-identity endpoint's port and secret. */
  identity?: IdentityOptions;
  subscriptionId?: string;
  resourceGroup?: string;
  location?: string;
  allowedSubnetIds?: string[];
  /** vCPU limit per VM family; families not listed get defaultFamily. */
  quotaPerFamily?: Record<string, number>;
  quotaDefaultFamily?: number;
  quotaRegional?: number;
  latencyProfile?: LatencyProfile;
  /** Applied on top of the profile (latencyMs, faults, throttle, retryAfterSeconds). */
  config?: ConfigPatch;
  /** Azurite's queue service, for the Entra-authorized queue front VMs use (absent: the front answers 404). */
  queueBackend?: QueueBackend;
  /** Port of the queue front; 0 picks a free one. Default 10445. */
  queuePort?: number;
  /** OCI image layouts the registry serves (default: CLOUD_REGISTRY_DIR, else the cache folder local/cloud/job-image.sh fills). */
  registryDir?: string;
  /** The registry's resource name (its id, in the emulator's resource group, is the scope AcrPull is checked at). Default "crlocal". */
  registryName?: string;
  /** Log sink; default: none. main.ts passes console.log. */
  log?: (line: string) => void;
};

export type CloudEmulator = {
  url: string;
  port: number;
  caCertPem: string;
  caCertFile: string;
  /** An ARM token of the operator (Owner on the subscription, like whoever ran `azd up`): for tests and admin. */
  token: string;
  /** Queue service URL (path style, https) for VM identities: `${queueUrl}/<account>/<queue>`. */
  queueUrl: string;
  /** PEM public key that verifies the tokens this emulator issues (for the local host's App Service Authentication). */
  identityPublicKeyFile: string;
  /** The operator's token for Files (audience https://storage.azure.com). */
  storageToken: string;
  identity: {
    /** IDENTITY_ENDPOINT / IDENTITY_HEADER for the Functions host (App Service managed-identity protocol). */
    endpoint: string;
    header: string;
    tenantId: string;
    /** The app's user-assigned identity (AZURE_CLIENT_ID) and its object id. */
    appClientId: string;
    appPrincipalId: string;
    /** AZURE_POD_IDENTITY_AUTHORITY_HOST for processes in VM `vmName` (IMDS protocol, system-assigned identity). */
    imdsAuthorityHost(vmName: string): string;
    /** Signs a token directly (tests: other identities, audiences, lifetimes, tenants). */
    issue(req: { principalId: string; clientId?: string; audience: string; lifetimeSeconds?: number; notBefore?: number; tenantId?: string }): string;
  };
  dataDir: string;
  subscriptionId: string;
  resourceGroup: string;
  location: string;
  getConfig(): RuntimeConfig;
  setConfig(patch: ConfigPatch): RuntimeConfig;
  getState(): AdminState;
  /**
   * The registry (at `${url}/v2/`; image references name it as `127.0.0.1:${port}/…`), behind
   * ACR's token service: `resourceId` is the scope of AcrPull; `secrets()` every credential its
   * token service saw or issued (tests check none leaks).
   */
  registry: { host: string; dir: string; resourceId: string; pulls(repository: string): number; holdBlobs(): () => void; holdExchanges(): () => void; secrets(): string[] };
  /** Kills VM processes (their runs end Failed), persists state and closes the server. */
  stop(): Promise<void>;
};

export const DEFAULTS = {
  port: 10443,
  subscriptionId: "00000000-0000-0000-0000-000000000001",
  resourceGroup: "rg-compute-local",
  location: "westeurope",
  queuePort: 10445,
};

export async function startCloudEmulator(options: CloudEmulatorOptions = {}): Promise<CloudEmulator> {
  const dataDir = path.resolve(options.dataDir ?? ".data");
  const cloudDir = path.join(dataDir, "cloud");
  const quota: Quota = { perFamily: options.quotaPerFamily ?? {}, defaultFamily: options.quotaDefaultFamily ?? 100, regional: options.quotaRegional ?? 350 };
  const subscriptionId = options.subscriptionId ?? DEFAULTS.subscriptionId;
  const resourceGroup = options.resourceGroup ?? DEFAULTS.resourceGroup;
  const location = (options.location ?? DEFAULTS.location).toLowerCase();
  const opts: ResolvedOptions = {
    dataDir, cloudDir, host: "127.0.0.1", port: options.port ?? DEFAULTS.port,
    subscriptionId, resourceGroup, location, quota,
    allowedSubnetIds: options.allowedSubnetIds ?? [`/subscriptions/${subscriptionId}/resourceGroups/${resourceGroup}/providers/Microsoft.Network/virtualNetworks/vnet-local/subnets/default`],
    caCertFile: "",
    registryId: `/subscriptions/${subscriptionId}/resourceGroups/${resourceGroup}/providers/Microsoft.ContainerRegistry/registries/${options.registryName ?? "crlocal"}`,
  };
  const tls = await ensureCertificate(cloudDir);
  opts.caCertFile = tls.certFile;
  const store = new Store(cloudDir);
  const identity = new IdentityService(cloudDir, options.identity ?? {}, templateScopes(opts, options.identity?.workspaceStorageAccount), (vmName) => {
    const vm = Object.values(store.state.vms).find((v) => String(v.body.name).toLowerCase() === vmName.toLowerCase());
    if (!vm) return undefined;
    const principal = (vm.body.identity as JsonObject | undefined)?.principalId;
    const nicId = vmNicIds(vm)[0];
    const nic = nicId ? store.state.nics[key(nicId)] : undefined;
    const ipc = ((nic?.body.properties as JsonObject | undefined)?.ipConfigurations as JsonObject[] | undefined)?.[0];
    const privateIp = (ipc?.properties as JsonObject | undefined)?.privateIPAddress;
    return {
      ...(typeof principal === "string" ? { principalId: principal } : {}),
      resourceId: vm.id,
      ...(typeof privateIp === "string" ? { privateIp } : {}),
    };
  });
  await identity.start();
  // AcrPull on the registry: an assignment of roles.json (the template's) or one made through ARM (the VMs').
  const canPull = (principalId: string) =>
    identity.rbac.allows(principalId, ACR_PULL_ACTION, opts.registryId) || allowedRegistryAction(ctx, principalId, opts.registryId, ACR_PULL_ACTION);
  const ctx: Ctx = {
    opts, store, identity,
    ops: new Operations(store, location, subscriptionId),
    sandbox: new Sandbox(cloudDir),
    registry: new Registry(options.registryDir ?? defaultRegistryDir(), new RegistryAuth(identity.issuer, canPull)),
    config: applyPatch(defaultConfig(options.latencyProfile ?? "realistic"), options.config ?? {}),
    log: options.log ?? (() => undefined),
    runs: new Map(),
    stopped: false,
  };
  ctx.ops.injectFailure = (op) => decideOutcome(ctx.config, op.kind);
  registerNetworkCompleters(ctx);
  registerExtensionCompleters(ctx);
  registerComputeCompleters(ctx);
  registerRunCommandCompleters(ctx);
  seedNetworks(ctx);
  recoverRunCommands(ctx);
  ctx.ops.recover();
  store.flush();
  // VMs that were running when the last emulator died: their processes are leftovers; boot them again.
  const running = Object.values(store.state.vms).filter((vm) => vm.powerState === "running");
  killMarked(VM_MARKER_ENV, new Set(running.map((vm) => ctx.sandbox.vmDir(String(vm.body.name)))));
  for (const vm of running) await bootVm(ctx, vm).catch((err: Error) => ctx.log(`vm ${String(vm.body.name)}: boot failed: ${err.message}`));
  const queueFront = await startQueueFront(ctx, tls, options.queueBackend, options.queuePort ?? 0);
  // The host (App Service Authentication's stand-in) verifies VM identities' tokens with this.
  const publicKeyFile = path.join(cloudDir, "identity", "public.pem");
  fs.writeFileSync(publicKeyFile, identity.issuer.key.publicKey.export({ type: "spki", format: "pem" }));

  const throttle = new Throttle();
  const server = https.createServer({ cert: tls.cert, key: tls.key, minVersion: "TLSv1.2" }, (req, res) => {
    handle(ctx, throttle, req, res).catch((err) => {
      const e = err instanceof ArmError ? err : new ArmError(500, "InternalServerError", (err as Error).message);
      if (!(err instanceof ArmError)) ctx.log(`internal error on ${req.method} ${req.url}: ${(err as Error).stack}`);
      if (!res.headersSent) sendArmError(res, e);
      else res.destroy();
    });
  });
  try {
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(opts.port, opts.host, () => resolve());
    });
  } catch (err) {
    await identity.stop();
    throw err;
  }
  const port = (server.address() as AddressInfo).port;
  opts.port = port;
  const url = `https://127.0.0.1:${port}`;

  return {
    url, port, caCertPem: tls.cert, caCertFile: tls.certFile, dataDir, subscriptionId, resourceGroup, location,
    queueUrl: queueFront.url, identityPublicKeyFile: publicKeyFile,
    token: identity.issuer.issue({ principal: identity.operator, audience: "https://management.azure.com" }).token,
    storageToken: identity.issuer.issue({ principal: identity.operator, audience: "https://storage.azure.com" }).token,
    identity: {
      endpoint: identity.endpoint, header: identity.header, tenantId: identity.issuer.tenantId,
      appClientId: identity.app.clientId, appPrincipalId: identity.app.principalId,
      imdsAuthorityHost: (vmName) => identity.imdsAuthorityHost(vmName),
      issue: (r) => identity.issuer.issue({
        principal: { kind: "userAssignedIdentity", principalId: r.principalId, clientId: r.clientId ?? r.principalId, name: "test" },
        audience: r.audience, lifetimeSeconds: r.lifetimeSeconds, notBefore: r.notBefore, tenantId: r.tenantId,
      }).token,
    },
    registry: {
      host: `127.0.0.1:${port}`, dir: ctx.registry.dir, resourceId: opts.registryId,
      pulls: (repository) => ctx.registry.pulls.get(repository) ?? 0, holdBlobs: () => ctx.registry.holdBlobs(),
      holdExchanges: () => ctx.registry.auth.holdExchanges(), secrets: () => [...ctx.registry.auth.secrets],
    },
    getConfig: () => ctx.config,
    setConfig: (patch) => setConfig(ctx, patch),
    getState: () => adminState(ctx),
    stop: async () => {
      if (ctx.stopped) return;
      ctx.stopped = true;
      ctx.ops.stop();
      for (const run of ctx.runs.values()) run.interrupt("Failed", "The emulator stopped while the script was running.");
      ctx.sandbox.stopAll();
      queueFront.close();
      const deadline = Date.now() + 3000;
      while (ctx.runs.size > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await identity.stop();
      store.flush();
    },
  };
}

async function handle(ctx: Ctx, throttle: Throttle, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const url = new URL(req.url ?? "/", "https://127.0.0.1");
  const method = (req.method ?? "GET").toUpperCase();
  if (url.pathname === "/health" && method === "GET") return sendJson(res, 200, { status: "ok", service: "cloud-emulator" });
  // The registry and its token service: their own credentials (ACR tokens), not ARM's.
  if (await ctx.registry.handle(req, res, url, req.headers.host ?? `127.0.0.1:${ctx.opts.port}`)) return;

  const caller = authenticateRequest(ctx, req, res, url);
  if (!caller) return;
  const raw = ["PUT", "POST", "PATCH"].includes(method) && !url.pathname.startsWith("/files/") ? await readBody(req) : Buffer.alloc(0);
  if (!authorizeRequest(ctx, caller, req, res, method, url, raw)) return;

  if (url.pathname.startsWith("/admin/")) {
    const [status, body] = handleAdmin(ctx, method, url.pathname, raw);
    return sendJson(res, status, body);
  }

  const fault = decideFault(ctx.config);
  if (fault === "drop") {
    req.socket.destroy();
    return;
  }
  if (fault === "429") {
    const s = String(ctx.config.faults.retryAfterSeconds);
    return sendArmError(res, new ArmError(429, "TooManyRequests", "The request is being throttled (injected fault).", undefined, { "retry-after": s }));
  }
  if (fault === "500") return sendArmError(res, new ArmError(500, "InternalServerError", "An internal server error occurred (injected fault)."));

  if (url.pathname.startsWith("/files/")) return handleFiles(ctx, req, res, url);

  const write = method !== "GET" && method !== "HEAD";
  // ARM's buckets are per principal: the token's object id (every token of one identity shares them).
  const throttleHeaders = throttle.charge(ctx.config, { method, path: url.pathname, authorization: caller.principalId, subscriptionId: ctx.opts.subscriptionId },
    (vmPath) => Object.keys(ctx.store.state.vms).includes(vmPath.toLowerCase()));
  const host = req.headers.host ?? `127.0.0.1:${ctx.opts.port}`;
  let result: ReturnType<typeof dispatchArm>;
  try {
    result = dispatchArm(ctx, {
      method, path: url.pathname, query: url.searchParams, baseUrl: `https://${host}`,
      apiVersion: url.searchParams.get("api-version") ?? "", body: () => parseJsonObject(raw),
    });
  } catch (err) {
    // ARM reports the remaining calls on refusals too.
    if (err instanceof ArmError) return sendArmError(res, new ArmError(err.status, err.code, err.message, err.target, { ...throttleHeaders, ...err.headers }));
    throw err;
  }
  if (write && decideLost(ctx.config)) {
    // Applied, but the client never hears: it must retry idempotently.
    req.socket.destroy();
    return;
  }
  sendJson(res, result.status, result.body as JsonObject | undefined, { ...throttleHeaders, ...result.headers });
}
