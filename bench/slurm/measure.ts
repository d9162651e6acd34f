// The jobs benchmark's peer: the same three measurements as bench/jobs/run.ts, made on a
// one-node Slurm cluster (bench/slurm/cluster.ts) with sbatch as the client.
//   1. submit→start, one job at a time (median of 20), and p50/p99 over 100 concurrent
//      submissions (`sleep 0.2` jobs); submit = just before sbatch is spawned, start = the time
//      the job's script wrote on its first line.
//   2. sustained jobs/s: `total` trivial jobs from 50 concurrent submitters, first submit → the
//      last job's own timestamp.
//   3. CPU per job during part 2, by role (cpuacct cgroups): slurmctld, slurmd with what it forks
//      (slurmstepd and the jobs), munged. sbatch itself is the client, like the bench's HTTP
//      driver on our side, and is not counted.
// Entry point: bench/slurm/run.ts.
import fs from "node:fs";
import path from "node:path";
import { startSlurm, type SlurmCluster } from "./cluster";

export type SlurmResult = {
  singleMs: number;
  p50Ms: number;
  p99Ms: number;
  jobsPerSecond: number;
  cpuPerJobMs?: { slurmctld: number; slurmd: number; munged: number; total: number };
};

const pct = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)]!;
};
const median = (xs: number[]) => pct(xs, 50);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The job's script: write the epoch in ms as its first act, then `rest`. */
function stamped(file: string, rest = ""): string {
  return `echo $(($(date +%s%N)/1000000)) > ${file}.tmp && mv ${file}.tmp ${file}${rest ? `; ${rest}` : ""}`;
}

async function stampOf(file: string, timeoutMs = 120_000): Promise<number> {
  const end = Date.now() + timeoutMs;
  while (Date.now() < end) {
    try {
      return Number(fs.readFileSync(file, "utf8").trim());
    } catch {
      await sleep(10);
    }
  }
  throw new Error(`slurm bench: ${file} never appeared (is the node down? see the cluster's logs)`);
}

async function single(c: SlurmCluster): Promise<number> {
  const lat: number[] = [];
  for (let i = 0; i < 20; i++) {
    const file = path.join(c.dir, "out", `single-${i}`);
    const at = Date.now();
    await c.sbatch(stamped(file));
    lat.push((await stampOf(file)) - at);
  }
  return median(lat);
}

async function burst(c: SlurmCluster): Promise<{ p50: number; p99: number }> {
  const lat = await Promise.all(
    Array.from({ length: 100 }, async (_, i) => {
      const file = path.join(c.dir, "out", `burst-${i}`);
      const at = Date.now();
      await c.sbatch(stamped(file, "sleep 0.2"));
      return (await stampOf(file)) - at;
    }),
  );
  return { p50: pct(lat, 50), p99: pct(lat, 99) };
}

async function throughput(c: SlurmCluster, total: number): Promise<{ jobsPerSecond: number; cpuPerJobMs?: SlurmResult["cpuPerJobMs"] }> {
  const before = c.cpuMs();
  const t0 = Date.now();
  const files: string[] = [];
  let next = 0;
  await Promise.all(
    Array.from({ length: 50 }, async () => {
      while (next < total) {
        const file = path.join(c.dir, "out", `t-${next++}`);
        files.push(file);
        await c.sbatch(stamped(file));
      }
    }),
  );
  const stamps = await Promise.all(files.map((f) => stampOf(f)));
  // Let the last jobs' epilogues finish before reading CPU, so their cost is counted.
  await sleep(1000);
  const after = c.cpuMs();
  const last = Math.max(...stamps);
  const out: { jobsPerSecond: number; cpuPerJobMs?: SlurmResult["cpuPerJobMs"] } = { jobsPerSecond: total / ((last - t0) / 1000) };
  if (before && after) {
    const per = (k: keyof typeof before) => (after[k] - before[k]) / total;
    out.cpuPerJobMs = { slurmctld: per("slurmctld"), slurmd: per("slurmd"), munged: per("munged"), total: per("slurmctld") + per("slurmd") + per("munged") };
  }
  return out;
}

/** One run on a fresh cluster. */
export async function slurmRun(total: number): Promise<SlurmResult> {
  const c = await startSlurm();
  try {
    const singleMs = await single(c);
    const { p50, p99 } = await burst(c);
    const t = await throughput(c, total);
    return { singleMs, p50Ms: p50, p99Ms: p99, ...t };
  } finally {
    await c.stop();
  }
}

/** Median of each figure over `runs` runs. */
export function medianOf(results: SlurmResult[]): SlurmResult {
  const m = (f: (r: SlurmResult) => number | undefined) => {
    const xs = results.map(f).filter((x): x is number => x !== undefined);
    return xs.length ? median(xs) : NaN;
  };
  const out: SlurmResult = { singleMs: m((r) => r.singleMs), p50Ms: m((r) => r.p50Ms), p99Ms: m((r) => r.p99Ms), jobsPerSecond: m((r) => r.jobsPerSecond) };
  if (results.every((r) => r.cpuPerJobMs)) {
    out.cpuPerJobMs = {
      slurmctld: m((r) => r.cpuPerJobMs?.slurmctld),
      slurmd: m((r) => r.cpuPerJobMs?.slurmd),
      munged: m((r) => r.cpuPerJobMs?.munged),
      total: m((r) => r.cpuPerJobMs?.total),
    };
  }
  return out;
}
