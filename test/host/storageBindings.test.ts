// Blob triggers, blob input/output and table input/output bindings on the local host against
// Azurite, and the start-up refusal of bindings the host does not serve.
import path from "node:path";
import { BlobServiceClient } from "@azure/storage-blob";
import { QueueServiceClient } from "@azure/storage-queue";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestAzurite, type AzuriteProcess } from "../support/azurite";
import { eventually, REPO_ROOT, startHost, type TestHost } from "../support/host";

const APP = path.join(REPO_ROOT, "test", "fixtures", "host-storage");
const UNSERVED = path.join(REPO_ROOT, "test", "fixtures", "host-unserved");

type Seen = { copy: { text: string; blobTrigger: string; name: string }[]; flaky: string[] };

let azurite: AzuriteProcess;
let blobs: BlobServiceClient;
let host: TestHost | undefined;

const env = () => ({ AzureWebJobsStorage: azurite.connectionString });
const seen = async (): Promise<Seen> => (await (await fetch(`${host!.baseUrl}/api/seen`)).json()) as Seen;
const upload = async (container: string, name: string, text: string) => {
  const c = blobs.getContainerClient(container);
  await c.createIfNotExists();
  await c.getBlockBlobClient(name).upload(text, Buffer.byteLength(text));
};

beforeAll(async () => {
  azurite = await startTestAzurite();
  blobs = BlobServiceClient.fromConnectionString(azurite.connectionString);
});
afterAll(async () => {
  await host?.stop();
  await azurite?.stop();
});

describe("blob trigger and blob bindings", () => {
  it("runs for a blob that was there before the host started, with path captures as metadata, and writes the output blob", async () => {
    await upload("in-box", "early.txt", "before start");
    host = await startHost({ appDir: APP, env: env() });
    const s = await eventually(seen, (x) => x.copy.length >= 1);
    expect(s.copy[0]).toEqual({ text: "before start", blobTrigger: "in-box/early.txt", name: "early" });
    const copy = await eventually(() => fetch(`${host!.baseUrl}/api/copies/early`), (r) => r.status === 200);
    expect(await copy.text()).toBe("BEFORE START");
    expect((await fetch(`${host!.baseUrl}/api/copies/missing`)).status).toBe(404);
  });

  it("runs once per version of a blob: again when it changes, never again after a restart", async () => {
    await upload("in-box", "v.txt", "one");
    await eventually(seen, (x) => x.copy.some((c) => c.text === "one"));
    await upload("in-box", "v.txt", "two");
    await eventually(seen, (x) => x.copy.some((c) => c.text === "two"));
    await host!.stop();
    // After a restart the receipts (in azure-webjobs-hosts/blobreceipts) say both versions ran.
    host = await startHost({ appDir: APP, env: env() });
    await upload("in-box", "marker.txt", "marker");
    const s = await eventually(seen, (x) => x.copy.some((c) => c.text === "marker"));
    expect(s.copy.map((c) => c.text)).toEqual(["marker"]);
    const receipts: string[] = [];
    for await (const b of blobs.getContainerClient("azure-webjobs-hosts").listBlobsFlat({ prefix: "blobreceipts/" })) receipts.push(b.name);
    expect(receipts.filter((r) => r.endsWith("/in-box/v.txt"))).toHaveLength(2);
  });

  it("gives up after 5 failed runs and sends the blob to webjobs-blobtrigger-poison", async () => {
    await upload("flaky-box", "bad", "payload");
    const poison = QueueServiceClient.fromConnectionString(azurite.connectionString).getQueueClient("webjobs-blobtrigger-poison");
    const peeked = await eventually(
      () => poison.peekMessages().then((r) => r.peekedMessageItems).catch(() => []),
      (m) => m.length >= 1,
    );
    const message = JSON.parse(Buffer.from(peeked[0]!.messageText, "base64").toString("utf8")) as Record<string, string>;
    expect(message).toMatchObject({ Type: "BlobTrigger", FunctionId: "Host.Functions.flaky", ContainerName: "flaky-box", BlobName: "bad" });
    expect((await seen()).flaky).toEqual(["payload", "payload", "payload", "payload", "payload"]);
  });
});

describe("table bindings", () => {
  it("writes entities and reads them back by partition with a filter, or one by row key", async () => {
    const things = [
      { PartitionKey: "p1", RowKey: "a", Size: 1 },
      { PartitionKey: "p1", RowKey: "b", Size: 2, Name: "bee" },
      { PartitionKey: "p2", RowKey: "c", Size: 3 },
    ];
    const w = await fetch(`${host!.baseUrl}/api/things`, { method: "POST", body: JSON.stringify(things) });
    expect(w.status).toBe(201);
    expect(await (await fetch(`${host!.baseUrl}/api/things/p1`)).json()).toEqual([{ PartitionKey: "p1", RowKey: "b", Size: 2, Name: "bee" }]);
    expect(await (await fetch(`${host!.baseUrl}/api/things/p2/c`)).json()).toEqual({ PartitionKey: "p2", RowKey: "c", Size: 3 });
    expect((await fetch(`${host!.baseUrl}/api/things/p2/zzz`)).status).toBe(404);
    expect(await (await fetch(`${host!.baseUrl}/api/things/none`)).json()).toEqual([]);
  });

  it("writes a single entity, and fails the invocation for one without PartitionKey/RowKey", async () => {
    const ok = await fetch(`${host!.baseUrl}/api/things`, { method: "POST", body: JSON.stringify({ PartitionKey: "p3", RowKey: "d", Size: 4 }) });
    expect(ok.status).toBe(201);
    expect(await (await fetch(`${host!.baseUrl}/api/things/p3/d`)).json()).toEqual({ PartitionKey: "p3", RowKey: "d", Size: 4 });
    const bad = await fetch(`${host!.baseUrl}/api/things`, { method: "POST", body: JSON.stringify({ Size: 1 }) });
    expect(bad.status).toBe(500);
  });
});

describe("bindings the host does not serve", () => {
  /** The start-up error; a host that starts anyway is stopped, and the test fails. */
  const startupError = async (extra: Record<string, string> = {}): Promise<string> => {
    const started = await startHost({ appDir: UNSERVED, env: { ...env(), ...extra } }).then((h) => h, (e: Error) => e);
    if (started instanceof Error) return started.message;
    await started.stop();
    throw new Error("the host started");
  };

  it("refuses to start, naming the function and the binding type", async () => {
    expect(await startupError()).toMatch(/host: function "sendsToBus": the local host does not serve output bindings of type "serviceBus"/);
  });

  it("refuses a blob trigger with source EventGrid", async () => {
    expect(await startupError({ FIXTURE_KIND: "eventgrid" })).toMatch(/function "fromEventGrid": blob triggers with source "EventGrid"/);
  });
});
