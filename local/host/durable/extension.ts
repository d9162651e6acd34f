// The Durable Functions extension of the local host: the durable client input binding,
// the management HTTP API, and the engine that runs orchestrator and activity triggers
// from a task hub persisted in Azure Table storage (Azurite locally).
import path from "node:path";
import type { HostContext, HostExtension } from "../extensions";
import { isSystemAuthorized, loadHostKeys, type HostKeys } from "../http/keys";
import { timeSpanToMs } from "../settings";
import { durableApi } from "./client/api";
import { clientUrls } from "./client/answers";
import { DEFAULT_HTTP_ASYNC_SLEEP_MS } from "./durableHttp";
import { DurableEngine } from "./engine";
import { EntityRuntime } from "./entities/runtime";
import { EntityStore } from "./entities/store";
import { DEFAULT_LONG_TIMER_INTERVAL, DEFAULT_MAX_SHORT_TIMER } from "./executor/episode";
import { largeMessagesContainer } from "./backend/payloads";
import { TaskHubStore } from "./backend/store";
import { hostStorage, storageConnection, type HostStorage } from "../storageClients";
import type { InstanceMessage } from "./types";
import { versioningFrom } from "./versioning";
import { TRACE_CATEGORY } from "./trace";
import { logLevelFilter } from "../logLevels";

export type DurableExtension = HostExtension & { engine(): DurableEngine };

/** Table name for a hub: letters and digits only, as Azure Tables requires. */
export function hubTableName(hubName: string): string {
  return `DurableHub${hubName.replace(/[^A-Za-z0-9]/g, "")}`.slice(0, 63);
}

/** durableTask.httpSettings.defaultAsyncRequestSleepTimeMilliseconds: durable HTTP's poll interval without Retry-After. */
function httpAsyncSleepMs(httpSettings: unknown): number {
  const v = (httpSettings as { defaultAsyncRequestSleepTimeMilliseconds?: unknown } | undefined)?.defaultAsyncRequestSleepTimeMilliseconds;
  return typeof v === "number" && Number.isFinite(v) && v >= 0 ? v : DEFAULT_HTTP_ASYNC_SLEEP_MS;
}

export function createDurableExtension(): DurableExtension {
  let engine: DurableEngine | undefined;
  let hubName = "TestHubName";
  let baseUrl = () => "http://127.0.0.1:7071";
  let log: HostContext["log"] | undefined;
  let keys: HostKeys | undefined;
  // Loaded on first need: a timer may run (and ask for a client) before this extension starts.
  const keysOf = (ctx: HostContext) => (keys ??= loadHostKeys(ctx.env.DATA_DIR ?? path.join(ctx.appDir, ".data"), ctx.env));
  const hostKeys = () => {
    if (!keys) throw new Error("the durable extension has not started");
    return keys;
  };
  const api = durableApi({
    get engine() {
      if (!engine) throw new Error("the durable extension has not started");
      return engine;
    },
    get hubName() {
      return hubName;
    },
    baseUrl: () => baseUrl(),
    log: (level, message) => log?.(level, message),
    systemKey: () => hostKeys().systemKeys.durabletask_extension,
    authorize: (presented) => isSystemAuthorized(hostKeys(), "durabletask_extension", presented),
  });
  return {
    name: "durable",
    triggerTypes: ["orchestrationtrigger", "activitytrigger", "entitytrigger"],
    inputProviders: {
      durableclient: (ctx: HostContext) => ({ json: JSON.stringify(clientUrls(ctx.baseUrl(), hubName, keysOf(ctx).systemKeys.durabletask_extension)) }),
      orchestrationclient: (ctx: HostContext) => ({ json: JSON.stringify(clientUrls(ctx.baseUrl(), hubName, keysOf(ctx).systemKeys.durabletask_extension)) }),
    },
    httpRoutes: [api],
    engine() {
      if (!engine) throw new Error("the durable extension has not started");
      return engine;
    },
    async start(ctx: HostContext) {
      const dt = ctx.hostJson.extensions?.durableTask ?? {};
      hubName = dt.hubName ?? "TestHubName";
      baseUrl = () => ctx.baseUrl();
      log = (level, message) => ctx.log(level, message);
      keysOf(ctx);
      engine = createEngine(ctx, dt, hubName);
      await engine.start();
      await engine.entities!.start();
    },
    async stop() {
      engine?.entities?.stop();
      await engine?.stop();
    },
    async health() {
      return { durable: engine !== undefined };
    },
  };
}

type DurableTaskSettings = NonNullable<NonNullable<HostContext["hostJson"]["extensions"]>["durableTask"]>;

/** The engine and its entity runtime over the task hub of AzureWebJobsStorage, as host.json configures them. */
function createEngine(ctx: HostContext, dt: DurableTaskSettings, hubName: string): DurableEngine {
  // The task hub lives in Table storage of AzureWebJobsStorage, connection string or identity-based.
  // A connection string goes to the store as is (it may name a table endpoint only).
  let storage: string | HostStorage;
  try {
    const conn = storageConnection(ctx.env, undefined);
    storage = conn.kind === "connectionString" ? conn.connectionString : hostStorage(ctx.env);
  } catch (err) {
    throw new Error(`durable: ${(err as Error).message} (the task hub lives in Table storage)`);
  }
  // The library rewrites management URLs to localhost:7071 unless WEBSITE_HOSTNAME is set (func sets it too).
  if (!process.env.WEBSITE_HOSTNAME) process.env.WEBSITE_HOSTNAME = new URL(ctx.baseUrl()).host;
  const maxShort = typeof dt.maximumShortTimerDuration === "string" ? dt.maximumShortTimerDuration : DEFAULT_MAX_SHORT_TIMER;
  const interval = typeof dt.longRunningTimerIntervalDuration === "string" ? dt.longRunningTimerIntervalDuration : DEFAULT_LONG_TIMER_INTERVAL;
  const store = new TaskHubStore(storage, hubTableName(hubName), largeMessagesContainer(hubName));
  // Entity functions by lower-cased name (entity names are case-insensitive, like function names).
  const findEntity = (name: string) =>
    [...ctx.core.functions.values()].find((f) => f.trigger.type.toLowerCase() === "entitytrigger" && f.name.toLowerCase() === name);
  const engine = new DurableEngine({
    store,
    hubName,
    maxActivities: dt.maxConcurrentActivityFunctions ?? 10,
    maxOrchestrators: dt.maxConcurrentOrchestratorFunctions ?? 10,
    episode: {
      maximumShortTimerDuration: maxShort,
      longRunningTimerIntervalDuration: interval,
      maxShortTimerMs: timeSpanToMs(maxShort, 6 * 86_400_000),
      longTimerIntervalMs: timeSpanToMs(interval, 3 * 86_400_000),
      httpAsyncSleepMs: httpAsyncSleepMs(dt.httpSettings),
      hasEntity: (name) => findEntity(name.toLowerCase()) !== undefined,
      versioning: versioningFrom(dt as Record<string, unknown>),
    },
    functions: {
      get: (name) => ctx.core.functions.get(name),
      invoke: async (fn, data) => (await ctx.invoke(fn, { data })).returnValue,
    },
    log: (level, message) => ctx.log(level, message),
    ...(logLevelFilter(ctx.hostJson.logging?.logLevel)("information", TRACE_CATEGORY) ? { trace: (message: string) => ctx.log("information", message) } : {}),
  });
  const entities = new EntityRuntime({
    store: new EntityStore(store.table, () => store.countTrip()),
    findEntity,
    invoke: async (fn, data) => (await ctx.invoke(fn, { data })).returnValue,
    toOrchestration: (instanceId, rowKey, msg) => engine.receive(instanceId, rowKey, msg as InstanceMessage),
    maxConcurrent: dt.maxConcurrentOrchestratorFunctions ?? 10,
    // The extension's default outside the Consumption plan is 5000; 50 keeps a batch's reply within one transaction here.
    maxBatch: Math.min(typeof dt.maxEntityOperationBatchSize === "number" && dt.maxEntityOperationBatchSize > 0 ? dt.maxEntityOperationBatchSize : 50, 50),
    log: (level, message) => ctx.log(level, message),
  });
  engine.entities = entities;
  return engine;
}
