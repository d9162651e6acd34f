// A burst of HTTP requests to a streamed function (app.setup({ enableHttpStream: true })) with
// synchronous work, shaped like the Functions Node.js worker's e2e concurrency test: 1,024 POSTs
// through a 128-socket keep-alive pool whose sockets give up after 8 s without a byte
// (agentkeepalive's default). As there, the client and each handler first delay: 95 % busy-wait
// 0–10 ms, the others wait 0–250 ms. Reports, per run, the total time, latency percentiles and
// the requests that timed out; prints the median of RUNS runs.
// Usage: npm run build && vite-node bench/host/httpBurst.ts [runs] [host main.js, default this build's]
import http from "node:http";
import os from "node:os";
import path from "node:path";
import { startTestAzurite } from "../../test/support/azurite";
import { HOST_MAIN, REPO_ROOT, startHost } from "../../test/support/host";

const RUNS = Number(process.argv[2] ?? 5);
const MAIN = path.resolve(process.argv[3] ?? HOST_MAIN);
const APP = path.join(REPO_ROOT, "test", "fixtures", "host-http-stream");
const REQUESTS = 1024;
const SOCKETS = 128;
const SOCKET_TIMEOUT_MS = 8000;

/** The suite's addRandomAsyncOrSyncDelay: 95 % a busy-wait of 0–10 ms, else a wait of 0–250 ms. */
const randomDelay = (): { sync: number } | { wait: number } =>
  Math.random() < 0.95 ? { sync: Math.floor(Math.random() * 11) } : { wait: Math.floor(Math.random() * 251) };

async function delay(d: { sync: number } | { wait: number }): Promise<void> {
  if ("wait" in d) return new Promise((resolve) => setTimeout(resolve, d.wait));
  const until = Date.now() + d.sync;
  while (Date.now() < until);
}

type Run = { totalMs: number; p50: number; p99: number; max: number; socketMax: number; timedOut: number; failed: number };

async function burst(baseUrl: string): Promise<Run> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: SOCKETS });
  const latencies: number[] = [];
  /** From the request getting its socket to the response's head: what the 8-s socket timeout measures. */
  let socketMax = 0;
  let timedOut = 0;
  let failed = 0;
  const one = async (i: number) => {
    await delay(randomDelay()); // the client's own (a sync one blocks it, as the suite's does)
    const handler = randomDelay();
    const query = "sync" in handler ? `ms=${handler.sync}` : `wait=${handler.wait}`;
    return new Promise<void>((resolve) => {
      const started = performance.now();
      let assigned = 0;
      const req = http.request(`${baseUrl}/api/busy?${query}`, { method: "POST", agent, timeout: SOCKET_TIMEOUT_MS }, (res) => {
        socketMax = Math.max(socketMax, performance.now() - assigned);
        let body = "";
        res.setEncoding("utf8");
        res.on("data", (c: string) => (body += c));
        res.on("end", () => {
          if (body === `echo=n${i}`) latencies.push(performance.now() - started);
          else failed++;
          resolve();
        });
        res.on("error", () => (failed++, resolve()));
      });
      req.once("socket", () => (assigned = performance.now()));
      let gaveUp = false;
      req.on("timeout", () => {
        gaveUp = true;
        timedOut++;
        req.destroy();
      });
      req.on("error", () => {
        if (!gaveUp) failed++;
        resolve();
      });
      req.end(`n${i}`);
    });
  };
  const t0 = performance.now();
  await Promise.all(Array.from({ length: REQUESTS }, (_, i) => one(i)));
  const totalMs = performance.now() - t0;
  agent.destroy();
  latencies.sort((a, b) => a - b);
  const at = (q: number) => latencies[Math.min(latencies.length - 1, Math.floor(latencies.length * q))] ?? NaN;
  return { totalMs, p50: at(0.5), p99: at(0.99), max: latencies.at(-1) ?? NaN, socketMax, timedOut, failed };
}

async function main(): Promise<void> {
  const azurite = await startTestAzurite();
  const runs: Run[] = [];
  for (let r = 0; r < RUNS; r++) {
    // A fresh host per run: every run starts with no connections open.
    const host = await startHost({ appDir: APP, main: MAIN, env: { AzureWebJobsStorage: azurite.connectionString } });
    runs.push(await burst(host.baseUrl));
    await host.stop();
    const x = runs.at(-1)!;
    console.error(`run ${r + 1}: ${x.totalMs.toFixed(0)} ms, p50 ${x.p50.toFixed(0)}, p99 ${x.p99.toFixed(0)}, max ${x.max.toFixed(0)}, socket wait max ${x.socketMax.toFixed(0)}, timed out ${x.timedOut}, failed ${x.failed}`);
  }
  await azurite.stop();
  const median = (f: (r: Run) => number) => [...runs.map(f)].sort((a, b) => a - b)[Math.floor(runs.length / 2)]!;
  console.log(`Machine: ${os.cpus().length} cores (${os.cpus()[0]?.model ?? "?"}), Node ${process.version}, load ${os.loadavg()[0]!.toFixed(1)}; host ${path.relative(process.cwd(), MAIN)}; median of ${RUNS} runs\n`);
  console.log("| total | latency p50 | p99 | max | longest socket wait | timed out (8 s) | runs with a time-out |");
  console.log("| --- | --- | --- | --- | --- | --- | --- |");
  console.log(`| ${median((r) => r.totalMs).toFixed(0)} ms | ${median((r) => r.p50).toFixed(0)} ms | ${median((r) => r.p99).toFixed(0)} ms | ${median((r) => r.max).toFixed(0)} ms | ${median((r) => r.socketMax).toFixed(0)} ms | ${median((r) => r.timedOut)} | ${runs.filter((r) => r.timedOut > 0).length} of ${runs.length} |`);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
