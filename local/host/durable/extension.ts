// The Durable Functions extension of the local host: the durable client input binding,
// the management HTTP API, and the engine that runs orchestrator and activity triggers
// from a task hub persisted in Azure Table storage (Azurite locally).
import path from "node:path";
import type { HostContext, HostExtension } from "../extensions";
import { isSystemAuthorized, loadHostKeys, type HostKeys } from "../http/keys";
import { timeSpanToMs } from "../settings";
import { durableApi, clientUrls } from "./api";
import { DurableEngine } from "./engine";
import { DEFAULT_LONG_TIMER_INTERVAL, DEFAULT_MAX_SHORT_TIMER } from "./episode";
import { TaskHubStore } from "./store";

export type DurableExtension = HostExtension & { engine(): DurableEngine };

/** Table name for a hub: letters and digits only, as Azure Tables requires. */
export function hubTableName(hubName: string): string {
  return `DurableHub${hubName.replace(/[^A-Za-z0-9]/g, "")}`.slice(0, 63);
}

export function createDurableExtension(): DurableExtension {
  let engine: DurableEngine | undefined;
  let hubName = "TestHubName";
  let baseUrl = () => "http://127.0.0.1:7071";
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
    systemKey: () => hostKeys().systemKeys.durabletask_extension,
    authorize: (presented) => isSystemAuthorized(hostKeys(), "durabletask_extension", presented),
  });
  return {
    name: "durable",
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
      keysOf(ctx);
      const conn = ctx.env.AzureWebJobsStorage;
      if (!conn) throw new Error("durable: the app setting AzureWebJobsStorage is not set (the task hub lives in Table storage)");
      // The library rewrites management URLs to localhost:7071 unless WEBSITE_HOSTNAME is set (func sets it too).
      if (!process.env.WEBSITE_HOSTNAME) process.env.WEBSITE_HOSTNAME = new URL(ctx.baseUrl()).host;
      const maxShort = typeof dt.maximumShortTimerDuration === "string" ? dt.maximumShortTimerDuration : DEFAULT_MAX_SHORT_TIMER;
      const interval = typeof dt.longRunningTimerIntervalDuration === "string" ? dt.longRunningTimerIntervalDuration : DEFAULT_LONG_TIMER_INTERVAL;
      engine = new DurableEngine({
        store: new TaskHubStore(conn, hubTableName(hubName)),
        hubName,
        maxActivities: dt.maxConcurrentActivityFunctions ?? 10,
        maxOrchestrators: dt.maxConcurrentOrchestratorFunctions ?? 10,
        episode: {
          maximumShortTimerDuration: maxShort,
          longRunningTimerIntervalDuration: interval,
          maxShortTimerMs: timeSpanToMs(maxShort, 6 * 86_400_000),
          longTimerIntervalMs: timeSpanToMs(interval, 3 * 86_400_000),
        },
        functions: {
          get: (name) => ctx.core.functions.get(name),
          invoke: async (fn, data) => (await ctx.invoke(fn, { data })).returnValue,
        },
        log: (level, message) => ctx.log(level, message),
      });
      await engine.start();
    },
    async stop() {
      await engine?.stop();
    },
    async health() {
      return { durable: engine !== undefined };
    },
  };
}
