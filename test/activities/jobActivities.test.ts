// The jobs activities against Azurite and the cloud emulator: the start is PUT once even when an
// attempt's result was lost, and a poll that finds the command completed records the job's end.
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { generateKeyPairSync } from "node:crypto";
import sshpk from "sshpk";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { connectionStringStorage } from "../../shared/azure/storageConnection";
import { createArmClients, createFilesClients, createStorageClients, type AzureClients } from "../../shared/azure/clients";
import { getVmStatus, startCreateOrUpdateVm } from "../../shared/azure/compute";
import { ensureNic, ensureNsg } from "../../shared/azure/network";
import { getRunCommand } from "../../shared/azure/runCommands";
import { armNames } from "../../shared/ids";
import { instanceRecords, type InstanceRecord } from "../../shared/instances/record";
import { jobRecords, type JobRecord } from "../../shared/jobs/record";
import { TokenBucket } from "../../shared/jobs/tokenBucket";
import { createJobActivities, type JobActivities } from "../../orchestrations/jobs/activities";
import type { OrchestrationPort } from "../../orchestrations/jobs/dispatcherClient";
import { startCloudEmulator, type CloudEmulator } from "../../local/cloud/emulator";
import { startTestAzurite, type AzuriteProcess } from "../support/azurite";
import { testAzureConfig, useEmulatorIdentity } from "./support";

const SUB = "00000000-0000-0000-0000-0000000000cd";
const RG = "rg-job-activities";
const SUBNET = `/subscriptions/${SUB}/resourceGroups/${RG}/providers/Microsoft.Network/virtualNetworks/vnet-a/subnets/compute`;
const INSTANCE = "jobs-a";

let emu: CloudEmulator;
let azurite: AzuriteProcess;
let dataDir: string;
let clients: AzureClients;
let activities: JobActivities;
/** What the activities told orchestrations (the port is the seam to durable-functions). */
const raised: { id: string; event: string; data: unknown }[] = [];

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

beforeAll(async () => {
  dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "job-activities-"));
  emu = await startCloudEmulator({ dataDir, port: 0, subscriptionId: SUB, resourceGroup: RG, location: "westeurope", allowedSubnetIds: [SUBNET], latencyProfile: "none", identity: { workspaceStorageAccount: "wsjobacts" } });
  azurite = await startTestAzurite();
  const config = testAzureConfig({
    subscriptionId: SUB, resourceGroup: RG, armEndpoint: emu.url, identity: useEmulatorIdentity(emu), armTlsCaFile: emu.caCertFile,
    filesAccount: "wsjobacts", filesEndpoint: `${emu.url}/files/wsjobacts`, pollIntervalMs: 20, storage: connectionStringStorage(azurite.connectionString),
  });
  clients = { config, arm: createArmClients(config), files: createFilesClients(config), storage: createStorageClients(config) };
  const port: OrchestrationPort = {
    status: async () => "active",
    start: async () => "started",
    raise: async (id, event, data) => {
      raised.push({ id, event, data });
      return "raised";
    },
  };
  activities = createJobActivities({ clients, workspace: "ws-test", jobsPerCoreDefault: 2, orchestrations: port, armWrites: new TokenBucket({ capacity: 100, refillPerSecond: 100 }) });

  const { publicKey } = generateKeyPairSync("ed25519");
  const key = sshpk.parseKey(publicKey.export({ type: "spki", format: "pem" }).toString(), "pem").toString("ssh");
  const nsg = await ensureNsg(clients.arm, { name: armNames.nsg(INSTANCE), rules: [] });
  const nic = await ensureNic(clients.arm, { name: armNames.nic(INSTANCE), subnetId: SUBNET, nsgId: nsg.id });
  await startCreateOrUpdateVm(clients.arm, { name: armNames.vm(INSTANCE), size: "Standard_D2s_v5", nicId: nic.id, adminUsername: "azureuser", sshPublicKeys: [key] });
  for (let i = 0; i < 200 && (await getVmStatus(clients.arm, armNames.vm(INSTANCE)))?.provisioningState !== "Succeeded"; i++) await sleep(50);
  const now = new Date().toISOString();
  const inst: InstanceRecord = {
    name: INSTANCE, state: "Running", vmSize: "Standard_D2s_v5", family: "standardDSv5Family", vCpus: 2, gpus: 0, memoryGb: 8,
    assignedUser: "alice", createdBy: "alice", createdAt: now, updatedAt: now, sshPublicAccess: "Disabled", subnetId: SUBNET,
    enablePublicIp: false, idleShutdownMinutes: null, schedules: [], jobsPerCore: 2, tags: {}, jobs: { queued: 0, running: 0, cap: 4 }, requestHash: "h",
  };
  await instanceRecords(clients.storage, "ws-test").create(inst);
});

afterAll(async () => {
  await emu?.stop();
  await azurite?.stop();
  if (dataDir) fs.rmSync(dataDir, { recursive: true, force: true });
});

async function queuedJob(id: string, command: string, variables?: Record<string, string>): Promise<void> {
  const job: JobRecord = {
    id, name: id, instance: INSTANCE, state: "Queued", command, gpus: 0, timeoutMinutes: 5,
    submittedBy: "alice", submittedAt: new Date().toISOString(), source: "http", ...(variables ? { variables } : {}),
  };
  await jobRecords(clients.storage).create(job);
}

const vm = armNames.vm(INSTANCE);
const runOf = (id: string) => getRunCommand(clients.arm, vm, armNames.jobRunCommand(id));
const recordOf = async (id: string) => (await jobRecords(clients.storage).getInInstance(INSTANCE, id))?.record;

async function untilEnded(id: string) {
  for (let i = 0; i < 200; i++) {
    const s = await runOf(id);
    if (s && s.state !== "Pending" && s.state !== "Running") return s;
    await sleep(25);
  }
  throw new Error(`run command of ${id} did not end`);
}

describe("jobsStartRunCommand", () => {
  it("puts the run command once: an attempt after a lost result finds it and does not run the script again", async () => {
    const marker = path.join(dataDir, "once1.runs");
    await queuedJob("once1", `echo ran >> ${marker}`);
    const first = await activities.startRun({ instance: INSTANCE, jobId: "once1", gpuIndices: [], at: new Date().toISOString() });
    expect(first).toMatchObject({ started: true, timeoutMinutes: 5 });
    expect((await recordOf("once1"))?.state).toBe("Starting");
    const ended = await untilEnded("once1");
    expect(ended.state).toBe("Succeeded");
    // The engine lost the first result (crash) and runs the activity again, a while later: a
    // second PUT would carry fresh SAS URLs (a changed body), which ARM runs again.
    await sleep(1100);
    const again = await activities.startRun({ instance: INSTANCE, jobId: "once1", gpuIndices: [], at: new Date().toISOString() });
    expect(again).toMatchObject({ started: true, status: { state: "Succeeded" } });
    const after = await untilEnded("once1");
    expect(after.startTime).toBe(ended.startTime); // the same run, not a second one
    expect(fs.readFileSync(marker, "utf8")).toBe("ran\n");
  });

  it("a record left Starting without a run command (crash before the PUT) is started", async () => {
    await queuedJob("half1", "true");
    const jobs = jobRecords(clients.storage);
    const cur = (await jobs.getInInstance(INSTANCE, "half1"))!;
    await jobs.update({ ...cur.record, state: "Starting" }, cur.etag);
    expect(await activities.startRun({ instance: INSTANCE, jobId: "half1", gpuIndices: [], at: new Date().toISOString() })).toMatchObject({ started: true });
    expect((await untilEnded("half1")).state).toBe("Succeeded");
  });
});

describe("jobsRunCommandStatus", () => {
  it("records the end of a completed command, deletes it and tells the dispatcher", async () => {
    await queuedJob("done1", "echo out");
    await activities.startRun({ instance: INSTANCE, jobId: "done1", gpuIndices: [], at: new Date().toISOString() });
    await untilEnded("done1");
    const at = new Date().toISOString();
    const status = await activities.runStatus({ instance: INSTANCE, jobId: "done1", at });
    expect(status).toMatchObject({ state: "Succeeded", exitCode: 0, finished: true });
    expect(await recordOf("done1")).toMatchObject({ state: "Completed", exitCode: 0 });
    expect((await recordOf("done1"))?.startedAt).toBeDefined();
    for (let i = 0; i < 100 && (await runOf("done1")); i++) await sleep(25);
    expect(await runOf("done1")).toBeUndefined();
    expect(raised.filter((r) => (r.data as { jobId?: string }).jobId === "done1")).toEqual([
      expect.objectContaining({ data: { type: "JobFinished", jobId: "done1", state: "Completed" } }),
    ]);
  });

  it("leaves a failed command to the orchestrator (a cancel may still win over it)", async () => {
    await queuedJob("fail1", "exit 4");
    await activities.startRun({ instance: INSTANCE, jobId: "fail1", gpuIndices: [], at: new Date().toISOString() });
    await untilEnded("fail1");
    const status = await activities.runStatus({ instance: INSTANCE, jobId: "fail1", at: new Date().toISOString() });
    expect(status).toMatchObject({ state: "Failed", exitCode: 4 });
    expect(status.finished).toBeUndefined();
    expect((await recordOf("fail1"))?.state).not.toBe("Failed");
  });
});

describe("secrets at rest", () => {
  it("job variables are stored only until the VM has the job; the log SAS lives for the timeout plus a margin, not a day", async () => {
    const secret = "s3cr3t-value-for-the-vm";
    await queuedJob("secret1", "echo $MY_TOKEN > secret1.out; sleep 1", { MY_TOKEN: secret });
    const rawEntity = async () => {
      const table = clients.storage.table("jobs");
      const rows: Record<string, unknown>[] = [];
      for await (const e of table.listEntities<Record<string, unknown>>({ queryOptions: { filter: `RowKey eq 'secret1'` } })) rows.push(e);
      return JSON.stringify(rows);
    };
    expect(await rawEntity()).toContain(secret); // a queued job still needs them for its start
    const before = Date.now();
    expect(await activities.startRun({ instance: INSTANCE, jobId: "secret1", gpuIndices: [], at: new Date().toISOString() })).toMatchObject({ started: true });
    const rc = await clients.arm.compute.virtualMachineRunCommands.getByVirtualMachine(RG, vm, armNames.jobRunCommand("secret1"));
    const expiry = Date.parse(new URL(rc.outputBlobUri!).searchParams.get("se")!);
    // timeoutMinutes 5: the SAS must outlive the job's timeout, and not by an hour or a day.
    expect(expiry - before).toBeGreaterThanOrEqual(5 * 60_000);
    expect(expiry - before).toBeLessThanOrEqual(20 * 60_000);
    for (let i = 0; i < 200 && (await runOf("secret1"))?.state === "Pending"; i++) await sleep(25);
    await activities.runStatus({ instance: INSTANCE, jobId: "secret1" }); // the first poll: Running
    await untilEnded("secret1");
    await activities.runStatus({ instance: INSTANCE, jobId: "secret1", at: new Date().toISOString() });
    expect((await recordOf("secret1"))?.state).toBe("Completed");
    expect(await rawEntity()).not.toContain(secret);
    expect((await recordOf("secret1"))?.variables).toBeUndefined();
  });
});
