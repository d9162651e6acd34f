// The Slurm peer of the jobs benchmark on its own (bench/README.md "Jobs"); bench/jobs/run.ts
// runs the same measurements beside ours. What is measured: bench/slurm/measure.ts.
// Usage: npx vite-node bench/slurm/run.ts [runs=3] [jobs=200]   (as root, with slurm-wlm and munge installed)
import { medianOf, slurmRun, type SlurmResult } from "./measure";
import { slurmMissing } from "./cluster";

async function main(): Promise<void> {
  const runs = Number(process.argv[2] ?? 3);
  const total = Number(process.argv[3] ?? 200);
  const why = slurmMissing();
  if (why) {
    console.log(`slurm bench skipped: ${why}`);
    return;
  }
  const results: SlurmResult[] = [];
  for (let i = 0; i < runs; i++) {
    const r = await slurmRun(total);
    console.log(`run ${i + 1}: ${JSON.stringify(r)}`);
    results.push(r);
  }
  console.log(`median of ${runs}: ${JSON.stringify(medianOf(results), null, 2)}`);
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
