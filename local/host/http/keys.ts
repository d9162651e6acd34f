// Function and master keys for authLevel "function" / "admin", and the system key of the
// durable extension's webhooks (`durabletask_extension`, as Azure names it). Function and master
// keys come from the settings LOCAL_FUNCTION_KEY / LOCAL_MASTER_KEY, otherwise all are generated
// once and kept in DATA_DIR/host/keys.json (mode 0600) so they survive restarts. Never logged.
import { randomBytes, timingSafeEqual } from "node:crypto";
import fs from "node:fs";
import path from "node:path";

export type HostKeys = { functionKey: string; masterKey: string; systemKeys: { durabletask_extension: string }; file: string };

export function loadHostKeys(dataDir: string, env: NodeJS.ProcessEnv): HostKeys {
  const file = path.join(dataDir, "host", "keys.json");
  let stored: Partial<HostKeys> = {};
  if (fs.existsSync(file)) {
    try {
      stored = JSON.parse(fs.readFileSync(file, "utf8")) as Partial<HostKeys>;
    } catch {
      throw new Error(`${file} is not valid JSON: delete it to generate new keys`);
    }
  }
  const functionKey = stored.functionKey ?? newKey();
  const masterKey = stored.masterKey ?? newKey();
  const durableKey = stored.systemKeys?.durabletask_extension ?? newKey();
  if (stored.functionKey !== functionKey || stored.masterKey !== masterKey || stored.systemKeys?.durabletask_extension !== durableKey) {
    fs.mkdirSync(path.dirname(file), { recursive: true });
    fs.writeFileSync(file, JSON.stringify({ functionKey, masterKey, systemKeys: { durabletask_extension: durableKey } }, null, 2) + "\n", { mode: 0o600 });
  }
  return {
    functionKey: env.LOCAL_FUNCTION_KEY || functionKey,
    masterKey: env.LOCAL_MASTER_KEY || masterKey,
    systemKeys: { durabletask_extension: durableKey },
    file,
  };
}

const newKey = () => randomBytes(30).toString("base64url");

export type AuthLevel = "anonymous" | "function" | "admin";

export function normalizeAuthLevel(value: unknown): AuthLevel {
  const v = String(value ?? "anonymous").toLowerCase();
  if (v === "anonymous" || v === "function" || v === "admin") return v;
  // "user" and "system" are not supported by the Node model; treat them like the strictest.
  return "admin";
}

/** The key from `x-functions-key` or the `code` query parameter. */
export function isAuthorized(level: AuthLevel, keys: HostKeys, presented: string | undefined): boolean {
  if (level === "anonymous") return true;
  if (!presented) return false;
  if (safeEqual(presented, keys.masterKey)) return true;
  return level === "function" && safeEqual(presented, keys.functionKey);
}

/** Extension webhooks (authLevel system in Azure): that extension's system key or the master key. */
export function isSystemAuthorized(keys: HostKeys, extension: keyof HostKeys["systemKeys"], presented: string | undefined): boolean {
  return presented !== undefined && (safeEqual(presented, keys.systemKeys[extension]) || safeEqual(presented, keys.masterKey));
}

function safeEqual(a: string, b: string): boolean {
  const ba = Buffer.from(a);
  const bb = Buffer.from(b);
  return ba.length === bb.length && timingSafeEqual(ba, bb);
}
