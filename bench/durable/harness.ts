// Runs the local host in this process for an app folder: the same core, host context and
// extensions (HTTP + durable) as local/host/main.ts, so tests and the benchmark can reach
// the engine directly. installFunctionsCore works once per process: one harness per process.
import path from "node:path";
import { createHostContext, type HostContext } from "../../local/host/extensions";
import { FunctionsCore, installFunctionsCore } from "../../local/host/functionsCore";
import { httpExtension } from "../../local/host/http/httpExtension";
import { loadApp } from "../../local/host/loadApp";
import { readHostJson, type HostJson } from "../../local/host/settings";
import { createDurableExtension, type DurableExtension } from "../../local/host/durable/extension";
import type { DurableEngine } from "../../local/host/durable/engine";
import { freePort } from "../../local/shared/azurite";

export type InProcessHost = {
  baseUrl: string;
  ctx: HostContext;
  durable: DurableExtension;
  engine: DurableEngine;
  core: FunctionsCore;
  stop(): Promise<void>;
};

export async function startInProcessHost(opts: {
  appDir: string;
  connectionString: string;
  hostJson?: (h: HostJson) => HostJson;
  quiet?: boolean;
}): Promise<InProcessHost> {
  const appDir = path.resolve(opts.appDir);
  const port = await freePort();
  const baseUrl = `http://127.0.0.1:${port}`;
  const env = process.env;
  env.PORT = String(port);
  env.AzureWebJobsStorage = opts.connectionString;
  const core = new FunctionsCore();
  if (opts.quiet) core.logSink = () => undefined;
  installFunctionsCore(core);
  await loadApp(core, appDir);
  const hostJson = (opts.hostJson ?? ((h) => h))(readHostJson(appDir));
  const durable = createDurableExtension();
  const extensions = [httpExtension(), durable];
  const log: HostContext["log"] = (level, message) => {
    if (!opts.quiet || level === "error") process.stderr.write(`[host] ${level}: ${message}\n`);
  };
  const ctx = createHostContext({ core, appDir, hostJson, env, extensions, baseUrl: () => baseUrl, log });
  for (const ext of extensions) await ext.start?.(ctx);
  return {
    baseUrl,
    ctx,
    durable,
    engine: durable.engine(),
    core,
    stop: async () => {
      for (const ext of [...extensions].reverse()) await ext.stop?.();
    },
  };
}
