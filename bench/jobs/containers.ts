// Containerized vs plain jobs (bench/README.md "Jobs in containers"): submit→start of a trivial
// job in the emulator's Debian image (already on the VM: no pull) beside the same job as a plain
// process, on the local stack (test/support/stack.ts: in-memory Azurite, the emulator in this
// process with latency "none", the app in the local host). One job at a time, alternating plain
// and containerized. Two starts per job: the app's `startedAt` (the agent's started/running
// report) and the first instruction of the command (it writes `date +%s%N` to the share), both
// against the time just before the POST. Needs Podman and the job image (local/cloud/job-image.sh).
// Usage: npx tsc -p tsconfig.json && npx vite-node bench/jobs/containers.ts [runs=3] [pairs=10]
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { containerRuntimeAvailable } from "../../local/cloud/containers";
import { defaultRegistryDir } from "../../local/cloud/registry";
import { eventually, startStack, type Stack } from "../../test/support/stack";

type Job = { id: string; state: string; startedAt?: string };

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor((xs.length - 1) / 2)]!;

async function runJob(stack: Stack, environment: Record<string, unknown> | undefined): Promise<{ report: number; command: number }> {
  const body = { command: "mkdir -p bench-marks; date +%s%N > bench-marks/$JOB_ID", ...(environment ? { environment } : {}) };
  const at = Date.now();
  const r = await stack.api<Job>("POST", "/api/instances/bench-ct/jobs", { as: "alice", body });
  if (r.status !== 202) throw new Error(`submit: ${r.status} ${r.text}`);
  const job = await eventually(async () => (await stack.api<Job>("GET", `/api/jobs/${r.body.id}`, { as: "alice" })).body, (j) => j.state === "Completed" || j.state === "Failed", 60_000, 50);
  if (job.state !== "Completed") throw new Error(`job ${job.id} ${job.state}`);
  const mark = Number(fs.readFileSync(path.join(stack.shareDir()!, "Users", "alice", "bench-marks", job.id), "utf8")) / 1e6;
  return { report: Date.parse(job.startedAt!) - at, command: mark - at };
}

async function main(): Promise<void> {
  const runs = Number(process.argv[2] ?? 3);
  const pairs = Number(process.argv[3] ?? 10);
  if (!containerRuntimeAvailable() || !fs.existsSync(path.join(defaultRegistryDir(), "ci", "debian", "index.json"))) {
    console.log("skipped: needs podman, runc and the job image (bash local/cloud/job-image.sh)");
    return;
  }
  const results: { plain: { report: number; command: number }; container: { report: number; command: number } }[] = [];
  for (let run = 0; run < runs; run++) {
    const stack = await startStack();
    try {
      const r = await stack.api("PUT", "/api/instances/bench-ct", { as: "alice", body: { vmSize: "Standard_D2s_v5" } });
      if (r.status !== 201) throw new Error(`create: ${r.status} ${r.text}`);
      await eventually(async () => (await stack.api<{ state: string }>("GET", "/api/instances/bench-ct", { as: "alice" })).body.state, (s) => s === "Running", 120_000, 250);
      const environment = { image: `${stack.cloud.registry.host}/ci/debian:bookworm` };
      await runJob(stack, environment); // the VM pulls the image once; what follows is cached
      const plain: { report: number; command: number }[] = [];
      const container: { report: number; command: number }[] = [];
      for (let i = 0; i < pairs; i++) {
        plain.push(await runJob(stack, undefined));
        container.push(await runJob(stack, environment));
      }
      const m = (xs: { report: number; command: number }[]) => ({ report: median(xs.map((x) => x.report)), command: median(xs.map((x) => x.command)) });
      results.push({ plain: m(plain), container: m(container) });
      console.log(`run ${run + 1}: plain ${JSON.stringify(m(plain))} ms, container ${JSON.stringify(m(container))} ms, load ${os.loadavg()[0]!.toFixed(1)}`);
    } finally {
      await stack.stop();
    }
  }
  const med = (f: (r: (typeof results)[number]) => number) => median(results.map(f)).toFixed(0);
  console.log(`median of ${runs} runs (each the median of ${pairs} jobs), ms:`);
  console.log(`  plain:     submit→startedAt ${med((r) => r.plain.report)}, submit→command ${med((r) => r.plain.command)}`);
  console.log(`  container: submit→startedAt ${med((r) => r.container.report)}, submit→command ${med((r) => r.container.command)}`);
}

main().catch((err: Error) => {
  console.error(err.stack ?? err.message);
  process.exit(1);
});
