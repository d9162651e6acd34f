// Shared helpers for the durable tests: talk to the host's management API like a client.
import path from "node:path";
import { afterAll, beforeAll } from "vitest";
import { startInProcessHost, type InProcessHost } from "../../bench/durable/harness";
import { startTestAzurite, type AzuriteProcess } from "../support/azurite";
import type { HostJson } from "../../local/host/settings";

export const FIXTURE_APP = path.resolve(__dirname, "../fixtures/durable-app");

// The management API needs the system key or the master key; hosts started by these tests
// (in process or as a child, both read process.env) use this master key.
process.env.LOCAL_MASTER_KEY ||= "durable-tests-master-key";
export const MASTER_KEY = process.env.LOCAL_MASTER_KEY;

export type Status = {
  name: string;
  instanceId: string;
  runtimeStatus: string;
  input: unknown;
  output: unknown;
  customStatus: unknown;
  createdTime: string;
  lastUpdatedTime: string;
  historyEvents?: Record<string, unknown>[];
};

/** `body` is sent as JSON; pass `raw` to send text as is. */
export async function http(baseUrl: string, method: string, p: string, body?: unknown, raw = false): Promise<{ status: number; json: unknown; headers: Headers }> {
  const res = await fetch(`${baseUrl}${p}`, {
    method,
    headers: { "x-functions-key": MASTER_KEY, ...(body === undefined ? {} : { "Content-Type": "application/json" }) },
    body: body === undefined ? undefined : raw ? String(body) : JSON.stringify(body),
  });
  const text = await res.text();
  let json: unknown = undefined;
  try {
    json = text ? JSON.parse(text) : undefined;
  } catch {
    json = text;
  }
  return { status: res.status, json, headers: res.headers };
}

export async function start(baseUrl: string, name: string, input?: unknown, id?: string): Promise<string> {
  const r = await http(baseUrl, "POST", `/runtime/webhooks/durabletask/orchestrators/${name}${id ? `/${encodeURIComponent(id)}` : ""}`, input === undefined ? "" : JSON.stringify(input), true);
  if (r.status !== 202) throw new Error(`start ${name}: HTTP ${r.status} ${JSON.stringify(r.json)}`);
  return (r.json as { id: string }).id;
}

export async function status(baseUrl: string, id: string, q = ""): Promise<Status> {
  const r = await http(baseUrl, "GET", `/runtime/webhooks/durabletask/instances/${encodeURIComponent(id)}${q}`);
  if (r.status === 404) throw new Error(`instance ${id} not found`);
  return r.json as Status;
}

const TERMINAL = new Set(["Completed", "Failed", "Terminated"]);

export async function waitFor(baseUrl: string, id: string, accept: (s: Status) => boolean = (s) => TERMINAL.has(s.runtimeStatus), timeoutMs = 30_000, q = ""): Promise<Status> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const s = await status(baseUrl, id, q);
    if (accept(s)) return s;
    if (Date.now() > deadline) throw new Error(`instance ${id} still ${s.runtimeStatus}: ${JSON.stringify(s)}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

/**
 * Azurite and the fixture app in an in-process host for the calling test file: started before
 * its tests, stopped after them. Read `base` and `host` inside tests (they exist from beforeAll on).
 */
export function useFixtureHost(hostJson?: (h: HostJson) => HostJson): { readonly base: string; readonly host: InProcessHost } {
  let azurite: AzuriteProcess | undefined;
  let host: InProcessHost | undefined;
  beforeAll(async () => {
    azurite = await startTestAzurite();
    host = await startInProcessHost({ appDir: FIXTURE_APP, connectionString: azurite.connectionString, quiet: true, ...(hostJson ? { hostJson } : {}) });
  });
  afterAll(async () => {
    await host?.stop();
    await azurite?.stop();
  });
  const started = () => {
    if (!host) throw new Error("the fixture host starts in beforeAll");
    return host;
  };
  return {
    get base() {
      return started().baseUrl;
    },
    get host() {
      return started();
    },
  };
}
