// Storage-queue triggers and queue output bindings through a real host child process.
import path from "node:path";
import { QueueServiceClient } from "@azure/storage-queue";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestAzurite, type AzuriteProcess } from "../support/azurite";
import { eventually, REPO_ROOT, startHost, type TestHost } from "../support/host";

const APP = path.join(REPO_ROOT, "test", "fixtures", "host-queue");

type Seen = {
  work: { message: unknown; metadata: Record<string, unknown> }[];
  doomed: { message: unknown; dequeueCount: number }[];
  picked: string[];
};

let azurite: AzuriteProcess;
let queues: QueueServiceClient;
let host: TestHost | undefined;

beforeAll(async () => {
  azurite = await startTestAzurite();
  queues = QueueServiceClient.fromConnectionString(azurite.connectionString);
});
afterAll(async () => {
  await host?.stop();
  await azurite?.stop();
});

const seen = async (): Promise<Seen> => (await (await fetch(`${host!.baseUrl}/api/seen`)).json()) as Seen;
const peekAll = async (queue: string): Promise<string[]> => {
  const res = await queues.getQueueClient(queue).peekMessages({ numberOfMessages: 32 });
  return res.peekedMessageItems.map((m) => m.messageText);
};

describe("queue triggers (messageEncoding none)", () => {
  beforeAll(async () => {
    host = await startHost({ appDir: APP, env: { AzureWebJobsStorage: azurite.connectionString, FIXTURE_OUT_QUEUE: "out-items" } });
  });
  afterAll(async () => {
    await host?.stop();
    host = undefined;
  });

  it("delivers a message with its trigger metadata and writes queue outputs", async () => {
    await queues.getQueueClient("work-items").sendMessage(JSON.stringify({ n: 1 }));
    const s = await eventually(seen, (x) => x.work.length >= 1);
    expect(s.work[0]!.message).toEqual({ n: 1 });
    const md = s.work[0]!.metadata;
    expect(md.dequeueCount).toBe(1);
    for (const k of ["id", "insertionTime", "expirationTime", "nextVisibleTime", "popReceipt"]) expect(typeof md[k]).toBe("string");
    const out = await eventually(() => peekAll("out-items"), (m) => m.length >= 2);
    expect(out.map((m) => (m.startsWith("{") ? JSON.parse(m) : m))).toEqual([{ from: "work", message: { n: 1 } }, "plain text"]);
    // Processed messages are deleted.
    await eventually(() => peekAll("work-items"), (m) => m.length === 0);
  });

  it("writes an HTTP function's queue output binding", async () => {
    const res = await fetch(`${host!.baseUrl}/api/enqueue`, { method: "POST", body: JSON.stringify({ hello: "world" }) });
    expect(res.status).toBe(202);
    const out = await eventually(() => peekAll("out-items"), (m) => m.length >= 3);
    expect(JSON.parse(out[2]!)).toEqual({ hello: "world" });
  });

  it("moves a message that always fails to <queue>-poison after 5 dequeues", async () => {
    await queues.getQueueClient("doomed").sendMessage("will fail");
    const poison = await eventually(() => peekAll("doomed-poison").catch(() => []), (m) => m.length >= 1);
    expect(poison).toEqual(["will fail"]);
    const s = await seen();
    expect(s.doomed.map((d) => d.dequeueCount)).toEqual([1, 2, 3, 4, 5]);
    expect(await peekAll("doomed")).toEqual([]);
    expect(host!.output()).toContain('to "doomed-poison"');
  });
});

describe("a queue the host writes to itself", () => {
  it("is picked up at once, not after the listener's backed-off maxPollingInterval", async () => {
    host = await startHost({
      appDir: APP,
      env: {
        AzureWebJobsStorage: azurite.connectionString,
        FIXTURE_OUT_QUEUE: "out-items-3",
        AzureFunctionsJobHost__extensions__queues__maxPollingInterval: "00:00:12",
      },
    });
    try {
      // The listener has backed off and just started a 12 s wait between polls.
      await host.waitForOutput('"pick-items" is empty; polling every 12000 ms', 60_000);
      const res = await fetch(`${host.baseUrl}/api/enqueue-pick`, { method: "POST", body: "now" });
      expect(res.status).toBe(202);
      // Well inside the 12 s the listener would otherwise sleep: only a wake-up gets it here.
      const s = await eventually(seen, (x) => x.picked.length >= 1, 8_000);
      expect(s.picked).toEqual(["now"]);
    } finally {
      await host.stop();
      host = undefined;
    }
  });
});

describe("queue triggers (messageEncoding base64, via a host.json override)", () => {
  it("decodes base64 input and encodes base64 output", async () => {
    host = await startHost({
      appDir: APP,
      env: {
        AzureWebJobsStorage: azurite.connectionString,
        FIXTURE_OUT_QUEUE: "out-b64",
        AzureFunctionsJobHost__extensions__queues__messageEncoding: "base64",
      },
    });
    await queues.getQueueClient("work-items").sendMessage(Buffer.from(JSON.stringify({ n: 2 })).toString("base64"));
    const s = await eventually(seen, (x) => x.work.length >= 1);
    expect(s.work[0]!.message).toEqual({ n: 2 });
    const out = await eventually(() => peekAll("out-b64"), (m) => m.length >= 2);
    const decoded = out.map((m) => Buffer.from(m, "base64").toString("utf8"));
    expect(decoded).toEqual([JSON.stringify({ from: "work", message: { n: 2 } }), "plain text"]);
  });
});
