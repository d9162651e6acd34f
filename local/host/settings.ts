// Reads local.settings.json (or the example, or the file named by LOCAL_SETTINGS) and
// host.json the way `func start` does: Values become environment variables, and a
// variable already set in the environment wins over the file.
import fs from "node:fs";
import path from "node:path";

export type LocalSettings = { Values: Record<string, string>; Host?: { LocalHttpPort?: number } };

export function localSettingsPath(appDir: string, env: NodeJS.ProcessEnv = process.env): string {
  if (env.LOCAL_SETTINGS) return path.resolve(appDir, env.LOCAL_SETTINGS);
  const own = path.join(appDir, "local.settings.json");
  return fs.existsSync(own) ? own : path.join(appDir, "local.settings.example.json");
}

export function readLocalSettings(appDir: string, env: NodeJS.ProcessEnv = process.env): LocalSettings {
  const file = localSettingsPath(appDir, env);
  let parsed: unknown;
  try {
    parsed = JSON.parse(fs.readFileSync(file, "utf8"));
  } catch (err) {
    throw new Error(`cannot read settings file ${file}: ${(err as Error).message}`);
  }
  const values = (parsed as LocalSettings).Values ?? {};
  for (const [k, v] of Object.entries(values)) {
    if (typeof v !== "string") throw new Error(`${file}: Values.${k} must be a string`);
  }
  return { Values: values, Host: (parsed as LocalSettings).Host };
}

/** Values of the settings file, overridden by the environment, applied to `env`. */
export function applyLocalSettings(appDir: string, env: NodeJS.ProcessEnv = process.env): Record<string, string> {
  const { Values } = readLocalSettings(appDir, env);
  for (const [k, v] of Object.entries(Values)) if (env[k] === undefined) env[k] = v;
  return Values;
}

export type HostJson = {
  extensions?: {
    http?: { routePrefix?: string };
    queues?: {
      batchSize?: number;
      newBatchThreshold?: number;
      maxPollingInterval?: string | number;
      visibilityTimeout?: string | number;
      maxDequeueCount?: number;
      messageEncoding?: "base64" | "none";
    };
    durableTask?: {
      hubName?: string;
      maxConcurrentActivityFunctions?: number;
      maxConcurrentOrchestratorFunctions?: number;
      [k: string]: unknown;
    };
  };
  logging?: { logLevel?: Record<string, unknown>; [k: string]: unknown };
  [k: string]: unknown;
};

export function readHostJson(appDir: string): HostJson {
  const file = path.join(appDir, "host.json");
  if (!fs.existsSync(file)) return {};
  return JSON.parse(fs.readFileSync(file, "utf8")) as HostJson;
}

/** "hh:mm:ss" or "d.hh:mm:ss" (TimeSpan) or milliseconds → milliseconds. */
export function timeSpanToMs(value: string | number | undefined, fallbackMs: number): number {
  if (value === undefined) return fallbackMs;
  if (typeof value === "number") return value;
  const m = /^(?:(\d+)\.)?(\d+):(\d+):(\d+(?:\.\d+)?)$/.exec(value.trim());
  if (!m) throw new Error(`invalid TimeSpan "${value}" (expected [d.]hh:mm:ss)`);
  const [, d, h, min, s] = m;
  return ((Number(d ?? 0) * 24 + Number(h)) * 60 + Number(min)) * 60_000 + Number(s) * 1000;
}

/** Replaces `%NAME%` with the app setting NAME, as the host does in binding expressions. */
export function resolveSettingExpression(value: string, env: NodeJS.ProcessEnv = process.env): string {
  return value.replace(/%([^%]+)%/g, (_m, name: string) => {
    const v = env[name];
    if (v === undefined) throw new Error(`app setting ${name} is not set (referenced as %${name}%)`);
    return v;
  });
}

/**
 * Environment overrides of host.json, as the real host reads them:
 * `AzureFunctionsJobHost__extensions__queues__batchSize=8` sets extensions.queues.batchSize.
 * Path segments match existing keys case-insensitively.
 */
export function applyHostJsonOverrides(hostJson: HostJson, env: NodeJS.ProcessEnv = process.env): HostJson {
  const prefix = "azurefunctionsjobhost__";
  for (const [key, raw] of Object.entries(env)) {
    if (raw === undefined || !key.toLowerCase().startsWith(prefix)) continue;
    const path = key.slice(prefix.length).split("__").filter(Boolean);
    if (path.length === 0) continue;
    let node = hostJson as Record<string, unknown>;
    for (let i = 0; i < path.length; i++) {
      const existing = Object.keys(node).find((k) => k.toLowerCase() === path[i]!.toLowerCase()) ?? path[i]!;
      if (i === path.length - 1) {
        node[existing] = /^-?\d+(\.\d+)?$/.test(raw) ? Number(raw) : raw === "true" ? true : raw === "false" ? false : raw;
      } else {
        const child = node[existing];
        node = (node[existing] = child && typeof child === "object" ? child : {}) as Record<string, unknown>;
      }
    }
  }
  return hostJson;
}
