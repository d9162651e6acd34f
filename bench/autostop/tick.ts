// Benchmark: one auto-stop tick (read the instances table in pages + evaluate schedules and
// idle for every instance) with 1,000 / 5,000 / 10,000 instances in Azurite.
// Run: npx tsc -p tsconfig.json && node dist/bench/autostop/tick.js [runs=5]
// Acting is a no-op recorder here: its cost is per due action (a status read + a durable
// start), not per instance, and a tick has few of them.
import os from "node:os";
import { connectionStringStorage } from "../../shared/azure/storageConnection";
import { createStorageClients, type StorageClients } from "../../shared/azure/clients";
import { instancePages } from "../../shared/autostop/source";
import { runAutoStopTick } from "../../shared/autostop/tick";
import { encodeRecord } from "../../shared/store/entityCodec";
import { INSTANCES_TABLE } from "../../shared/store/instances";
import { tableKey } from "../../shared/store/recordTable";
import { freePort, startAzurite } from "../../local/shared/azurite";

const WORKSPACE = "ws-bench";
const ZONES = ["Europe/Stockholm", "America/New_York", "Asia/Tokyo", "Europe/London", "Australia/Sydney"];
const SIZES = [1_000, 5_000, 10_000];
const KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBenchBenchBenchBenchBenchBenchBenchBenchBe bench@example";

/** A record shaped like the instances table row (all fields a real instance has, ~1.5 KB). */
function record(i: number, now: number): { name: string } & Record<string, unknown> {
  const kind = i % 100; // 1% idle past their timeout (due), the rest busy, counting down or stopped
  const state = kind < 60 ? "Running" : kind < 80 ? "Stopped" : kind < 99 ? "JobRunning" : "Running";
  const minutesAgo = kind === 99 ? 90 : kind % 50;
  const zone = ZONES[i % ZONES.length] as string;
  // Half have schedules; a third of those a per-instance minute, so the schedule cache sees
  // ~1,700 distinct cron+zone pairs at 10,000 instances rather than a handful.
  const minute = i % 3 === 0 ? i % 60 : 0;
  const schedules = i % 2 === 0
    ? [
        { action: "Stop" as const, cron: `${minute} 19 * * 1-5`, timeZone: zone, enabled: true },
        { action: "Start" as const, cron: `${minute} 7 * * 1-5`, timeZone: zone, enabled: true },
      ]
    : [];
  return {
    name: `inst-${i.toString().padStart(5, "0")}`,
    state,
    vmSize: i % 10 === 0 ? "Standard_NC4as_T4_v3" : "Standard_D4s_v5",
    family: i % 10 === 0 ? "standardNCASv3_T4Family" : "standardDSv5Family",
    vCpus: i % 10 === 0 ? 6 : 4,
    gpus: i % 10 === 0 ? 1 : 0,
    memoryGb: i % 10 === 0 ? 112 : 16,
    assignedUser: `user${i % 500}`,
    createdBy: `user${i % 500}`,
    createdAt: new Date(now - 86_400_000 * 7).toISOString(),
    updatedAt: new Date(now - 3_600_000).toISOString(),
    requestHash: "3f1c0d1b2a9e8f7d6c5b4a39281706f5e4d3c2b1a09f8e7d6c5b4a3928170615",
    description: "Benchmark instance with a description of ordinary length for a team workstation.",
    sshPublicAccess: "Enabled",
    sshPublicKey: KEY,
    subnetId: "/subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups/rg/providers/Microsoft.Network/virtualNetworks/vnet/subnets/compute",
    privateIp: `10.0.${(i >> 8) & 255}.${i & 255}`,
    enablePublicIp: false,
    idleShutdownMinutes: 60,
    lastActivityAt: new Date(now - minutesAgo * 60_000).toISOString(),
    schedules,
    setupScripts: { startup: { inline: "#!/bin/bash\nset -e\npip install --quiet -r /mnt/workspace/requirements.txt\n", timeoutMinutes: 15 } },
    jobsPerCore: 2,
    jobs: { queued: state === "JobRunning" ? 2 : 0, running: state === "JobRunning" ? 3 : 0, cap: 8 },
    lastOperation: { id: `op${i}`, name: "start", status: "Succeeded", startedAt: new Date(now - 3_600_000).toISOString() },
    tags: { team: "vision", cost: `cc-${i % 40}` },
  };
}

async function fill(storage: StorageClients, from: number, to: number, now: number): Promise<void> {
  const table = storage.table(INSTANCES_TABLE);
  await table.createTable();
  const pk = tableKey(WORKSPACE, "workspace");
  const batches: Promise<unknown>[] = [];
  for (let start = from; start < to; start += 100) {
    const actions = [];
    for (let i = start; i < Math.min(start + 100, to); i++) {
      const r = record(i, now);
      actions.push(["upsert", { partitionKey: pk, rowKey: tableKey(r.name, "name"), ...encodeRecord(r, "instance") }, "Replace"] as const);
    }
    batches.push(table.submitTransaction(actions.map((a) => [...a])));
    if (batches.length >= 4) await Promise.all(batches.splice(0));
  }
  await Promise.all(batches);
}

async function tickOnce(storage: StorageClients): Promise<{ ms: number; evaluated: number; actions: number }> {
  const now = new Date();
  const t0 = performance.now();
  const s = await runAutoStopTick(
    { listPage: instancePages(storage, WORKSPACE), act: async () => ({ outcome: "started" }), log: () => undefined },
    { now, lastTick: new Date(now.getTime() - 60_000) },
    { idleShutdownMinMinutes: 15 },
  );
  return { ms: performance.now() - t0, evaluated: s.evaluated, actions: s.started };
}

/** The table read alone (same pages, no evaluation), to show where a tick's time goes. */
async function readOnly(storage: StorageClients): Promise<number> {
  const listPage = instancePages(storage, WORKSPACE);
  const t0 = performance.now();
  let token: string | undefined;
  do token = (await listPage(token)).continuationToken;
  while (token);
  return performance.now() - t0;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number;

async function main(): Promise<void> {
  const runs = Number(process.argv[2] ?? 5);
  const azurite = await startAzurite({ ports: { blob: await freePort(), queue: await freePort(), table: await freePort() } });
  try {
    const storage = createStorageClients({
      subscriptionId: "00000000-0000-0000-0000-000000000001", resourceGroup: "rg", location: "westeurope",
      armEndpoint: "https://127.0.0.1:1", identity: { kind: "developer" }, filesAccount: "x", shareName: "x",
      storage: connectionStringStorage(azurite.connectionString), maxRetries: 2, pollIntervalMs: 100,
    });
    const now = Date.now();
    const rows: string[] = [];
    let filled = 0;
    for (const n of SIZES) {
      const f0 = performance.now();
      await fill(storage, filled, n, now);
      filled = n;
      const fillMs = performance.now() - f0;
      const first = await tickOnce(storage); // first tick over these records: schedule cache partly cold
      const times: number[] = [];
      let last = first;
      for (let r = 0; r < runs; r++) times.push((last = await tickOnce(storage)).ms);
      const reads: number[] = [];
      for (let r = 0; r < runs; r++) reads.push(await readOnly(storage));
      const m = median(times);
      rows.push(
        `| ${n.toLocaleString("en")} | ${m.toFixed(0)} ms (min ${Math.min(...times).toFixed(0)}, max ${Math.max(...times).toFixed(0)}) | ${median(reads).toFixed(0)} ms | ${first.ms.toFixed(0)} ms | ${(m / n * 1000).toFixed(0)} µs | ${last.actions} |`,
      );
      console.error(`${n}: filled in ${(fillMs / 1000).toFixed(1)} s; first tick ${first.ms.toFixed(0)} ms; ticks ${times.map((t) => t.toFixed(0)).join(", ")} ms; evaluated ${last.evaluated}`);
    }
    console.log(`Machine: ${os.cpus().length} × ${os.cpus()[0]?.model.trim()}, Node ${process.version}, load ${os.loadavg().map((l) => l.toFixed(1)).join(" ")}; median of ${runs} ticks`);
    console.log("| instances | tick (median) | of which table read | first tick | per instance | due actions |");
    console.log("| --- | --- | --- | --- | --- | --- |");
    for (const r of rows) console.log(r);
  } finally {
    await azurite.stop();
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
