// Test helper: run the local host (dist/local/host/main.js) as a child process for an app
// folder, on a free port, and wait until it prints its ready line. Build first (npm test does).
import { spawn, type ChildProcess } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { freePort, stopChild } from "../../local/shared/azurite";

export const REPO_ROOT = path.resolve(__dirname, "../..");
export const HOST_MAIN = path.join(REPO_ROOT, "dist", "local", "host", "main.js");

export type HostOptions = {
  /** The app folder (package.json "main" + host.json); default: the repository itself. */
  appDir?: string;
  /** Extra environment (e.g. AzureWebJobsStorage); merged over process.env. */
  env?: Record<string, string | undefined>;
  /** Default: a new temporary folder. Pass the same one to keep keys/state across restarts. */
  dataDir?: string;
  /** Default: a free port. */
  port?: number;
  readyTimeoutMs?: number;
  /** Node options for the host process (e.g. --cpu-prof, which NODE_OPTIONS does not take). */
  nodeArgs?: string[];
  /** The host's main.js; default HOST_MAIN (benchmarks compare another build with it). */
  main?: string;
};

export type TestHost = {
  baseUrl: string;
  port: number;
  dataDir: string;
  child: ChildProcess;
  /** Everything the host wrote to stdout and stderr so far. */
  output(): string;
  /** Resolves once `text` appears in the output (or rejects after timeoutMs). */
  waitForOutput(text: string | RegExp, timeoutMs?: number): Promise<void>;
  /** SIGTERM, then SIGKILL after a grace period. */
  stop(): Promise<void>;
  /** Simulates a crash. */
  kill9(): Promise<void>;
};

export async function startHost(opts: HostOptions = {}): Promise<TestHost> {
  const main = opts.main ?? HOST_MAIN;
  if (!fs.existsSync(main)) throw new Error(`${main} is missing: run "npm run build" first`);
  const appDir = opts.appDir ?? REPO_ROOT;
  const port = opts.port ?? (await freePort());
  const dataDir = opts.dataDir ?? fs.mkdtempSync(path.join(os.tmpdir(), "host-data-"));
  const child = spawn(process.execPath, [...(opts.nodeArgs ?? []), main], {
    cwd: appDir,
    env: { ...process.env, ...opts.env, PORT: String(port), APP_DIR: appDir, DATA_DIR: dataDir },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let out = "";
  const waiters = new Set<() => void>();
  const onData = (chunk: Buffer) => {
    out += chunk.toString("utf8");
    for (const w of [...waiters]) w();
  };
  child.stdout!.on("data", onData);
  child.stderr!.on("data", onData);

  const waitForOutput = (text: string | RegExp, timeoutMs = 30_000) =>
    new Promise<void>((resolve, reject) => {
      const seen = () => (typeof text === "string" ? out.includes(text) : text.test(out));
      const check = () => {
        if (seen()) return done(resolve);
        if (child.exitCode !== null || child.signalCode !== null) {
          return done(() => reject(new Error(`host exited (${child.exitCode ?? child.signalCode}) before printing ${text}:\n${out}`)));
        }
      };
      const timer = setTimeout(() => done(() => reject(new Error(`timed out waiting for ${text} from the host:\n${out}`))), timeoutMs);
      const onExit = () => setImmediate(check);
      function done(fn: () => void) {
        clearTimeout(timer);
        waiters.delete(check);
        child.off("exit", onExit);
        fn();
      }
      waiters.add(check);
      child.on("exit", onExit);
      check();
    });

  const host: TestHost = {
    baseUrl: `http://127.0.0.1:${port}`,
    port,
    dataDir,
    child,
    output: () => out,
    waitForOutput,
    stop: () => stopChild(child),
    kill9: () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null || child.signalCode !== null) return resolve();
        child.once("exit", () => resolve());
        child.kill("SIGKILL");
      }),
  };
  try {
    await waitForOutput("Host listening on", opts.readyTimeoutMs ?? 30_000);
  } catch (err) {
    await host.kill9();
    throw err;
  }
  return host;
}

// Polls `read` until `done` holds (or fails after timeoutMs), for asynchronous effects.
export async function eventually<T>(read: () => Promise<T>, done: (value: T) => boolean, timeoutMs = 30_000, everyMs = 200): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: T | undefined;
  let lastError: unknown;
  for (;;) {
    try {
      last = await read();
      if (done(last)) return last;
    } catch (err) {
      lastError = err;
    }
    if (Date.now() > deadline) {
      throw new Error(`condition not met within ${timeoutMs} ms; last value: ${JSON.stringify(last)}${lastError ? `; last error: ${String(lastError)}` : ""}`);
    }
    await new Promise((r) => setTimeout(r, everyMs));
  }
}
