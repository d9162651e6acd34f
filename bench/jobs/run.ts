// Jobs benchmark (bench/README.md "Jobs"): the whole stack (Azurite, cloud emulator with
// latency "none", the app in the local host) driven over HTTP like a client.
//   1. submit→start latency: one job at a time (median of 20), then 100 concurrent submissions to one instance with free slots
//      (Standard_NC24ads_A100_v4 × jobsPerCore 16 = cap 384); start = the agent's
//      "started" report (the job's startedAt); submit = just before the POST.
//   2. sustained jobs/s: trivial jobs (`true`) over 10 instances, first submit → last terminal.
//   3. queue step time: the pure dispatcher step at queue depth 10 vs 10,000, and one operation
//      of the job-queue entity carrying that state (state JSON in, step, JSON out).
//   4. where the CPU goes: per job, the host, Azurite, the emulator and the job processes (from
//      /proc during part 2), and the CPU of one storage round trip (client + Azurite).
// The stack is laid out like `npm start` (Azurite, emulator, host: one process each).
// Usage: npx tsc -p tsconfig.json && npx vite-node bench/jobs/run.ts [runs=3] [jobs=200]
import os from "node:os";
import { TableClient } from "@azure/data-tables";
import { initialState, step, type DispatcherState } from "../../shared/jobs/dispatcher";
import { eventually, startProcessStack, type ProcessStack as Stack } from "../../test/support/stack";
import { cpuMeter, type CpuSample } from "./cpu";

type Job = { id: string; state: string; startedAt?: string; endedAt?: string };

const pct = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)]!;
};
const median = (xs: number[]) => pct(xs, 50);

async function instance(stack: Stack, name: string, vmSize: string): Promise<void> {
  const r = await stack.api("PUT", `/api/instances/${name}`, { as: "alice", body: { vmSize, jobsPerCore: 16 } });
  if (r.status !== 201) throw new Error(`create ${name}: ${r.status} ${r.text}`);
  await eventually(async () => (await stack.api<{ state: string }>("GET", `/api/instances/${name}`, { as: "alice" })).body.state, (s) => s === "Running", 120_000, 250);
}

async function submit(stack: Stack, name: string, command: string): Promise<{ id: string; at: number }> {
  const at = Date.now();
  const r = await stack.api<Job>("POST", `/api/instances/${name}/jobs`, { as: "alice", body: { command } });
  if (r.status !== 202) throw new Error(`submit: ${r.status} ${r.text}`);
  return { id: r.body.id, at };
}

async function listAll(stack: Stack, name: string): Promise<Job[]> {
  const r = await stack.api<{ value: Job[] }>("GET", `/api/instances/${name}/jobs?top=1000`, { as: "alice" });
  return r.body.value;
}

async function latency(stack: Stack, name: string): Promise<{ p50: number; p99: number }> {
  const subs = await Promise.all(Array.from({ length: 100 }, () => submit(stack, name, "sleep 0.2")));
  const ids = new Set(subs.map((s) => s.id));
  // Times come from the records, so the poll can be slow (it only adds load to the burst measured).
  const jobs = await eventually(() => listAll(stack, name), (js) => js.filter((j) => ids.has(j.id) && j.state === "Completed").length === 100, 120_000, 1000);
  const started = new Map(jobs.map((j) => [j.id, Date.parse(j.startedAt ?? "")]));
  const lat = subs.map((s) => started.get(s.id)! - s.at);
  return { p50: pct(lat, 50), p99: pct(lat, 99) };
}

/** One job at a time on an idle stack: what a single user sees (median of 20). */
async function singleLatency(stack: Stack, name: string): Promise<number> {
  const lat: number[] = [];
  for (let i = 0; i < 20; i++) {
    const s = await submit(stack, name, "true");
    const job = await eventually(async () => (await stack.api<Job>("GET", `/api/jobs/${s.id}`, { as: "alice" })).body, (j) => !!j.startedAt, 30_000, 50);
    lat.push(Date.parse(job.startedAt!) - s.at);
  }
  return median(lat);
}

type Breakdown = { host: number; azurite: number; cloud: number; jobProcesses: number; driver: number };

async function throughput(stack: Stack, names: string[], total: number): Promise<{ jobsPerSecond: number; cpuPerJob: Breakdown }> {
  const meter = cpuMeter({ host: stack.host.child.pid!, azurite: stack.azurite.child.pid!, cloud: stack.cloudPid, driver: process.pid });
  const t0 = Date.now();
  const ids = new Set<string>();
  let next = 0;
  await Promise.all(
    Array.from({ length: 50 }, async () => {
      while (next < total) {
        const i = next++;
        ids.add((await submit(stack, names[i % names.length]!, "true")).id);
      }
    }),
  );
  // The end is the last job's endedAt (its record), not when a poll noticed it: the poll can be
  // slow and add little load of its own.
  const done = await eventually(
    async () => (await Promise.all(names.map((n) => listAll(stack, n)))).flat().filter((j) => ids.has(j.id) && ["Completed", "Failed", "Canceled", "TimedOut"].includes(j.state)),
    (js) => js.length === total,
    300_000,
    1000,
  );
  const last = Math.max(...done.map((j) => Date.parse(j.endedAt ?? "")));
  const cpu = meter();
  const per = (c: CpuSample | undefined, k: keyof CpuSample = "self") => (c?.[k] ?? 0) / total;
  return {
    jobsPerSecond: total / ((last - t0) / 1000),
    cpuPerJob: { host: per(cpu.host), azurite: per(cpu.azurite), cloud: per(cpu.cloud), jobProcesses: per(cpu.cloud, "children"), driver: per(cpu.driver) },
  };
}

/** CPU (client + Azurite) of one table read, 16 in flight: the unit every durable step pays. */
async function storageCallMs(stack: Stack): Promise<number> {
  const table = TableClient.fromConnectionString(stack.settings.AzureWebJobsStorage!, "benchcalls", { allowInsecureConnection: true });
  await table.createTable();
  await table.upsertEntity({ partitionKey: "p", rowKey: "r", Data: "x".repeat(500) });
  const n = 2000;
  const meter = cpuMeter({ azurite: stack.azurite.child.pid!, driver: process.pid });
  let i = 0;
  await Promise.all(Array.from({ length: 16 }, async () => {
    while (i++ < n) await table.getEntity("p", "r");
  }));
  const cpu = meter();
  return (cpu.azurite!.self + cpu.driver!.self) / n;
}

/** A running dispatcher with `depth` jobs queued behind a full cap. */
function loaded(depth: number): DispatcherState {
  const s = initialState({ vCpus: 2, jobsPerCore: 2, gpus: 0 }, true);
  for (let i = 0; i < 4 + depth; i++) step(s, { type: "JobSubmitted", jobId: `j${i}`, gpus: 0 });
  return s;
}

function pureStepMicros(depth: number): number {
  const s = loaded(depth);
  let head = 0;
  let tail = 4 + depth;
  const n = 20_000;
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < n; i++) {
    step(s, { type: "JobFinished", jobId: `j${head++}` }); // starts the queue head
    step(s, { type: "JobSubmitted", jobId: `j${tail++}`, gpus: 0 }); // keeps the depth
  }
  return Number(process.hrtime.bigint() - t0) / 1000 / (2 * n);
}

/**
 * One operation of the job-queue entity carrying that state, as the durable runtime runs it:
 * the state read back from its JSON, the step, the state written as JSON again.
 */
function entityOpMillis(depth: number): number {
  let json = JSON.stringify({ s: loaded(depth) });
  const times: number[] = [];
  for (let i = 0; i < 200; i++) {
    const t0 = performance.now();
    const state = JSON.parse(json) as { s: DispatcherState };
    step(state.s, { type: "JobFinished", jobId: `j${i}` });
    step(state.s, { type: "JobSubmitted", jobId: `k${i}`, gpus: 0 });
    json = JSON.stringify(state);
    times.push(performance.now() - t0);
  }
  return median(times.slice(20)); // the first ones warm up
}

async function main(): Promise<void> {
  const runs = Number(process.argv[2] ?? 3);
  const total = Number(process.argv[3] ?? 200);
  const res = { single: [] as number[], p50: [] as number[], p99: [] as number[], jps: [] as number[], s10: [] as number[], s10k: [] as number[], e10: [] as number[], e10k: [] as number[], call: [] as number[] };
  const cpus: Breakdown[] = [];
  for (let run = 0; run < runs; run++) {
    res.s10.push(pureStepMicros(10));
    res.s10k.push(pureStepMicros(10_000));
    res.e10.push(entityOpMillis(10));
    res.e10k.push(entityOpMillis(10_000));
    // The emulator's write throttle off and the app's ARM budget raised: the numbers are ours, not the throttle's.
    const stack = await startProcessStack({ cloudEnv: { CLOUD_WRITE_THROTTLE: "off" } });
    try {
      await instance(stack, `lat-${run}`, "Standard_NC24ads_A100_v4");
      res.single.push(await singleLatency(stack, `lat-${run}`));
      const l = await latency(stack, `lat-${run}`);
      res.p50.push(l.p50);
      res.p99.push(l.p99);
      const names = Array.from({ length: 10 }, (_, i) => `tp-${run}-${i}`);
      await Promise.all(names.map((n) => instance(stack, n, "Standard_D2s_v5")));
      const t = await throughput(stack, names, total);
      res.jps.push(t.jobsPerSecond);
      cpus.push(t.cpuPerJob);
      res.call.push(await storageCallMs(stack));
    } finally {
      await stack.stop();
    }
    const c = cpus.at(-1)!;
    console.log(
      `run ${run + 1}: single ${res.single.at(-1)} ms, p50 ${res.p50.at(-1)} ms, p99 ${res.p99.at(-1)} ms, ${res.jps.at(-1)!.toFixed(1)} jobs/s, step ${res.s10.at(-1)!.toFixed(2)}/${res.s10k.at(-1)!.toFixed(2)} µs, ` +
        `entity op ${res.e10.at(-1)!.toFixed(2)}/${res.e10k.at(-1)!.toFixed(2)} ms, CPU ms/job host ${c.host.toFixed(1)} azurite ${c.azurite.toFixed(1)} ` +
        `emulator ${c.cloud.toFixed(1)} job processes ${c.jobProcesses.toFixed(1)} driver ${c.driver.toFixed(1)}, storage call ${res.call.at(-1)!.toFixed(2)} ms`,
    );
  }
  console.log(`machine: ${os.cpus().length} × ${os.cpus()[0]?.model}, Node ${process.version}, load ${os.loadavg().map((l) => l.toFixed(1)).join(" ")}`);
  const cpu = (k: keyof Breakdown) => +median(cpus.map((c) => c[k])).toFixed(1);
  console.log(
    JSON.stringify({
      singleMs: median(res.single), p50ms: median(res.p50), p99ms: median(res.p99), jobsPerSecond: +median(res.jps).toFixed(1),
      stepMicros10: +median(res.s10).toFixed(2), stepMicros10k: +median(res.s10k).toFixed(2),
      entityOpMs10: +median(res.e10).toFixed(2), entityOpMs10k: +median(res.e10k).toFixed(2),
      cpuMsPerJob: { host: cpu("host"), azurite: cpu("azurite"), emulator: cpu("cloud"), jobProcesses: cpu("jobProcesses"), driver: cpu("driver") },
      storageCallCpuMs: +median(res.call).toFixed(2),
    }),
  );
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
