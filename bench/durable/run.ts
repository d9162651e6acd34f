// Durable engine benchmark: the fixture app in this process, the task hub in a fresh
// in-memory Azurite. Prints a markdown table (median of RUNS runs, ratio to the anchors of
// the Azure Storage provider's published per-instance figures).
// Usage: npm run build && node dist/bench/durable/run.js [runs]
import os from "node:os";
import path from "node:path";
import { freePort, startAzurite } from "../../local/shared/azurite";
import { startInProcessHost, type InProcessHost } from "./harness";

const APP = path.resolve(__dirname, "../../../test/fixtures/durable-app");
const RUNS = Number(process.argv[2] ?? 3);

type Row = { metric: string; unit: string; anchor?: number; values: number[] };

// The management API needs the master (or system) key; the in-process host reads it from here.
process.env.LOCAL_MASTER_KEY ||= "durable-bench-master-key";

async function post(base: string, p: string, body?: unknown): Promise<{ status: number; json: unknown }> {
  const r = await fetch(base + p, { method: "POST", body: body === undefined ? "" : JSON.stringify(body), headers: { "Content-Type": "application/json", "x-functions-key": process.env.LOCAL_MASTER_KEY! } });
  const text = await r.text();
  return { status: r.status, json: text ? JSON.parse(text) : undefined };
}

async function startOrch(base: string, name: string, input: unknown): Promise<string> {
  const r = await post(base, `/runtime/webhooks/durabletask/orchestrators/${name}`, input);
  if (r.status !== 202) throw new Error(`start ${name}: ${r.status} ${JSON.stringify(r.json)}`);
  return (r.json as { id: string }).id;
}

async function until(h: InProcessHost, id: string): Promise<void> {
  for (;;) {
    const s = await h.engine.getState(id);
    if (s && ["Completed", "Failed", "Terminated"].includes(s.row.status)) {
      if (s.row.status !== "Completed") throw new Error(`${id} ${s.row.status}: ${s.row.output}`);
      return;
    }
    await new Promise((r) => setTimeout(r, 2));
  }
}

async function pool<T>(items: T[], n: number, f: (t: T) => Promise<void>): Promise<void> {
  let i = 0;
  await Promise.all(Array.from({ length: n }, async () => {
    while (i < items.length) await f(items[i++]!);
  }));
}

async function main(): Promise<void> {
  const ports = { blob: await freePort(), queue: await freePort(), table: await freePort() };
  const azurite = await startAzurite({ ports });
  const h = await startInProcessHost({ appDir: APP, connectionString: azurite.connectionString, quiet: true });
  const base = h.baseUrl;
  const rows: Row[] = [
    { metric: "Sequential activities in one orchestration", unit: "activities/s", anchor: 5, values: [] },
    { metric: "Fan-out activities (one orchestration, 1000)", unit: "activities/s", anchor: 100, values: [] },
    { metric: "Fan-in responses (same, end to end)", unit: "responses/s", anchor: 150, values: [] },
    { metric: "External events processed by one orchestration", unit: "events/s", anchor: 50, values: [] },
    { metric: "Orchestrations started (HTTP, 16 clients)", unit: "starts/s", values: [] },
    { metric: "Storage round trips per sequential step", unit: "requests", values: [] },
    { metric: "Entity operations on one entity (HTTP signals, 32 clients)", unit: "operations/s", anchor: 64, values: [] },
    { metric: "Entity operations across 100 entities (same)", unit: "operations/s", values: [] },
  ];
  const SEQ = 200, FAN = 1000, EVENTS = 300, STARTS = 300, ENTITY_OPS = 1000;
  for (let run = 0; run < RUNS; run++) {
    // Sequential: one activity per episode.
    let rt0 = h.engine.store.roundTrips;
    let t0 = performance.now();
    let id = await startOrch(base, "Sequence", Array.from({ length: SEQ }, (_, i) => `c${i}`));
    await until(h, id);
    rows[0]!.values.push(SEQ / ((performance.now() - t0) / 1000));
    rows[5]!.values.push((h.engine.store.roundTrips - rt0) / SEQ);

    // Fan-out/fan-in.
    const a0 = h.engine.stats.activities;
    t0 = performance.now();
    let tOut = 0;
    id = await startOrch(base, "FanOut", FAN);
    const watch = setInterval(() => {
      if (!tOut && h.engine.stats.activities - a0 >= FAN) tOut = performance.now();
    }, 1);
    await until(h, id);
    clearInterval(watch);
    const tEnd = performance.now();
    rows[1]!.values.push(FAN / (((tOut || tEnd) - t0) / 1000));
    rows[2]!.values.push(FAN / ((tEnd - t0) / 1000));

    // External events, raised by 32 concurrent clients.
    id = await startOrch(base, "EventSink", EVENTS);
    t0 = performance.now();
    await pool(Array.from({ length: EVENTS }, (_, i) => i), 32, async (i) => {
      const r = await post(base, `/runtime/webhooks/durabletask/instances/${id}/raiseEvent/E`, i);
      if (r.status !== 202) throw new Error(`raiseEvent: ${r.status}`);
    });
    await until(h, id);
    rows[3]!.values.push(EVENTS / ((performance.now() - t0) / 1000));

    // Starts.
    const started: string[] = [];
    t0 = performance.now();
    await pool(Array.from({ length: STARTS }, (_, i) => i), 16, async () => {
      started.push(await startOrch(base, "Sequence", ["x"]));
    });
    rows[4]!.values.push(STARTS / ((performance.now() - t0) / 1000));
    for (const s of started) await until(h, s);
    await h.engine.whenIdle();

    // Entities: signals to one entity, then spread over 100, until the entity function has applied them all.
    for (const [row, keys] of [[6, 1], [7, 100]] as const) {
      const ops0 = h.engine.entities!.stats.operations;
      t0 = performance.now();
      await pool(Array.from({ length: ENTITY_OPS }, (_, i) => i), 32, async (i) => {
        const r = await post(base, `/runtime/webhooks/durabletask/entities/Tally/bench-${run}-${keys}-${i % keys}?op=add`, 1);
        if (r.status !== 202) throw new Error(`signal: ${r.status}`);
      });
      while (h.engine.entities!.stats.operations - ops0 < ENTITY_OPS) await new Promise((r) => setTimeout(r, 2));
      rows[row]!.values.push(ENTITY_OPS / ((performance.now() - t0) / 1000));
    }
  }
  await h.stop();
  await azurite.stop();

  const median = (v: number[]) => [...v].sort((a, b) => a - b)[Math.floor(v.length / 2)]!;
  const cpu = os.cpus()[0]?.model ?? "unknown CPU";
  console.log(`Machine: ${os.cpus().length} cores (${cpu}), Node ${process.version}, Azurite in memory; median of ${RUNS} runs\n`);
  console.log("| Metric | Result | Anchor | Ratio |");
  console.log("|---|---|---|---|");
  for (const r of rows) {
    const m = median(r.values);
    const shown = r.unit === "requests" ? m.toFixed(2) : m.toFixed(0);
    console.log(`| ${r.metric} | ${shown} ${r.unit} | ${r.anchor ? `${r.anchor} ${r.unit}` : "—"} | ${r.anchor ? `${(m / r.anchor).toFixed(1)}x` : "—"} |`);
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
