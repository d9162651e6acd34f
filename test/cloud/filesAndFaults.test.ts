import fs from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { CloudEmulator } from "../../local/cloud/emulator";
import { armRequest, computeClient, networkClient, shareServiceClient, type EmulatorEndpoint } from "./clients";
import { LOCATION, RG, startTestCloud, SUB } from "./support";

let emu: CloudEmulator;
let e: EmulatorEndpoint;

beforeAll(async () => {
  ({ emu, endpoint: e } = await startTestCloud());
});
afterAll(async () => emu?.stop());

describe("Azure Files", () => {
  it("creates a share with quota (409 ShareAlreadyExists on repeat), directories and files, lists and downloads", async () => {
    const svc = shareServiceClient(e, "acct1");
    const share = svc.getShareClient("data");
    await share.create({ quota: 100 });
    const again = await share.create().then(() => undefined, (x: { statusCode?: number; details?: { errorCode?: string } }) => x);
    expect([again?.statusCode, again?.details?.errorCode]).toEqual([409, "ShareAlreadyExists"]);
    expect((await share.createIfNotExists()).succeeded).toBe(false);
    expect((await share.getProperties()).quota).toBe(100);

    const users = share.getDirectoryClient("Users");
    await users.create();
    expect((await users.createIfNotExists()).succeeded).toBe(false);
    const alice = users.getDirectoryClient("alice");
    await alice.createIfNotExists();
    const file = alice.getFileClient("notes.txt");
    const content = Buffer.from("hello files\n");
    await file.uploadData(content);
    expect((await file.getProperties()).contentLength).toBe(content.length);
    expect((await file.downloadToBuffer()).toString()).toBe("hello files\n");

    const names: string[] = [];
    for await (const item of users.listFilesAndDirectories()) names.push(`${item.kind}:${item.name}`);
    expect(names).toEqual(["directory:alice"]);
    const inAlice: string[] = [];
    for await (const item of alice.listFilesAndDirectories()) inAlice.push(`${item.kind}:${item.name}`);
    expect(inAlice).toEqual(["file:notes.txt"]);
    const dir = emu.getState().shares.find((s) => s.name === "data")!.dir;
    expect(fs.readFileSync(path.join(dir, "Users", "alice", "notes.txt"), "utf8")).toBe("hello files\n");

    const missingParent = await share.getDirectoryClient("no/such").create().then(() => undefined, (x: { details?: { errorCode?: string } }) => x);
    expect(missingParent?.details?.errorCode).toBe("ParentNotFound");
  });

  it("requires the bearer token and x-ms-file-request-intent", async () => {
    const noIntent = await armRequest(e, "GET", "/files/acct1/data/Users?restype=directory");
    expect([noIntent.status, noIntent.headers["x-ms-error-code"]]).toEqual([400, "MissingRequiredHeader"]);
    const noToken = await armRequest(e, "GET", "/files/acct1/data/Users?restype=directory", undefined, { authorization: "", "x-ms-file-request-intent": "backup" });
    expect(noToken.status).toBe(401);
  });
});

describe("faults and throttling", () => {
  it("absorbs injected 429s (Retry-After), 500s and dropped connections through the SDK's retry policy", async () => {
    emu.setConfig({ faults: { next429: 2, retryAfterSeconds: 0 } });
    const skus = computeClient(e).resourceSkus.list();
    let n = 0;
    for await (const _ of skus) n++;
    expect(n).toBeGreaterThan(10);
    expect(emu.getConfig().faults.next429).toBe(0);
    emu.setConfig({ faults: { next500: 1, nextDrop: 1 } });
    const subnet = await networkClient(e).subnets.get(RG, "vnet-test", "compute");
    expect(subnet.name).toBe("compute");
    expect(emu.getConfig().faults.next500 + emu.getConfig().faults.nextDrop).toBe(0);
  });

  it("throttles writes per subscription with 429 + Retry-After, which the SDK waits out", async () => {
    emu.setConfig({ throttle: { enabled: true, burst: 1, refillPerSecond: 2 } });
    try {
      const path = `/subscriptions/${SUB}/resourceGroups/${RG}/providers/Microsoft.Network/networkSecurityGroups/throttled?api-version=2024-05-01`;
      const first = await armRequest(e, "PUT", path, { location: LOCATION });
      expect(first.status).toBe(201);
      const second = await armRequest(e, "PUT", path, { location: LOCATION, tags: { a: "b" } });
      expect(second.status).toBe(429);
      expect(second.json<{ error: { code: string } }>().error.code).toBe("SubscriptionRequestsThrottled");
      expect(Number(second.headers["retry-after"])).toBeGreaterThanOrEqual(1);
      const nsg = await networkClient(e).networkSecurityGroups.beginCreateOrUpdateAndWait(RG, "throttled", { location: LOCATION, tags: { a: "c" } }, { updateIntervalInMs: 20 });
      expect(nsg.tags).toEqual({ a: "c" });
    } finally {
      emu.setConfig({ throttle: { enabled: true, burst: 200, refillPerSecond: 10 } });
    }
  });

  it("changes config at runtime through the admin endpoint and validates it", async () => {
    const ok = await armRequest(e, "POST", "/admin/config", { latencyMs: { nsgPut: 5 } });
    expect(ok.status).toBe(200);
    expect(emu.getConfig().latencyMs.nsgPut).toBe(5);
    const bad = await armRequest(e, "POST", "/admin/config", { faults: { rate429: 3 } });
    expect(bad.status).toBe(400);
    expect(bad.json<{ error: { message: string } }>().error.message).toContain("faults.rate429");
    const state = await armRequest(e, "GET", "/admin/state");
    expect(state.json<{ subnets: string[] }>().subnets).toHaveLength(1);
  });
});
