// Loads a Functions app the way the worker does: resolve package.json `main` (a file or
// a glob such as `dist/functions/*.js`), require every entry point, then run the
// app-start hooks. Registrations land in the FunctionsCore installed beforehand.
import fs from "node:fs";
import path from "node:path";
import { WORKER_CAPABILITIES, type FunctionsCore } from "./functionsCore";
import { appStartContext, appTerminateContext } from "./hookContexts";
import { serverAt, withListeningServers } from "./http/inProcessProxy";

export function resolveEntryPoints(appDir: string): string[] {
  const pkgPath = path.join(appDir, "package.json");
  const pkg = JSON.parse(fs.readFileSync(pkgPath, "utf8")) as { main?: string };
  if (!pkg.main) throw new Error(`${pkgPath} has no "main": the host cannot find the app's entry point.`);
  const files = expandGlob(appDir, pkg.main);
  if (files.length === 0) throw new Error(`package.json "main" (${pkg.main}) matches no file: run the build first.`);
  return files;
}

/** Supports the patterns the worker documents: `*` within one segment and `{a,b}` alternatives. */
function expandGlob(appDir: string, pattern: string): string[] {
  const alternatives = expandBraces(pattern);
  const out = new Set<string>();
  for (const alt of alternatives) {
    const abs = path.resolve(appDir, alt);
    if (!alt.includes("*")) {
      if (fs.existsSync(abs)) out.add(abs);
      continue;
    }
    const dir = path.dirname(abs);
    const re = new RegExp("^" + path.basename(abs).replace(/[.+^${}()|[\]\\]/g, "\\$&").replace(/\*/g, "[^/]*") + "$");
    if (!fs.existsSync(dir)) continue;
    for (const name of fs.readdirSync(dir).sort()) if (re.test(name)) out.add(path.join(dir, name));
  }
  return [...out];
}

function expandBraces(pattern: string): string[] {
  const m = /\{([^{}]*)\}/.exec(pattern);
  if (!m) return [pattern];
  return m[1]!.split(",").flatMap((part) => expandBraces(pattern.slice(0, m.index) + part + pattern.slice(m.index + m[0].length)));
}

/**
 * Loads the entry points, runs the app-start hooks, then asks the library for its
 * capabilities, as the worker answers the host's init request. With
 * `app.setup({ enableHttpStream: true })` the library starts its HTTP proxy here and reports
 * its address as `HttpUri`; the HTTP extension then forwards requests to it (in memory when the
 * server is found in this process, see http/inProcessProxy.ts).
 */
export async function loadApp(core: FunctionsCore, appDir: string): Promise<void> {
  for (const file of resolveEntryPoints(appDir)) require(file);
  const startCtx = appStartContext(core, appDir);
  for (const hook of core.hooks.appStart) await hook(startCtx);
  const base = { ...WORKER_CAPABILITIES };
  const { result, servers } = await withListeningServers(async () => (await core.programmingModel?.getCapabilities?.(base)) ?? base);
  core.capabilities = result;
  if (result.HttpUri) core.httpProxyServer = await serverAt(servers, result.HttpUri);
}

export async function terminateApp(core: FunctionsCore): Promise<void> {
  const ctx = appTerminateContext(core);
  for (const hook of core.hooks.appTerminate) await hook(ctx);
}
