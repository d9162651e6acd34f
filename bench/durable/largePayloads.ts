// Large-payload round trip of the durable engine: start an orchestration whose activity
// returns N bytes, wait for it to complete, read the output back through the status API.
// The payload passes through an activity result, the history and the instance row, each
// stored as a gzip blob in the hub's largemessages container. Prints a markdown table
// (median of RUNS runs).
// Usage: npm run build && node dist/bench/durable/largePayloads.js [runs]
import os from "node:os";
import path from "node:path";
import { freePort, startAzurite } from "../../local/shared/azurite";
import { startInProcessHost } from "./harness";

const APP = path.resolve(__dirname, "../../../test/fixtures/durable-extras-app");
const RUNS = Number(process.argv[2] ?? 3);
const MB = 1024 * 1024;

async function main(): Promise<void> {
  const ports = { blob: await freePort(), queue: await freePort(), table: await freePort() };
  const azurite = await startAzurite({ ports });
  const h = await startInProcessHost({ appDir: APP, connectionString: azurite.connectionString, quiet: true });
  const sizes = [1 * MB, 10 * MB];
  const results = new Map<number, { ms: number[]; trips: number[] }>(sizes.map((s) => [s, { ms: [], trips: [] }]));
  for (let run = 0; run < RUNS; run++) {
    for (const bytes of sizes) {
      const rt0 = h.engine.store.roundTrips;
      const t0 = performance.now();
      const r = await fetch(`${h.baseUrl}/runtime/webhooks/durabletask/orchestrators/BigOutput`, { method: "POST", body: JSON.stringify({ bytes, seed: run + 1 }) });
      const { id } = (await r.json()) as { id: string };
      for (;;) {
        const s = await h.engine.getState(id);
        if (s && s.row.status !== "Running" && s.row.status !== "Pending") {
          if (s.row.status !== "Completed") throw new Error(`${id}: ${s.row.status} ${s.row.output?.slice(0, 300)}`);
          break;
        }
        await new Promise((res) => setTimeout(res, 2));
      }
      // Read back from storage, as a client after a restart would (not the engine's memory).
      const row = await h.engine.store.readInstance(id);
      if (JSON.parse(row!.output!).length !== bytes) throw new Error("output did not round-trip");
      results.get(bytes)!.ms.push(performance.now() - t0);
      results.get(bytes)!.trips.push(h.engine.store.roundTrips - rt0);
      await h.engine.whenIdle();
    }
  }
  await h.stop();
  await azurite.stop();
  const median = (v: number[]) => [...v].sort((a, b) => a - b)[Math.floor(v.length / 2)]!;
  const cpu = os.cpus()[0]?.model ?? "unknown CPU";
  console.log(`Machine: ${os.cpus().length} cores (${cpu}), Node ${process.version}, Azurite in memory; median of ${RUNS} runs\n`);
  console.log("| Output | Start → completed → read back | Storage requests |");
  console.log("|---|---|---|");
  for (const [bytes, r] of results) console.log(`| ${bytes / MB} MB | ${median(r.ms).toFixed(0)} ms | ${median(r.trips)} |`);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
