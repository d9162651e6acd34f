// The local Functions host process (`func start` stand-in).
// Env: PORT (7071), APP_DIR (cwd), DATA_DIR (.data under APP_DIR), LOCAL_SETTINGS (settings file).
// Prints "Host listening on http://127.0.0.1:<port>" once every extension has started.
import fs from "node:fs";
import path from "node:path";
import { createHostContext, unservedBinding, type HostExtension } from "./extensions";
import { extensionFactories } from "./extensionList";
import { FunctionsCore, installFunctionsCore } from "./functionsCore";
import { disabledFunctions } from "./disabledFunctions";
import { loadApp, terminateApp } from "./loadApp";
import { logLevelFilter, workerLogCategory } from "./logLevels";
import { applyHostJsonOverrides, applyLocalSettings, localSettingsPath, readHostJson } from "./settings";

type Level = "information" | "warning" | "error" | "debug";

function log(level: Level, message: string): void {
  const out = level === "error" || level === "warning" ? process.stderr : process.stdout;
  out.write(`[host] ${level === "information" ? "" : level + ": "}${message}\n`);
}

/** A start-up problem the user fixes by configuration: reported as one line, no stack. */
class StartupError extends Error {}

async function main(): Promise<void> {
  const env = process.env;
  const appDir = path.resolve(env.APP_DIR ?? process.cwd());
  const settingsFile = localSettingsPath(appDir, env);
  if (env.LOCAL_SETTINGS || fs.existsSync(settingsFile)) {
    try {
      applyLocalSettings(appDir, env);
    } catch (err) {
      throw new StartupError((err as Error).message);
    }
  }
  env.DATA_DIR = path.resolve(appDir, env.DATA_DIR ?? ".data");
  const port = Number(env.PORT ?? 7071);
  if (!Number.isInteger(port) || port < 1 || port > 65535) throw new StartupError(`PORT must be a port number 1..65535 (got "${env.PORT}")`);
  env.PORT = String(port);
  const baseUrl = `http://127.0.0.1:${port}`;

  let hostJson;
  try {
    hostJson = applyHostJsonOverrides(readHostJson(appDir), env);
  } catch (err) {
    throw new StartupError(`host.json: ${(err as Error).message}`);
  }
  const core = new FunctionsCore();
  const logged = logLevelFilter(hostJson.logging?.logLevel);
  core.logSink = (level, category, message, functionName) => {
    if (!logged(level, workerLogCategory(functionName, category))) return;
    const out = level === "error" || level === "warning" ? process.stderr : process.stdout;
    out.write(`[${functionName ? `Functions.${functionName}` : category}] ${message}\n`);
  };
  installFunctionsCore(core);
  try {
    await loadApp(core, appDir);
  } catch (err) {
    log("error", `loading the app failed: ${(err as Error)?.stack ?? String(err)}`);
    throw new StartupError(`the app in ${appDir} failed to load: ${(err as Error).message}`);
  }
  for (const name of disabledFunctions(core.functions.keys(), env)) {
    core.functions.delete(name);
    log("information", `Function '${name}' is disabled (AzureWebJobs.${name}.Disabled)`);
  }
  log("information", `Loaded ${core.functions.size} function(s) from ${appDir}`);
  const httpUri = core.capabilities.HttpUri;
  if (httpUri) log("information", `HTTP streaming: the library's proxy at ${httpUri} is reached ${core.httpProxyServer ? "in memory" : "over TCP"}`);

  const extensions: HostExtension[] = extensionFactories.map((f) => f());
  const unserved = unservedBinding(core.functions.values(), extensions);
  if (unserved) throw new StartupError(unserved);
  const ctx = createHostContext({ core, appDir, hostJson, env, extensions, baseUrl: () => baseUrl, log });

  let stopping: Promise<void> | undefined;
  const shutdown = (signal: string) => {
    if (stopping) {
      log("warning", `${signal} again: exiting now`);
      process.exit(1);
    }
    log("information", `${signal}: stopping`);
    stopping = (async () => {
      for (const ext of [...extensions].reverse()) {
        try {
          await ext.stop?.();
        } catch (err) {
          log("warning", `stopping ${ext.name}: ${(err as Error).message}`);
        }
      }
      try {
        await terminateApp(core);
      } catch (err) {
        log("warning", `appTerminate hook failed: ${(err as Error).message}`);
      }
    })();
    void stopping.then(() => process.exit(0));
  };
  process.on("SIGTERM", () => shutdown("SIGTERM"));
  process.on("SIGINT", () => shutdown("SIGINT"));

  for (const ext of extensions) {
    try {
      await ext.start?.(ctx);
    } catch (err) {
      const e = err as NodeJS.ErrnoException;
      if (e.code === "EADDRINUSE") throw new StartupError(`port ${port} on 127.0.0.1 is already in use (set PORT to another port)`);
      throw new StartupError(`starting the ${ext.name} extension failed: ${e.message}`);
    }
  }
  process.stdout.write(`Host listening on ${baseUrl}\n`);
}

main().catch((err: unknown) => {
  const message = err instanceof StartupError ? err.message : ((err as Error)?.stack ?? String(err));
  process.stderr.write(`host: ${message}\n`);
  process.exit(1);
});
