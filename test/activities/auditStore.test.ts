// The audit trail's store against Azurite: one entry per id, newest first, time windows as
// row-key ranges, the user's scope, the result set once, retention.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { connectionStringStorage } from "../../shared/azure/storageConnection";
import { createStorageClients, type StorageClients } from "../../shared/azure/clients";
import type { AuditEntry } from "../../shared/schemas/audit";
import { createAuditStore, newAuditId, operationAuditId } from "../../shared/store/audit";
import { startTestAzurite, type AzuriteProcess } from "../support/azurite";
import { testAzureConfig } from "./support";

let azurite: AzuriteProcess;
let storage: StorageClients;
beforeAll(async () => {
  azurite = await startTestAzurite();
  storage = createStorageClients({ ...testAzureConfig(), storage: connectionStringStorage(azurite.connectionString) });
});
afterAll(() => azurite?.stop());

const entry = (at: string, over: Partial<AuditEntry> = {}): AuditEntry => ({
  id: newAuditId(at), at, actor: "alice", action: "instance.update", instance: "i1", assignedUser: "alice", result: "Succeeded", ...over,
});

describe("audit store", () => {
  it("lists newest first, filters by instance, actor, scope and time window, and pages", async () => {
    const audit = createAuditStore(storage, "ws-list");
    const e1 = entry("2026-12-01T10:00:00.000Z");
    const e2 = entry("2026-12-01T11:00:00.000Z", { actor: "bob", instance: "i2", assignedUser: "bob" });
    const e3 = entry("2026-12-01T12:00:00.000Z", { actor: "system:idle", action: "instance.stop" });
    for (const e of [e2, e3, e1]) await audit.record(e);
    const ids = async (q: Parameters<typeof audit.list>[0]) => (await audit.list(q)).items.map((i) => i.record.id);
    expect(await ids({})).toEqual([e3.id, e2.id, e1.id]);
    expect(await ids({ instance: "i1" })).toEqual([e3.id, e1.id]);
    expect(await ids({ actor: "bob" })).toEqual([e2.id]);
    expect(await ids({ assignedUser: "alice" })).toEqual([e3.id, e1.id]);
    // Both ends inclusive, to the millisecond.
    expect(await ids({ from: e2.at, to: e3.at })).toEqual([e3.id, e2.id]);
    expect(await ids({ from: "2026-12-01T11:00:00.001Z" })).toEqual([e3.id]);
    expect(await ids({ to: "2026-12-01T10:59:59.999Z" })).toEqual([e1.id]);
    const first = await audit.list({ pageSize: 2 });
    expect(first.items.map((i) => i.record.id)).toEqual([e3.id, e2.id]);
    expect(await ids({ pageSize: 2, continuationToken: first.continuationToken! })).toEqual([e1.id]);
  });

  it("an operation's entry is written once and gets its result once", async () => {
    const audit = createAuditStore(storage, "ws-op");
    const at = "2026-12-01T10:00:00.000Z";
    const id = operationAuditId(at, "op1");
    await audit.record(entry(at, { id, result: "Running", operationId: "op1", actor: "alice" }));
    await audit.record(entry(at, { id, result: "Running", operationId: "op1", actor: "mallory" }));
    expect(await audit.get(id)).toMatchObject({ actor: "alice", result: "Running" });
    await audit.finish(id, { result: "Failed", endedAt: "2026-12-01T10:05:00.000Z", error: { code: "QuotaExceeded", message: "no" } });
    await audit.finish(id, { result: "Succeeded", endedAt: "2026-12-01T10:06:00.000Z" });
    expect(await audit.get(id)).toMatchObject({ result: "Failed", endedAt: "2026-12-01T10:05:00.000Z", error: { code: "QuotaExceeded" } });
    await audit.finish(operationAuditId(at, "nope"), { result: "Succeeded" }); // absent: nothing, no error
  });

  it("retention deletes what is older than the cut, to the millisecond, and nothing else", async () => {
    const audit = createAuditStore(storage, "ws-purge");
    const old = [entry("2026-01-01T00:00:00.000Z"), entry("2026-11-30T23:59:59.999Z")];
    const kept = [entry("2026-12-01T00:00:00.000Z"), entry("2026-12-01T08:00:00.000Z")];
    for (const e of [...old, ...kept]) await audit.record(e);
    expect(await audit.purge("2026-12-01T00:00:00.000Z")).toBe(2);
    expect((await audit.list({})).items.map((i) => i.record.id)).toEqual([kept[1]!.id, kept[0]!.id]);
    expect(await audit.purge("2026-12-01T00:00:00.000Z")).toBe(0);
  });
});
