// Where the CLI keeps its endpoint and how it authenticates: one small JSON file in the user's
// config directory (CIX_CONFIG_DIR, else $XDG_CONFIG_HOME/cix, else ~/.config/cix), readable by
// the user alone because it may hold a local token. Environment variables win over it, so
// scripts and CI need no file at all (CIX_ENDPOINT, CIX_TOKEN).
import fs from "node:fs";
import os from "node:os";
import path from "node:path";

export type Auth =
  /** A bearer token as is: locally, a token of LOCAL_PRINCIPALS. */
  | { kind: "token"; token: string }
  /** Entra ID: a token for the app's API scope from the Azure CLI's sign-in, else device code. */
  | { kind: "entra"; scope: string; tenantId?: string };

export type CliConfig = { endpoint?: string; auth?: Auth };

export function configDir(env: NodeJS.ProcessEnv = process.env): string {
  if (env.CIX_CONFIG_DIR) return env.CIX_CONFIG_DIR;
  const base = env.XDG_CONFIG_HOME || path.join(os.homedir(), ".config");
  return path.join(base, "cix");
}

export const configFile = (env: NodeJS.ProcessEnv = process.env) => path.join(configDir(env), "config.json");

export function loadConfig(env: NodeJS.ProcessEnv = process.env): CliConfig {
  let text: string;
  try {
    text = fs.readFileSync(configFile(env), "utf8");
  } catch {
    return {};
  }
  try {
    return JSON.parse(text) as CliConfig;
  } catch {
    throw new Error(`${configFile(env)} is not valid JSON; fix it or run 'cix logout' to start over.`);
  }
}

export function saveConfig(config: CliConfig, env: NodeJS.ProcessEnv = process.env): string {
  const file = configFile(env);
  fs.mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
  // Written to a new file and renamed, so a crash never leaves half a config; 0600 from the start.
  const tmp = `${file}.${process.pid}.tmp`;
  fs.writeFileSync(tmp, JSON.stringify(config, null, 2) + "\n", { mode: 0o600 });
  fs.renameSync(tmp, file);
  return file;
}
