// Benchmark: time from PUT /api/instances/{name} to Running, against the critical path of the
// emulator latencies (NSG 0.2 s → NIC 0.3 s → VM 2 s → creation run command 0.2 s), and 20
// instances created at once. The whole stack: in-memory Azurite, the cloud emulator (in this
// process) and the local host running the real app (dist/app.js) as a child process.
// Run: npx tsc -p tsconfig.json && node dist/bench/instances/run.js [runs=5]
import { spawn, type ChildProcess } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { startCloudEmulator, type CloudEmulator } from "../../local/cloud/emulator";
import { readLocalSettings } from "../../local/host/settings";
import { freePort, startAzurite, stopChild, type AzuriteProcess } from "../../local/shared/azurite";

const ROOT = path.resolve(__dirname, "..", "..", "..");
const LATENCY = { nsgPut: 200, nicPut: 300, vmCreate: 2000, runCommandStart: 200 };
const CRITICAL_PATH_MS = LATENCY.nsgPut + LATENCY.nicPut + LATENCY.vmCreate + LATENCY.runCommandStart;
const ADMIN = { authorization: "Bearer admin-token", "content-type": "application/json" };

type Stack = { baseUrl: string; cloud: CloudEmulator; stop(): Promise<void> };

async function startStack(): Promise<Stack> {
  const settingsFile = path.join(ROOT, "local.settings.example.json");
  const values = readLocalSettings(ROOT, { LOCAL_SETTINGS: settingsFile }).Values;
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "bench-instances-"));
  const azurite: AzuriteProcess = await startAzurite({ ports: { blob: await freePort(), queue: await freePort(), table: await freePort() } });
  const cloud = await startCloudEmulator({
    dataDir, port: 0, identity: { appClientId: values.AZURE_CLIENT_ID, workspaceStorageAccount: values.WORKSPACE_STORAGE_ACCOUNT }, subscriptionId: values.AZURE_SUBSCRIPTION_ID, resourceGroup: values.AZURE_RESOURCE_GROUP,
    allowedSubnetIds: values.ALLOWED_SUBNET_IDS!.split(","), latencyProfile: "none", config: { latencyMs: LATENCY },
  });
  const port = await freePort();
  const env = {
    ...process.env, ...values, LOCAL_SETTINGS: settingsFile, PORT: String(port), DATA_DIR: path.join(dataDir, "host"), APP_DIR: ROOT,
    AzureWebJobsStorage: azurite.connectionString, ARM_ENDPOINT: cloud.url, ARM_TLS_CA_FILE: cloud.caCertFile,
    IDENTITY_ENDPOINT: cloud.identity.endpoint, IDENTITY_HEADER: cloud.identity.header,
    WORKSPACE_FILES_ENDPOINT: `${cloud.url}/files/${values.WORKSPACE_STORAGE_ACCOUNT}`,
    // The emulator sends no Retry-After with latency profile "none"; Azure would.
    ARM_POLL_INTERVAL_MS: "50",
  };
  const host: ChildProcess = spawn(process.execPath, [path.join(ROOT, "dist", "local", "host", "main.js")], { cwd: ROOT, env, stdio: ["ignore", "pipe", "pipe"] });
  let out = "";
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`host did not start:\n${out}`)), 30_000);
    const onData = (c: Buffer) => {
      out += c.toString();
      if (out.includes("Host listening on")) {
        clearTimeout(timer);
        resolve();
      }
    };
    host.stdout!.on("data", onData);
    host.stderr!.on("data", onData);
    host.once("exit", () => reject(new Error(`host exited:\n${out}`)));
  });
  return {
    baseUrl: `http://127.0.0.1:${port}`,
    cloud,
    stop: async () => {
      await stopChild(host);
      await cloud.stop();
      await azurite.stop();
      fs.rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

async function createAndWait(s: Stack, name: string, user: string): Promise<number> {
  const t0 = performance.now();
  const res = await fetch(`${s.baseUrl}/api/instances/${name}`, { method: "PUT", headers: ADMIN, body: JSON.stringify({ vmSize: "Standard_D2s_v5", assignedUser: user }) });
  if (res.status !== 201) throw new Error(`PUT ${name}: ${res.status} ${await res.text()}`);
  for (;;) {
    const got = (await (await fetch(`${s.baseUrl}/api/instances/${name}`, { headers: ADMIN })).json()) as { state: string; lastOperation?: unknown };
    if (got.state === "Running") return performance.now() - t0;
    if (got.state.endsWith("Failed")) throw new Error(`${name} ended ${got.state}: ${JSON.stringify(got.lastOperation)}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const fmt = (ms: number) => `${(ms / 1000).toFixed(2)} s`;

async function main(): Promise<void> {
  const runs = Number(process.argv[2] ?? 5);
  const s = await startStack();
  try {
    await createAndWait(s, "warmup", "alice"); // JIT, tables, the size catalog cache
    const single: number[] = [];
    for (let i = 0; i < runs; i++) single.push(await createAndWait(s, `single-${i}`, "alice"));
    const m = median(single);
    const overhead = m - CRITICAL_PATH_MS;
    const budget = CRITICAL_PATH_MS * 0.1 + 300;
    console.log(`PUT → Running, median of ${runs}: ${fmt(m)} (runs: ${single.map(fmt).join(", ")})`);
    console.log(`critical path ${fmt(CRITICAL_PATH_MS)}; overhead ${Math.round(overhead)} ms (target ≤ ${Math.round(budget)} ms: ${overhead <= budget ? "met" : "MISSED"})`);

    const t0 = performance.now();
    const each = await Promise.all(Array.from({ length: 20 }, (_, i) => createAndWait(s, `burst-${i}`, i % 2 ? "alice" : "bob")));
    const all = performance.now() - t0;
    console.log(`20 at once: all Running after ${fmt(all)}; per instance median ${fmt(median(each))}, max ${fmt(Math.max(...each))}`);
  } finally {
    await s.stop();
  }
  console.log(`machine: ${os.cpus().length} × ${os.cpus()[0]?.model}, Node ${process.version}, load ${os.loadavg().map((x) => x.toFixed(1)).join(" ")}`);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
