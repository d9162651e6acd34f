// A request that died between writing the instance record and starting its orchestration
// (a host killed at that moment) left an instance `Creating` or `Stopping` forever, refusing
// every other operation. The reconcile tick now starts the orchestration the request meant to
// start. The crash is reproduced by writing what such a request leaves behind: the busy record
// (old enough) and no orchestration, no operation record.
import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { connectionStringStorage } from "../../shared/azure/storageConnection";
import { createStorageClients } from "../../shared/azure/clients";
import { orchestrationIds } from "../../shared/ids";
import type { InstanceRecord } from "../../shared/instances/record";
import { createInstanceStore, createOperationStore } from "../../shared/store";
import type { OperationRecord } from "../../orchestrations/instances/types";
import { STALLED_AFTER_MS } from "../../services/operationRecovery";
import { testAzureConfig } from "../activities/support";
import { eventually, startStack, type Stack } from "../support/stack";
import { runningInstance } from "./jobs.support";

let stack: Stack;
beforeAll(async () => {
  stack = await startStack({ env: { JOBS_RECONCILE_SCHEDULE: "*/2 * * * * *" } });
  await runningInstance(stack, "rc-a");
}, 180_000);
afterAll(() => stack?.stop());

const stores = () => {
  const storage = createStorageClients(testAzureConfig({ storage: connectionStringStorage(stack.azurite.connectionString) }));
  const workspace = stack.settings.WORKSPACE_NAME!;
  return { instances: createInstanceStore<InstanceRecord>(storage, workspace), operations: createOperationStore<OperationRecord>(storage, workspace) };
};
const view = async (name: string) => (await stack.api<{ state: string; lastOperation?: Record<string, unknown> }>("GET", `/api/instances/${name}`, { as: "alice" })).body;
const auditOf = async (name: string) =>
  (await stack.api<{ value: { action: string; actor: string; operationId?: string }[] }>("GET", `/api/audit?instance=${name}`, { as: "alice" })).body.value;

describe("an operation whose request died before starting it", () => {
  it("a stop left Stopping with no orchestration is carried out by the reconcile tick, on the trail as recovery", async () => {
    const { instances, operations } = stores();
    const got = (await instances.get("rc-a"))!;
    const opId = randomUUID().replace(/-/g, "");
    const startedAt = new Date(Date.now() - STALLED_AFTER_MS - 60_000).toISOString();
    await instances.update(
      { ...got.record, state: "Stopping", lastOperation: { id: opId, name: "stop", status: "Running", startedAt, orchestrationId: orchestrationIds.stop("rc-a", opId) } },
      got.etag,
    );
    // The API never shows the orchestration id.
    expect((await view("rc-a")).lastOperation).not.toHaveProperty("orchestrationId");

    const stopped = await eventually(() => view("rc-a"), (i) => i.state === "Stopped", 120_000, 500);
    expect(stopped.lastOperation).toMatchObject({ id: opId, name: "stop", status: "Succeeded" });
    expect((await operations.get(opId))?.record).toMatchObject({ requestedBy: "system:recovery", status: "Succeeded" });
    expect((await auditOf("rc-a")).filter((e) => e.action === "instance.stop")).toEqual([expect.objectContaining({ actor: "system:recovery", operationId: opId })]);
    expect(stack.host.output()).toContain(`stop of rc-a (operation ${opId}) had no orchestration`);
  }, 180_000);

  it("a create left Creating with no orchestration is provisioned; a recent one is left to its request", async () => {
    const { instances } = stores();
    const template = (await instances.get("rc-a"))!.record;
    const base = { ...template, jobs: { queued: 0, running: 0, cap: template.jobs.cap }, state: "Creating" as const };
    delete (base as Partial<InstanceRecord>).publicIp;
    delete (base as Partial<InstanceRecord>).privateIp;
    const old = new Date(Date.now() - STALLED_AFTER_MS - 60_000).toISOString();
    await instances.create({ ...base, name: "rc-b", instanceId: randomUUID(), createdAt: old, updatedAt: old, lastOperation: { id: randomUUID().replace(/-/g, ""), name: "create", status: "Running", startedAt: old } });
    const recent = new Date().toISOString();
    await instances.create({ ...base, name: "rc-c", instanceId: randomUUID(), createdAt: recent, updatedAt: recent, lastOperation: { id: randomUUID().replace(/-/g, ""), name: "create", status: "Running", startedAt: recent } });

    await eventually(() => view("rc-b"), (i) => i.state === "Running", 150_000, 500);
    // Several ticks later the recent one is still waiting for its own request (nothing raced it).
    expect((await view("rc-c")).state).toBe("Creating");
    expect(stack.host.output()).not.toContain("of rc-c (operation");
  }, 200_000);
});
