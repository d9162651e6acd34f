// Durable HTTP (`callHttp`) through the real library and our engine: plain calls, the 202 +
// Location polling pattern on durable timers (Retry-After honoured, survives a kill -9 of the
// host), polling turned off, managed-identity token sources (from a token endpoint speaking
// the App Service managed identity protocol, started here), and failures.
import http from "node:http";
import type { AddressInfo } from "node:net";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startInProcessHost, type InProcessHost } from "../../bench/durable/harness";
import { startTestAzurite, type AzuriteProcess } from "../support/azurite";
import { startHost } from "../support/host";
import { start, status, waitFor } from "./support";

const APP = path.resolve(__dirname, "../fixtures/durable-extras-app");
const IDENTITY_SECRET = "identity-header-secret";

type Seen = { method: string; url: string; headers: http.IncomingHttpHeaders; body: string };

/** The remote API the orchestrations call, and the managed identity endpoint. */
function startRemote(): Promise<{ url: string; seen: Seen[]; polls: Map<string, number>; close(): Promise<void> }> {
  const seen: Seen[] = [];
  const polls = new Map<string, number>();
  const server = http.createServer((req, res) => {
    let body = "";
    req.on("data", (c: Buffer) => (body += c.toString("utf8")));
    req.on("end", () => {
      const url = new URL(req.url ?? "/", "http://x");
      if (url.pathname === "/msi/token") {
        // App Service managed identity protocol (api-version 2019-08-01).
        if (req.headers["x-identity-header"] !== IDENTITY_SECRET) return void res.writeHead(401).end();
        const resource = url.searchParams.get("resource") ?? "";
        res.writeHead(200, { "Content-Type": "application/json" });
        return void res.end(JSON.stringify({ access_token: `token-for:${resource}`, expires_on: String(Math.floor(Date.now() / 1000) + 3600), resource, token_type: "Bearer", client_id: "local" }));
      }
      seen.push({ method: req.method ?? "", url: req.url ?? "", headers: req.headers, body });
      if (url.pathname === "/echo") {
        res.writeHead(200, { "Content-Type": "application/json", "X-Custom": "yes" });
        return void res.end(JSON.stringify({ method: req.method, body, authorization: req.headers.authorization ?? null, custom: req.headers["x-custom"] ?? null }));
      }
      if (url.pathname === "/jobs" && req.method === "POST") {
        // Start of a long operation: poll /jobs/<key> (relative Location, as APIs often send).
        const key = url.searchParams.get("key") ?? "k";
        polls.set(key, 0);
        res.writeHead(202, { Location: `/jobs/${key}`, "Retry-After": url.searchParams.get("retryAfter") ?? "1" });
        return void res.end();
      }
      const job = /^\/jobs\/(.+)$/.exec(url.pathname);
      if (job && req.method === "GET") {
        const key = job[1]!;
        const n = (polls.get(key) ?? 0) + 1;
        polls.set(key, n);
        if (n < 2) {
          res.writeHead(202, { Location: `/jobs/${key}`, "Retry-After": "1" });
          return void res.end();
        }
        res.writeHead(200, { "Content-Type": "text/plain" });
        return void res.end(`done ${key} after ${n} polls; auth=${req.headers.authorization ?? "none"}; fk=${req.headers["x-functions-key"] ?? "none"}; custom=${req.headers["x-custom"] ?? "none"}`);
      }
      res.writeHead(404).end();
    });
  });
  return new Promise((resolve) =>
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as AddressInfo;
      resolve({ url: `http://127.0.0.1:${port}`, seen, polls, close: () => new Promise((r) => server.close(() => r())) });
    }),
  );
}

let azurite: AzuriteProcess;
let host: InProcessHost;
let remote: Awaited<ReturnType<typeof startRemote>>;
let base: string;

beforeAll(async () => {
  remote = await startRemote();
  process.env.IDENTITY_ENDPOINT = `${remote.url}/msi/token`;
  process.env.IDENTITY_HEADER = IDENTITY_SECRET;
  azurite = await startTestAzurite();
  host = await startInProcessHost({ appDir: APP, connectionString: azurite.connectionString, quiet: true });
  base = host.baseUrl;
}, 60_000);
afterAll(async () => {
  await host?.stop();
  await azurite?.stop();
  await remote?.close();
});

describe("callHttp", () => {
  it("sends the request as an internal activity and hands back status, headers and content", async () => {
    const id = await start(base, "HttpCall", { method: "POST", url: `${remote.url}/echo`, body: "hello", headers: { "X-Custom": "abc" } });
    const s = await waitFor(base, id);
    expect(s.runtimeStatus).toBe("Completed");
    const out = s.output as { statusCode: number; content: string; length: number };
    expect(out.statusCode).toBe(200);
    expect(JSON.parse(out.content)).toEqual({ method: "POST", body: "hello", authorization: null, custom: "abc" });
    expect(out.length).toBe(out.content.length);
    const h = await status(base, id, "?showHistory=true&showHistoryOutput=true");
    const done = h.historyEvents!.filter((e) => e.EventType === "TaskCompleted");
    expect(done.map((e) => e.FunctionName)).toEqual(["BuiltIn::HttpActivity", "Length"]);
    expect((done[0]!.Result as { headers: Record<string, string> }).headers["x-custom"]).toBe("yes");
  });

  it("polls a 202's Location on durable timers, honouring Retry-After, until the answer is final", async () => {
    const id = await start(base, "HttpCall", {
      method: "POST",
      url: `${remote.url}/jobs?key=poll1&retryAfter=2`,
      body: "{}",
      headers: { "X-Custom": "kept", "x-functions-key": "dropped" },
    });
    const s = await waitFor(base, id);
    expect(s.runtimeStatus).toBe("Completed");
    const out = s.output as { statusCode: number; content: string };
    expect(out.statusCode).toBe(200);
    // The GETs keep the request's headers but not x-functions-key (CreateLocationPollRequest).
    expect(out.content).toBe("done poll1 after 2 polls; auth=none; fk=none; custom=kept");
    const calls = remote.seen.filter((r) => r.url.startsWith("/jobs") && r.url.includes("poll1"));
    expect(calls.map((c) => c.method)).toEqual(["POST", "GET", "GET"]);
    // Timers fire Retry-After seconds after the 202 was applied: 2 s, then 1 s.
    const h = await status(base, id, "?showHistory=true&showHistoryOutput=true");
    const ev = h.historyEvents!;
    const completed = ev.filter((e) => e.EventType === "TaskCompleted" && e.FunctionName === "BuiltIn::HttpActivity");
    const fired = ev.filter((e) => e.EventType === "TimerFired");
    expect(completed.map((e) => (e.Result as { statusCode: number }).statusCode)).toEqual([202, 202, 200]);
    expect(fired).toHaveLength(2);
    expect(Date.parse(String(fired[0]!.FireAt)) - Date.parse(String(completed[0]!.Timestamp))).toBe(2000);
    expect(Date.parse(String(fired[1]!.FireAt)) - Date.parse(String(completed[1]!.Timestamp))).toBe(1000);
  }, 30_000);

  it("returns the 202 itself when polling is off", async () => {
    const id = await start(base, "HttpCall", { method: "POST", url: `${remote.url}/jobs?key=nopoll`, poll: false });
    const s = await waitFor(base, id);
    expect((s.output as { statusCode: number }).statusCode).toBe(202);
    expect(remote.polls.get("nopoll")).toBe(0);
  });

  it("adds a bearer token from the host's managed identity for a ManagedIdentityTokenSource", async () => {
    const resource = "https://management.core.windows.net/";
    const id = await start(base, "HttpCall", { method: "GET", url: `${remote.url}/echo`, resource });
    const s = await waitFor(base, id);
    expect(s.runtimeStatus).toBe("Completed");
    expect(JSON.parse((s.output as { content: string }).content).authorization).toBe(`Bearer token-for:${resource.replace(/\/$/, "")}`);
  });

  it("fails the call, catchably, when the request cannot be sent", async () => {
    const id = await start(base, "HttpCall", { method: "GET", url: "http://127.0.0.1:1/nothing-listens", catchErrors: true });
    const s = await waitFor(base, id);
    expect(s.runtimeStatus).toBe("Completed");
    expect((s.output as { error: string }).error).toMatch(/^Durable HTTP request failed: /);
  });
});

describe("callHttp across a crash", () => {
  it("keeps polling after kill -9 and restart: the poll timer is durable", async () => {
    const env = { AzureWebJobsStorage: azurite.connectionString, IDENTITY_ENDPOINT: `${remote.url}/msi/token`, IDENTITY_HEADER: IDENTITY_SECRET };
    let child = await startHost({ appDir: APP, env });
    try {
      const id = await start(child.baseUrl, "HttpCall", { method: "POST", url: `${remote.url}/jobs?key=crash&retryAfter=3`, body: "{}" });
      // The POST's 202 is in the stored history: the poll timer (3 s) is armed. Crash before it fires.
      const applied = (s: { historyEvents?: Record<string, unknown>[] }) => (s.historyEvents ?? []).some((e) => e.EventType === "TaskCompleted");
      await waitFor(child.baseUrl, id, applied, 30_000, "?showHistory=true");
      await child.kill9();
      expect(remote.polls.get("crash")).toBe(0);
      child = await startHost({ appDir: APP, env, dataDir: child.dataDir });
      const s = await waitFor(child.baseUrl, id, undefined, 60_000);
      expect(s.runtimeStatus).toBe("Completed");
      expect((s.output as { content: string }).content).toMatch(/^done crash after 2 polls/);
      // Logged as the extension logs it (the Durable e2e tests look for this line).
      expect(child.output()).toContain(`Polling HTTP status at location ${remote.url}/jobs/crash`);
      // Resumed from the timer, not by sending the POST again.
      expect(remote.seen.filter((r) => r.method === "POST" && r.url.startsWith("/jobs?key=crash"))).toHaveLength(1);
    } finally {
      await child.stop();
    }
  }, 120_000);
});
