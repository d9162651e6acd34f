// Large inputs, outputs, events and history fields: kept in gzip blobs of the hub's
// `<taskhub>-largemessages` container as the Azure Storage provider keeps them, and read back
// whole — from memory and from storage. Before, a 4.6 MB output never completed.
import { BlobServiceClient } from "@azure/storage-blob";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startInProcessHost, type InProcessHost } from "../../bench/durable/harness";
import { hubTableName } from "../../local/host/durable/extension";
import { largeMessagesContainer, PersistLimitError } from "../../local/host/durable/backend/payloads";
import { checkTableLimits } from "../../local/host/durable/backend/rows";
import { TaskHubStore } from "../../local/host/durable/backend/store";
import { text } from "../fixtures/durable-extras-app/text";
import { startTestAzurite, type AzuriteProcess } from "../support/azurite";
import { http, MASTER_KEY, start, status, waitFor } from "./support";
import nodeHttp from "node:http";
import path from "node:path";

const APP = path.resolve(__dirname, "../fixtures/durable-extras-app");
const HUB = "DurableExtrasHub";
const MB = 1024 * 1024;

let azurite: AzuriteProcess;
let host: InProcessHost;
let base: string;

beforeAll(async () => {
  azurite = await startTestAzurite();
  host = await startInProcessHost({ appDir: APP, connectionString: azurite.connectionString, quiet: true });
  base = host.baseUrl;
}, 60_000);
afterAll(async () => {
  await host?.stop();
  await azurite?.stop();
});

/**
 * POSTs a large body on a connection of its own: on a reused keep-alive connection the server
 * may close the idle socket while a multi-megabyte upload starts (ECONNRESET, a client race).
 */
function postFresh(p: string, body: string): Promise<{ status: number; json: unknown }> {
  return new Promise((resolve, reject) => {
    const req = nodeHttp.request(`${base}${p}`, { method: "POST", agent: false, headers: { "Content-Type": "application/json", "x-functions-key": MASTER_KEY } }, (res) => {
      let text = "";
      res.on("data", (c: Buffer) => (text += c.toString("utf8")));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, json: text ? JSON.parse(text) : undefined }));
    });
    req.on("error", reject);
    req.end(body);
  });
}

async function startBig(name: string, input: unknown): Promise<string> {
  const r = await postFresh(`/runtime/webhooks/durabletask/orchestrators/${name}`, JSON.stringify(input));
  if (r.status !== 202) throw new Error(`start ${name}: HTTP ${r.status} ${JSON.stringify(r.json)}`);
  return (r.json as { id: string }).id;
}

/** A second store on the same hub: what a restarted host would read. */
const freshStore = () => new TaskHubStore(azurite.connectionString, hubTableName(HUB), largeMessagesContainer(HUB));

async function blobsOf(instanceId: string): Promise<{ name: string; size: number }[]> {
  const c = BlobServiceClient.fromConnectionString(azurite.connectionString).getContainerClient(largeMessagesContainer(HUB));
  const out: { name: string; size: number }[] = [];
  if (!(await c.exists())) return out;
  for await (const b of c.listBlobsFlat({ prefix: `${instanceId}/` })) out.push({ name: b.name, size: b.properties.contentLength ?? 0 });
  return out;
}

describe("large payloads", () => {
  it.each([
    ["1 MB", 1 * MB],
    ["4.6 MB", Math.round(4.6 * MB)],
    ["10 MB", 10 * MB],
  ])("an orchestration with a %s output completes and its output round-trips", async (_label, bytes) => {
    const id = await start(base, "BigOutput", { bytes, seed: bytes });
    const s = await waitFor(base, id, undefined, 120_000);
    expect(s.runtimeStatus).toBe("Completed");
    expect(s.output).toBe(text(bytes, bytes));
    // Stored, not only in memory: a fresh store reads the same output and history back.
    const p = await freshStore().loadPartition(id);
    expect(JSON.parse(p!.row.output!)).toBe(text(bytes, bytes));
    const results = p!.chunks.flatMap((c) => c.events).filter((e) => e.EventType === 5 || e.EventType === 1);
    expect(results.map((e) => (typeof e.Result === "string" ? JSON.parse(e.Result).length : 0))).toEqual([bytes, bytes]);
    // In compressed blobs of the hub's largemessages container.
    const blobs = await blobsOf(id);
    expect(blobs.length).toBeGreaterThan(0);
    for (const b of blobs) expect(b.name).toMatch(/\.json\.gz$/);
    expect(Math.max(...blobs.map((b) => b.size))).toBeLessThan(bytes);
  }, 180_000);

  it("a 10 MB input goes to an activity and back", async () => {
    const input = text(10 * MB, 7);
    const id = await startBig("BigInput", input);
    // Poll without the 10 MB input, then read everything once.
    await waitFor(base, id, undefined, 120_000, "?showInput=false");
    const s = await status(base, id);
    expect(s.runtimeStatus).toBe("Completed");
    const out = s.output as { same: boolean; length: number; echoed: string };
    expect(out.same).toBe(true);
    expect(out.echoed).toBe(input);
    expect(s.input).toBe(input);
    const row = await freshStore().readInstance(id);
    expect(JSON.parse(row!.input!)).toBe(input);
  }, 180_000);

  it("a 4.6 MB event is stored as a message in a blob and delivered whole", async () => {
    const id = await start(base, "BigEvent");
    await waitFor(base, id, (s) => s.runtimeStatus === "Running");
    const payload = text(Math.round(4.6 * MB), 3);
    const r = await postFresh(`/runtime/webhooks/durabletask/instances/${id}/raiseEvent/big`, JSON.stringify(payload));
    expect(r.status).toBe(202);
    const s = await waitFor(base, id, undefined, 120_000);
    expect(s.runtimeStatus).toBe("Completed");
    expect(s.output).toEqual({ length: payload.length, got: payload });
    const h = await status(base, id, "?showHistory=true&showHistoryOutput=true");
    const raised = h.historyEvents!.find((e) => e.EventType === "EventRaised");
    expect(raised?.Input).toBe(payload);
  }, 180_000);

  it("a 60 KB event — over a queue message's 45 KB, under a row's 1 MB — is stored in a blob too", async () => {
    const id = await start(base, "BigEvent");
    await waitFor(base, id, (s) => s.runtimeStatus === "Running");
    // Suspended: the event stays a stored message we can look at.
    await http(base, "POST", `/runtime/webhooks/durabletask/instances/${id}/suspend`);
    await waitFor(base, id, (s) => s.runtimeStatus === "Suspended");
    const payload = text(60 * 1024, 4);
    expect((await http(base, "POST", `/runtime/webhooks/durabletask/instances/${id}/raiseEvent/big`, payload)).status).toBe(202);
    const rows = host.engine.store.table.listEntities<Record<string, unknown>>({ queryOptions: { filter: `PartitionKey eq '${id}'` } });
    const messages: Record<string, unknown>[] = [];
    for await (const e of rows) if (String(e.rowKey).startsWith("M")) messages.push(e);
    expect(messages.filter((m) => typeof m.DataBlobName === "string")).toHaveLength(1);
    await http(base, "POST", `/runtime/webhooks/durabletask/instances/${id}/resume`);
    const s = await waitFor(base, id, undefined, 60_000);
    expect((s.output as { length: number }).length).toBe(payload.length);
  }, 120_000);

  it("purging an instance deletes its blobs", async () => {
    const id = await start(base, "BigOutput", { bytes: 200 * 1024 });
    await waitFor(base, id);
    expect((await blobsOf(id)).length).toBeGreaterThan(0);
    expect((await http(base, "DELETE", `/runtime/webhooks/durabletask/instances/${id}`)).status).toBe(200);
    expect(await blobsOf(id)).toEqual([]);
  }, 60_000);

  it("a custom status over 16 KB fails the orchestration as Azure does; 15 KB is fine", async () => {
    const ok = await start(base, "BigStatus", { bytes: 15 * 512 });
    expect((await waitFor(base, ok)).runtimeStatus).toBe("Completed");
    const id = await start(base, "BigStatus", { bytes: 17 * 512 });
    const s = await waitFor(base, id);
    expect(s.runtimeStatus).toBe("Failed");
    expect(String(s.output)).toContain("The UTF-16 size of the JSON-serialized payload must not exceed 16 KB. The current payload size is 17 KB.");
  }, 60_000);
});

describe("Table limits", () => {
  it("refuses what Azure Tables refuse: a property over 64 KiB, a row over 1 MiB, a transaction over 4 MiB or 100 operations", () => {
    const row = (props: Record<string, unknown>) => ({ partitionKey: "p", rowKey: "r", ...props });
    expect(() => checkTableLimits([row({ A: "x".repeat(33 * 1024) })])).toThrow(PersistLimitError);
    expect(() => checkTableLimits([row({ A: "x".repeat(30 * 1024) })])).not.toThrow();
    const big = Object.fromEntries(Array.from({ length: 20 }, (_, i) => [`P${i}`, "x".repeat(30 * 1024)]));
    expect(() => checkTableLimits([row(big)])).toThrow(/over the Table limit of 1 MiB/);
    const medium = Object.fromEntries(Array.from({ length: 15 }, (_, i) => [`P${i}`, "x".repeat(30 * 1024)]));
    expect(() => checkTableLimits(Array.from({ length: 5 }, () => row(medium)))).toThrow(/over the Table limit of 4 MiB/);
    expect(() => checkTableLimits(Array.from({ length: 101 }, () => row({})))).toThrow(/100/);
  });
});
