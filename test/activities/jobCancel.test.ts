// Cancelling a job while its agent writes the same record (a heartbeat between the API's read and
// its write): the cancel is read again and retried, never a 412 the caller did not ask for.
import { afterAll, beforeAll, expect, it } from "vitest";
import { connectionStringStorage } from "../../shared/azure/storageConnection";
import { createStorageClients, type AzureClients } from "../../shared/azure/clients";
import { instanceRecords, type InstanceRecord } from "../../shared/instances/record";
import { jobRecords, type JobRecord } from "../../shared/jobs/record";
import type { Principal } from "../../shared/rbac";
import type { OrchestrationPort } from "../../orchestrations/jobs/durablePort";
import { createJobService } from "../../services/jobs";
import { startTestAzurite, type AzuriteProcess } from "../support/azurite";
import { testAzureConfig } from "./support";

const alice: Principal = { userId: "alice", name: "Alice", roles: ["user"] };
let azurite: AzuriteProcess;
let storage: AzureClients["storage"];

beforeAll(async () => {
  azurite = await startTestAzurite();
  storage = createStorageClients(testAzureConfig({ storage: connectionStringStorage(azurite.connectionString) }));
  const now = new Date().toISOString();
  const inst: InstanceRecord = {
    name: "cx", state: "JobRunning", vmSize: "Standard_D2s_v5", family: "standardDSv5Family", vCpus: 2, gpus: 0, memoryGb: 8,
    assignedUser: "alice", createdBy: "alice", createdAt: now, updatedAt: now, sshPublicAccess: "Disabled", subnetId: "/s",
    enablePublicIp: false, idleShutdownMinutes: null, schedules: [], jobsPerCore: 2, tags: {}, jobs: { queued: 0, running: 1, cap: 4 }, requestHash: "h",
  };
  await instanceRecords(storage, "ws-cancel").create(inst);
  const job: JobRecord = {
    id: "run1", name: "run1", instance: "cx", state: "Running", command: "sleep 30", gpus: 0, timeoutMinutes: 5,
    submittedBy: "alice", submittedAt: now, startedAt: now, source: "http",
  };
  await jobRecords(storage).create(job);
});
afterAll(() => azurite?.stop());

it("a heartbeat written between the read and the cancel does not fail the cancel, and is kept", async () => {
  const jobs = jobRecords(storage);
  const raised: unknown[] = [];
  const port: OrchestrationPort = { status: async () => "active", start: async () => "started", raise: async (...a) => (raised.push(a), "raised") };
  const service = createJobService({ settings: { allowedJobRegistries: [] } as never, stores: { instances: instanceRecords(storage, "ws-cancel"), jobs, jobKeys: undefined as never }, activity: { recordActivity: async () => undefined } });
  const got = await service.jobFor(alice, "run1", "job:cancel");
  // The agent's heartbeat lands after the API read the record.
  const heartbeatAt = new Date().toISOString();
  await jobs.update({ ...got.record, heartbeatAt }, got.etag);
  const canceled = await service.cancelJob(got, port);
  expect(canceled.cancelRequestedAt).toEqual(expect.any(String));
  expect((await jobs.get("run1"))?.record).toMatchObject({ heartbeatAt, cancelRequestedAt: canceled.cancelRequestedAt });
  expect(raised).toHaveLength(1);
});
