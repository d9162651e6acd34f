// What every command needs: the API client for the configured endpoint and identity, the output
// format, and a way to end with an exit code. Options given on the command line win over the
// environment (CIX_ENDPOINT, CIX_TOKEN), which wins over the config file.
import type { Command } from "commander";
import { createApiClient, type ApiClient } from "../client/api";
import { tokenProvider } from "./auth";
import { loadConfig, type Auth } from "./config";
import { defaultFormat, FORMATS, type Format } from "./output";

export type GlobalOptions = { endpoint?: string; token?: string; output?: string };

export type Ctx = { api: ApiClient; endpoint: string; format: Format; err: (line: string) => void; out: (text: string) => void };

/** Ends the command with an exit code and, when given, a message on stderr. */
export class CliExit extends Error {
  constructor(readonly exitCode: number, message = "") {
    super(message);
  }
}

/** A usage mistake the API never sees (exit 2, like commander's own usage errors). */
export const usage = (message: string) => new CliExit(2, `error: ${message}`);

export function formatOf(cmd: Command): Format {
  const o = (cmd.optsWithGlobals() as GlobalOptions).output;
  if (o === undefined) return defaultFormat();
  if (!(FORMATS as readonly string[]).includes(o)) throw usage(`--output must be one of ${FORMATS.join(", ")}`);
  return o as Format;
}

export function context(cmd: Command): Ctx {
  const opts = cmd.optsWithGlobals() as GlobalOptions;
  const config = loadConfig();
  const endpoint = opts.endpoint ?? process.env.CIX_ENDPOINT ?? config.endpoint;
  if (!endpoint) throw usage("no endpoint: run 'cix login --endpoint <url> ...' or set CIX_ENDPOINT");
  const token = opts.token ?? process.env.CIX_TOKEN;
  const auth: Auth | undefined = token ? { kind: "token", token } : config.auth;
  const err = (line: string) => process.stderr.write(line + "\n");
  return {
    api: createApiClient({ baseUrl: endpoint, ...(auth ? { token: tokenProvider(auth, err) } : {}) }),
    endpoint,
    format: formatOf(cmd),
    err,
    out: (text) => process.stdout.write(text.endsWith("\n") ? text : text + "\n"),
  };
}
