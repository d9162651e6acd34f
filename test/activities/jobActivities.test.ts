// The jobs activities against Azurite: a job is claimed once and handed to the instance's agent
// queue (again after a lost result: the agent runs a job id once), cancels go the same way, and
// the end is recorded once.
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
import { armNames } from "../../shared/ids";
import { instanceRecords, type InstanceRecord } from "../../shared/instances/record";
import { jobRecords, type JobRecord } from "../../shared/jobs/record";
import { agentQueueName, agentSettings } from "../../shared/jobs/agent";
import { createSpillStore } from "../../shared/jobs/spillStore";
import { createJobActivities, type JobActivities } from "../../orchestrations/jobs/activities";
import type { OrchestrationPort } from "../../orchestrations/jobs/durablePort";
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
  activities = createJobActivities({ clients, workspace: "ws-test", jobsPerCoreDefault: 2, orchestrations: port,
    agent: agentSettings({ JOBS_AGENT_APP_URL: "http://127.0.0.1:1", JOBS_AGENT_APP_AUDIENCE: "api://test" }, { queueEndpoint: "http://127.0.0.1:1/acct", accountName: "acct", subscriptionId: SUB, resourceGroup: RG }),
  });

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

const recordOf = async (id: string) => (await jobRecords(clients.storage).getInInstance(INSTANCE, id))?.record;

const queue = () => clients.storage.queues.getQueueClient(agentQueueName(INSTANCE));
async function messages(): Promise<unknown[]> {
  const got = await queue().receiveMessages({ numberOfMessages: 32, visibilityTimeout: 1 });
  return got.receivedMessageItems.map((m) => JSON.parse(m.messageText) as unknown);
}

describe("jobsHandToAgent", () => {
  it("claims the job once (Starting, when) and puts a run message on the instance's own queue", async () => {
    await queuedJob("once1", "true");
    const at = new Date().toISOString();
    const first = await activities.startJob({ instance: INSTANCE, jobId: "once1", gpuIndices: [0], at });
    expect(first).toMatchObject({ started: true, timeoutMinutes: 5 });
    expect(await recordOf("once1")).toMatchObject({ state: "Starting", claimedAt: at, gpuIndices: [0] });
    expect(await messages()).toEqual([{ type: "run", jobId: "once1" }]);
    // The engine lost the result and runs the activity again: the message goes again (the agent
    // runs a job id once), the claim does not change.
    await sleep(1100);
    const again = await activities.startJob({ instance: INSTANCE, jobId: "once1", gpuIndices: [0], at: new Date().toISOString() });
    expect(again).toMatchObject({ started: true });
    expect((await recordOf("once1"))?.claimedAt).toBe(at);
    expect((await messages()).filter((m) => (m as { jobId: string }).jobId === "once1").length).toBeGreaterThanOrEqual(1);
  });

  it("a job whose cancel was requested while queued is not handed over", async () => {
    await queuedJob("cxl1", "true");
    const jobs = jobRecords(clients.storage);
    const cur = (await jobs.getInInstance(INSTANCE, "cxl1"))!;
    await jobs.update({ ...cur.record, cancelRequestedAt: new Date().toISOString() }, cur.etag);
    await queue().clearMessages();
    expect(await activities.startJob({ instance: INSTANCE, jobId: "cxl1", gpuIndices: [], at: new Date().toISOString() })).toEqual({ started: false });
    expect((await recordOf("cxl1"))?.state).toBe("Queued");
    expect(await messages()).toEqual([]);
  });

  it("cancelOnAgent puts a cancel message with the reason; checkAgent reads what the backstop needs", async () => {
    await queue().clearMessages();
    await activities.cancelOnAgent({ instance: INSTANCE, jobId: "once1", reason: "canceled by request" });
    expect(await messages()).toEqual([{ type: "cancel", jobId: "once1", reason: "canceled by request" }]);
    expect(await activities.checkAgent({ instance: INSTANCE, jobId: "once1" })).toMatchObject({ state: "Starting", claimedAt: expect.any(String) });
    expect(await activities.checkAgent({ instance: INSTANCE, jobId: "nope" })).toEqual({ state: "Missing" });
  });
});

describe("jobsFinish", () => {
  it("records the end once (a later finish leaves a terminal record as it is)", async () => {
    await queuedJob("done1", "echo out");
    const at = new Date().toISOString();
    await activities.finish({ instance: INSTANCE, jobId: "done1", outcome: { state: "Completed", exitCode: 0, startTime: at, endTime: at }, at });
    await activities.finish({ instance: INSTANCE, jobId: "done1", outcome: { state: "Failed", exitCode: 1 }, at });
    expect(await recordOf("done1")).toMatchObject({ state: "Completed", exitCode: 0, startedAt: at, endedAt: at });
  });
});

describe("jobsApplyDispatcherCommands", () => {
  it("a granted slot is a Start event to the job's orchestration; a job canceled while queued is recorded and its orchestration told", async () => {
    await queuedJob("q1", "true");
    raised.length = 0;
    await activities.apply({
      instance: INSTANCE,
      commands: [{ type: "StartJob", jobId: "s1", gpuIndices: [0] }, { type: "MarkCanceled", jobId: "q1" }],
      counts: { queued: 0, running: 1, cap: 4 },
      at: new Date().toISOString(),
    });
    expect(raised).toEqual(expect.arrayContaining([
      { id: "job-s1", event: "JobEvent", data: { type: "Start", gpuIndices: [0] } },
      { id: "job-q1", event: "JobEvent", data: { type: "Dropped" } },
    ]));
    expect(await recordOf("q1")).toMatchObject({ state: "Canceled", error: { code: "Canceled" } });
  });

  it("reads back only the unbroken run of spill rows: a row another caller has not written yet is not skipped", async () => {
    // The entity allotted rows 0..2 to different callers; rows 0 and 2 are written, 1 not yet.
    await queuedJob("sp0", "true");
    await queuedJob("sp2", "true");
    await createSpillStore(clients.storage).put(INSTANCE, [{ seq: 0, jobId: "sp0", gpus: 0 }, { seq: 2, jobId: "sp2", gpus: 0 }]);
    const res = await activities.apply({ instance: INSTANCE, commands: [], counts: { queued: 3, running: 0, cap: 4 }, at: new Date().toISOString(), refill: { from: 0, until: 3, max: 64 } });
    // Before: from 3, and the job of row 1 would never have been read back.
    expect(res?.refill).toEqual({ from: 1, jobs: [{ id: "sp0", gpus: 0, cancelRequested: false }] });
  });
});
