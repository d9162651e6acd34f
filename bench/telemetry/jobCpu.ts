// The cost of tracing on the job path (bench/README.md "Telemetry"): CPU of the app's host
// process per job, with telemetry off and with traces and metrics exported over OTLP to a
// receiver in this process (which only counts what arrives). Same stack as bench/jobs (one
// process each: Azurite, emulator, host), one Standard_D4s_v5 (16 slots at jobsPerCore 4), N
// trivial jobs (`true`) from 10 concurrent submitters; CPU from /proc between the first submit
// and the last job's end. Runs alternate off/on so drift in the machine's load hits both.
// Usage: npx tsc -p tsconfig.json && npx vite-node bench/telemetry/jobCpu.ts [runs=3] [jobs=100]
// (BENCH_CPU_PROF=<dir> also writes the host's CPU profiles there; the profiler adds its own cost.)
import os from "node:os";
import path from "node:path";
import { startOtlpReceiver } from "../../test/support/otlp";
import { eventually, startProcessStack } from "../../test/support/stack";
import { cpuOf } from "../jobs/cpu";

type Job = { id: string; state: string };
const TERMINAL = new Set(["Completed", "Failed", "Canceled", "TimedOut"]);
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

async function run(traced: boolean, jobs: number): Promise<{ cpuPerJobMs: number; spans: number }> {
  const otlp = traced ? await startOtlpReceiver() : undefined;
  const stack = await startProcessStack({
    env: { ...(otlp ? { OTEL_EXPORTER_OTLP_ENDPOINT: otlp.url } : {}), AUTOSTOP_SCHEDULE: "0 0 0 1 1 *" },
    cloudEnv: { CLOUD_WRITE_THROTTLE: "off" },
    // BENCH_CPU_PROF=<dir>: a V8 CPU profile of the host per run (<dir>/off, <dir>/traced), to see where the time goes.
    ...(process.env.BENCH_CPU_PROF ? { hostNodeArgs: ["--cpu-prof", `--cpu-prof-dir=${path.join(process.env.BENCH_CPU_PROF, traced ? "traced" : "off")}`] } : {}),
  });
  try {
    const put = await stack.api("PUT", "/api/instances/bench-1", { as: "alice", body: { vmSize: "Standard_D4s_v5", jobsPerCore: 4 } });
    if (put.status !== 201) throw new Error(`create: ${put.status} ${put.text}`);
    await eventually(async () => (await stack.api<{ state: string }>("GET", "/api/instances/bench-1", { as: "alice" })).body.state, (s) => s === "Running", 120_000, 250);
    // One warm-up job: first-use costs (clients, tables, the agent's first report) are not per job.
    const warm = await stack.api<Job>("POST", "/api/instances/bench-1/jobs", { as: "alice", body: { command: "true" } });
    await eventually(async () => (await stack.api<Job>("GET", `/api/jobs/${warm.body.id}`, { as: "alice" })).body.state, (s) => TERMINAL.has(s), 60_000, 100);

    const pid = stack.host.child.pid!;
    const before = cpuOf(pid).self;
    const windowStart = process.hrtime.bigint() / 1000n;
    const ids: string[] = [];
    let next = 0;
    await Promise.all(Array.from({ length: 10 }, async () => {
      while (next < jobs) {
        next++;
        const r = await stack.api<Job>("POST", "/api/instances/bench-1/jobs", { as: "alice", body: { command: "true" } });
        if (r.status !== 202) throw new Error(`submit: ${r.status} ${r.text}`);
        ids.push(r.body.id);
      }
    }));
    const want = new Set(ids);
    await eventually(async () => (await stack.api<{ value: Job[] }>("GET", "/api/instances/bench-1/jobs?top=1000", { as: "alice" })).body.value, (js) => js.filter((j) => want.has(j.id) && TERMINAL.has(j.state)).length === jobs, 300_000, 1000);
    const cpu = cpuOf(pid).self - before;
    // The measured window on the profile's clock (both are CLOCK_MONOTONIC, in µs), to cut the profile to it.
    if (process.env.BENCH_CPU_PROF) console.log(`${traced ? "traced" : "off"} window µs ${windowStart} ${process.hrtime.bigint() / 1000n}`);
    return { cpuPerJobMs: cpu / jobs, spans: otlp?.spans.length ?? 0 };
  } finally {
    await stack.stop();
    await otlp?.stop();
  }
}

async function main(): Promise<void> {
  const runs = Number(process.argv[2] ?? 3);
  const jobs = Number(process.argv[3] ?? 100);
  const off: number[] = [];
  const on: number[] = [];
  for (let i = 0; i < runs; i++) {
    const a = await run(false, jobs);
    off.push(a.cpuPerJobMs);
    const b = await run(true, jobs);
    on.push(b.cpuPerJobMs);
    console.log(`run ${i + 1}: off ${a.cpuPerJobMs.toFixed(1)} ms/job, traced ${b.cpuPerJobMs.toFixed(1)} ms/job (${b.spans} spans), load ${os.loadavg()[0]!.toFixed(1)}`);
  }
  const mOff = median(off);
  const mOn = median(on);
  console.log(`host CPU per job, median of ${runs}: off ${mOff.toFixed(1)} ms, traced ${mOn.toFixed(1)} ms (${(((mOn - mOff) / mOff) * 100).toFixed(0)} %)`);
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
