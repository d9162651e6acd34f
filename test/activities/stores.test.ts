// Record stores against a real (in-memory) Azurite: ETags, conflicts, paging, JSON fields.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { connectionStringStorage } from "../../shared/azure/storageConnection";
import { createStorageClients, type StorageClients } from "../../shared/azure/clients";
import { ConflictError, NotFoundError, PreconditionFailedError, ValidationError } from "../../shared/errors";
import { createIdempotencyStore } from "../../shared/store/idempotency";
import { createInstanceStore } from "../../shared/store/instances";
import { createJobStore } from "../../shared/store/jobs";
import { createOperationStore, type OperationRecord } from "../../shared/store/operations";
import { startTestAzurite, type AzuriteProcess } from "../support/azurite";
import { testAzureConfig } from "./support";

type Inst = {
  name: string;
  state: string;
  assignedUser: string;
  vCpus: number;
  lastActivityAt: string | null;
  ssh: { publicAccess: string; port?: number };
  schedules: Array<{ action: string; cron: string }>;
  description?: string;
  costPerHour?: number;
};

type Job = { id: string; instance: string; state: string; submittedAt: string };

let azurite: AzuriteProcess;
let storage: StorageClients;
let n = 0;
const unique = (p: string) => `${p}${Date.now().toString(36)}${n++}`;

beforeAll(async () => {
  azurite = await startTestAzurite();
  storage = createStorageClients(testAzureConfig({ storage: connectionStringStorage(azurite.connectionString) }));
});
afterAll(async () => {
  await azurite?.stop();
});

function inst(name: string, extra: Partial<Inst> = {}): Inst {
  return {
    name,
    state: "Creating",
    assignedUser: "alice",
    vCpus: 4,
    lastActivityAt: null,
    ssh: { publicAccess: "Disabled" },
    schedules: [{ action: "Stop", cron: "0 19 * * 1-5" }],
    ...extra,
  };
}

describe("instance store", () => {
  it("round-trips a record with nested fields, nulls and non-int32 numbers", async () => {
    const store = createInstanceStore<Inst>(storage, unique("ws"), unique("inst"));
    const rec = inst("Box-1", { costPerHour: 3.06, description: "x".repeat(40_000) });
    const created = await store.create(rec);
    expect(created.etag).toMatch(/^W\//);
    const got = await store.get("box-1"); // names are case-insensitive
    expect(got?.record).toEqual(rec);
    expect(got?.etag).toBe(created.etag);
  });

  it("refuses a second create and a stale update, accepts a fresh one", async () => {
    const store = createInstanceStore<Inst>(storage, unique("ws"), unique("inst"));
    const first = await store.create(inst("box"));
    await expect(store.create(inst("BOX"))).rejects.toBeInstanceOf(ConflictError);
    const second = await store.update({ ...first.record, state: "SettingUp" }, first.etag);
    expect(second.etag).not.toBe(first.etag);
    await expect(store.update({ ...first.record, state: "Running" }, first.etag)).rejects.toBeInstanceOf(
      PreconditionFailedError,
    );
    expect((await store.get("box"))?.record.state).toBe("SettingUp");
    await expect(store.update(inst("ghost"), "*")).rejects.toBeInstanceOf(NotFoundError);
  });

  it("deletes with and without ETag; a missing record is not an error", async () => {
    const store = createInstanceStore<Inst>(storage, unique("ws"), unique("inst"));
    const a = await store.create(inst("a1x"));
    await store.update({ ...a.record, state: "Running" }, a.etag);
    await expect(store.delete("a1x", a.etag)).rejects.toBeInstanceOf(PreconditionFailedError);
    expect(await store.delete("a1x")).toBe(true);
    expect(await store.delete("a1x")).toBe(false);
    expect(await store.get("a1x")).toBeUndefined();
  });

  it("pages through a filtered list with URL-safe continuation tokens", async () => {
    const ws = unique("ws");
    const store = createInstanceStore<Inst>(storage, ws, unique("inst"));
    for (let i = 0; i < 7; i++) {
      await store.create(inst(`box${i}`, { state: i % 2 === 0 ? "Running" : "Stopped", assignedUser: i < 5 ? "alice" : "bob" }));
    }
    const seen: string[] = [];
    let token: string | undefined;
    let pages = 0;
    do {
      const page = await store.list({ filter: { state: "Running" }, pageSize: 2, continuationToken: token });
      seen.push(...page.items.map((i) => i.record.name));
      for (const item of page.items) expect(item.etag).toBeTruthy();
      token = page.continuationToken;
      if (token) expect(token).toMatch(/^[A-Za-z0-9_.-]+$/); // unreserved URL characters only
      pages++;
    } while (token && pages < 10);
    expect(seen.sort()).toEqual(["box0", "box2", "box4", "box6"]);
    expect(pages).toBeGreaterThanOrEqual(2);
    const bobRunning = await store.listAll({ state: "Running", assignedUser: "bob" });
    expect(bobRunning.map((i) => i.record.name)).toEqual(["box6"]);
    // Values are quoted, not spliced: a quote in a value cannot widen the filter.
    expect(await store.listAll({ assignedUser: "x' or state ne 'y" })).toEqual([]);
    await expect(store.list({ continuationToken: "not a token!" })).rejects.toBeInstanceOf(ValidationError);
  });

  it("rejects a record too large for one entity with a validation error", async () => {
    const store = createInstanceStore<Inst>(storage, unique("ws"), unique("inst"));
    const huge = inst("big", { description: "y".repeat(600_000) });
    await expect(store.create(huge)).rejects.toBeInstanceOf(ValidationError);
  });
});

describe("job store", () => {
  it("finds a job by id alone, lists an instance's jobs, and conflicts on a reused id", async () => {
    const jobs = createJobStore<Job>(storage, { jobs: unique("jobs"), index: unique("jobidx") });
    const now = new Date().toISOString();
    for (let i = 0; i < 3; i++) await jobs.create({ id: `j${i}`, instance: "Box", state: "Queued", submittedAt: now });
    await jobs.create({ id: "k0", instance: "other", state: "Queued", submittedAt: now });
    const got = await jobs.get("j1");
    expect(got?.record).toEqual({ id: "j1", instance: "Box", state: "Queued", submittedAt: now });
    expect(await jobs.get("nope")).toBeUndefined();
    await expect(jobs.create({ id: "j1", instance: "other", state: "Queued", submittedAt: now })).rejects.toBeInstanceOf(
      ConflictError,
    );
    await expect(jobs.create({ id: "j1", instance: "box", state: "Queued", submittedAt: now })).rejects.toBeInstanceOf(
      ConflictError,
    );
    const updated = await jobs.update({ ...got!.record, state: "Running" }, got!.etag);
    await expect(jobs.update({ ...got!.record, state: "Failed" }, got!.etag)).rejects.toBeInstanceOf(PreconditionFailedError);
    expect((await jobs.listAll("box")).map((j) => j.record.id).sort()).toEqual(["j0", "j1", "j2"]);
    expect((await jobs.listAll("box", { state: "Running" })).map((j) => j.record.id)).toEqual(["j1"]);
    expect(await jobs.delete("box", "j1", updated.etag)).toBe(true);
    expect(await jobs.get("j1")).toBeUndefined();
    // The id is free again once deleted.
    await jobs.create({ id: "j1", instance: "other", state: "Queued", submittedAt: now });
    expect((await jobs.get("j1"))?.record.instance).toBe("other");
  });
});

describe("operation store", () => {
  it("creates, updates with ETag and lists by instance", async () => {
    const ops = createOperationStore(storage, unique("ws"), unique("ops"));
    const op: OperationRecord = { id: "op-1", name: "create", instance: "box", status: "Running", startedAt: new Date().toISOString() };
    const c = await ops.create(op);
    await ops.create({ ...op, id: "op-2", instance: "other" });
    const done: OperationRecord = {
      ...op,
      status: "Failed",
      endedAt: new Date().toISOString(),
      steps: [{ name: "nsg", status: "Succeeded" }],
      error: { code: "SkuNotAvailable", message: "no" },
    };
    await ops.update(done, c.etag);
    await expect(ops.update(done, c.etag)).rejects.toBeInstanceOf(PreconditionFailedError);
    expect((await ops.get("op-1"))?.record).toEqual(done);
    const page = await ops.list({ filter: { instance: "box" } });
    expect(page.items.map((i) => i.record.id)).toEqual(["op-1"]);
  });
});

describe("idempotency store", () => {
  it("returns the first result for a repeated key, even with awkward characters", async () => {
    const idem = createIdempotencyStore<{ jobId: string }>(storage, unique("idem"));
    const key = "a/b#c?d\\e %f";
    expect(await idem.remember("jobs:alice", key, { jobId: "1" })).toEqual({ result: { jobId: "1" }, first: true });
    expect(await idem.remember("jobs:alice", key, { jobId: "2" })).toEqual({ result: { jobId: "1" }, first: false });
    expect(await idem.remember("jobs:bob", key, { jobId: "3" })).toEqual({ result: { jobId: "3" }, first: true });
    const all = await Promise.all([1, 2, 3, 4].map((i) => idem.remember("jobs:carol", "k", { jobId: String(i) })));
    expect(all.filter((r) => r.first)).toHaveLength(1);
    expect(new Set(all.map((r) => r.result.jobId)).size).toBe(1);
    await expect(idem.remember("s", "k".repeat(2000), { jobId: "x" })).rejects.toBeInstanceOf(ValidationError);
  });
});
