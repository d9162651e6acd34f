// Durable entities through the fixture app, the real library and our engine, with the task hub
// in Azurite: the HTTP API and the library's client, calls/signals/locks from orchestrations
// (their event ids as the library numbers them), ordering, deletion, and kill -9 of the host.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestAzurite, type AzuriteProcess } from "../support/azurite";
import { eventually, startHost, type TestHost } from "../support/host";
import { FIXTURE_APP, http, useFixtureHost, start, waitFor } from "./support";

type Counter = { value: number; log: string[] };
const ENTITIES = "/runtime/webhooks/durabletask/entities";

const fx = useFixtureHost();

async function signal(baseUrl: string, key: string, op: string, input?: unknown): Promise<void> {
  const r = await http(baseUrl, "POST", `${ENTITIES}/Tally/${encodeURIComponent(key)}?op=${op}`, input);
  expect(r.status).toBe(202);
}

async function state(baseUrl: string, key: string): Promise<Counter | undefined> {
  const r = await http(baseUrl, "GET", `${ENTITIES}/Tally/${encodeURIComponent(key)}`);
  if (r.status === 404) return undefined;
  expect(r.status).toBe(200);
  return r.json as Counter;
}

const stateWhere = (baseUrl: string, key: string, done: (s: Counter | undefined) => boolean, timeoutMs = 30_000) =>
  eventually(() => state(baseUrl, key), done, timeoutMs, 20);

describe("clients", () => {
  it("signal through the HTTP API and read the state back", async () => {
    await signal(fx.base, "http-1", "add", 3);
    await signal(fx.base, "http-1", "append", "x");
    const s = await stateWhere(fx.base, "http-1", (v) => v?.log.length === 1);
    expect(s).toEqual({ value: 3, log: ["x"] });
  });

  it("signal and read through the library's DurableClient (the rpc routes)", async () => {
    expect((await http(fx.base, "POST", "/api/counter/client-1?op=add", 4)).status).toBe(202);
    expect((await http(fx.base, "POST", "/api/counter/client-1?op=add", 6)).status).toBe(202);
    const r = await eventually(
      async () => (await http(fx.base, "GET", "/api/counter/client-1")).json as { exists: boolean; state: Counter | null },
      (v) => v.state?.value === 10,
      30_000,
      20,
    );
    expect(r).toEqual({ exists: true, state: { value: 10, log: [] } });
    expect((await http(fx.base, "GET", "/api/counter/never-signalled")).json).toEqual({ exists: false, state: null });
  });

  it("refuse unknown entity functions and bad input like Azure", async () => {
    const unknown = await http(fx.base, "POST", `${ENTITIES}/NoSuchEntity/k?op=x`, 1);
    expect(unknown.status).toBe(400);
    expect(JSON.stringify(unknown.json)).toContain("doesn't exist, is disabled, or is not an entity function");
    const bad = await http(fx.base, "POST", `${ENTITIES}/Tally/k?op=add`, "{not json", true);
    expect(bad.status).toBe(400);
    expect((await http(fx.base, "GET", `${ENTITIES}/Tally/never-signalled`)).status).toBe(404);
    // Orchestration instance ids must not look like entity ids.
    expect((await http(fx.base, "POST", "/runtime/webhooks/durabletask/orchestrators/CounterCaller/@tally@x", "")).status).toBe(400);
  });

  it("delete the entity (DELETE signals 'delete'), and list what exists", async () => {
    await signal(fx.base, "list-a", "add", 1);
    await signal(fx.base, "list-b", "add", 2);
    await stateWhere(fx.base, "list-b", (v) => v?.value === 2);
    await stateWhere(fx.base, "list-a", (v) => v?.value === 1);
    expect((await http(fx.base, "DELETE", `${ENTITIES}/Tally/list-a`)).status).toBe(202);
    await stateWhere(fx.base, "list-a", (v) => v === undefined);
    const list = (await http(fx.base, "GET", `${ENTITIES}/Tally?fetchState=true&top=1000`)).json as { entityId: { name: string; key: string }; state: Counter }[];
    const keys = list.map((e) => e.entityId.key);
    expect(keys).toContain("list-b");
    expect(keys).not.toContain("list-a");
    expect(list.find((e) => e.entityId.key === "list-b")).toMatchObject({ entityId: { name: "tally", key: "list-b" }, state: { value: 2 } });
  });
});

describe("purge", () => {
  it("purges an entity instance by its instance id, like an orchestration's history", async () => {
    await signal(fx.base, "purge-me", "add", 5);
    await stateWhere(fx.base, "purge-me", (v) => v?.value === 5);
    const r = await http(fx.base, "DELETE", `/runtime/webhooks/durabletask/instances/${encodeURIComponent("@tally@purge-me")}`);
    expect(r).toMatchObject({ status: 200, json: { instancesDeleted: 1 } });
    expect(await state(fx.base, "purge-me")).toBeUndefined();
    expect((await http(fx.base, "DELETE", `/runtime/webhooks/durabletask/instances/${encodeURIComponent("@tally@purge-me")}`)).status).toBe(404);
    // Purged means gone: the next signal starts from nothing.
    await signal(fx.base, "purge-me", "add", 1);
    expect(await stateWhere(fx.base, "purge-me", (v) => v?.value === 1)).toEqual({ value: 1, log: [] });
  });
});

describe("ordering", () => {
  it("applies signals one at a time: concurrent adds all count", async () => {
    await Promise.all(Array.from({ length: 100 }, () => signal(fx.base, "concurrent", "add", 1)));
    expect(await stateWhere(fx.base, "concurrent", (v) => (v?.value ?? 0) >= 100)).toEqual({ value: 100, log: [] });
  });

  it("applies the signals of one sender in the order they were sent", async () => {
    for (let i = 0; i < 30; i++) await signal(fx.base, "ordered", "append", String(i));
    const s = await stateWhere(fx.base, "ordered", (v) => v?.log.length === 30);
    expect(s!.log).toEqual(Array.from({ length: 30 }, (_, i) => String(i)));
  });
});

describe("orchestrations", () => {
  it("call (with results and errors) and signal, numbered like the library", async () => {
    const id = await start(fx.base, "CounterCaller", "orch-1");
    const s = await waitFor(fx.base, id);
    expect(s.runtimeStatus).toBe("Completed");
    // add returns nothing; the signal is applied before the next call; a failed operation throws in the orchestrator.
    expect(s.output).toEqual({ first: null, after: 15, failed: "error", both: [15, 42] });
    // Every message to an entity takes an event id (signals too); the activity after them gets the next one.
    const h = await fx.host.engine.history(id);
    expect(h.filter((e) => e.EventType === 14).map((e) => e.EventId)).toEqual([0, 1, 2, 3, 4]);
    expect(h.filter((e) => e.EventType === 4).map((e) => e.EventId)).toEqual([5]);
  });

  it("signal counters and entities signal each other", async () => {
    const id = await start(fx.base, "CounterSignaller", { keys: ["sig-a", "sig-b", "sig-c"], amount: 2 });
    expect((await waitFor(fx.base, id)).output).toBe(3);
    for (const k of ["sig-a", "sig-b", "sig-c"]) expect((await stateWhere(fx.base, k, (v) => v?.value === 2))!.value).toBe(2);
    await signal(fx.base, "fwd-src", "forward", { key: "fwd-dst", amount: 9 });
    expect((await stateWhere(fx.base, "fwd-dst", (v) => v?.value === 9))!.value).toBe(9);
  });

  it("fail when calling an entity function that does not exist", async () => {
    const s = await waitFor(fx.base, await start(fx.base, "CallsUnknownEntity"));
    expect(s.runtimeStatus).toBe("Failed");
    expect(String(s.output)).toContain("The function 'nosuchentity' doesn't exist, is disabled, or is not an entity function.");
  });

  it("lock entities: a critical section holds back other callers until released", async () => {
    await signal(fx.base, "lock-from", "add", 100);
    await stateWhere(fx.base, "lock-from", (v) => v?.value === 100);
    const id = await start(fx.base, "LockedTransfer", { from: "lock-from", to: "lock-to", amount: 30 });
    await waitFor(fx.base, id, (s) => s.customStatus === "locked");
    // Sent before the orchestration's own operation, applied after the section ends.
    await signal(fx.base, "lock-from", "append", "client");
    expect((await http(fx.base, "POST", `/runtime/webhooks/durabletask/instances/${id}/raiseEvent/go`, "")).status).toBe(202);
    const s = await waitFor(fx.base, id);
    expect(s.runtimeStatus).toBe("Completed");
    expect(s.output).toEqual({ held: true, owned: ["lock-from", "lock-to"], balance: 100, after: false });
    expect(await stateWhere(fx.base, "lock-from", (v) => v?.log.length === 2)).toEqual({ value: 70, log: ["inside", "client"] });
    expect((await state(fx.base, "lock-to"))!.value).toBe(30);
    // Lock request, then the section's calls, then one release per locked entity, each with its own id.
    const sent = (await fx.host.engine.history(id)).filter((e) => e.EventType === 14);
    expect(sent.map((e) => [e.EventId, e.Name, e.InstanceId])).toEqual([
      [0, "op", "@tally@lock-from"],
      [1, "op", "@tally@lock-from"],
      [2, "op", "@tally@lock-from"],
      [3, "op", "@tally@lock-from"],
      [4, "op", "@tally@lock-to"],
      [5, "release", "@tally@lock-from"],
      [6, "release", "@tally@lock-to"],
    ]);
  });

  it("fail on a locking-rule violation, releasing the lock in finally", async () => {
    const s = await waitFor(fx.base, await start(fx.base, "NestedLock", "lock-nested"));
    expect(s.runtimeStatus).toBe("Failed");
    expect(String(s.output)).toContain("Cannot acquire more locks when already holding some locks.");
    await signal(fx.base, "lock-nested", "add", 2);
    expect((await stateWhere(fx.base, "lock-nested", (v) => v?.value === 2))!.value).toBe(2);
  });

  it("release the locks of an orchestration that ends inside its critical section", async () => {
    const s = await waitFor(fx.base, await start(fx.base, "LockAndEnd", "lock-end"));
    expect(s.runtimeStatus).toBe("Completed");
    await signal(fx.base, "lock-end", "add", 1);
    expect((await stateWhere(fx.base, "lock-end", (v) => v?.value === 1))!.value).toBe(1);
  });
});

describe("durability", () => {
  let crashAzurite: AzuriteProcess;
  let crashHost: TestHost | undefined;
  beforeAll(async () => {
    crashAzurite = await startTestAzurite();
  });
  afterAll(async () => {
    await crashHost?.stop();
    await crashAzurite?.stop();
  });

  it("loses and repeats no acknowledged signal across kill -9, and a held lock survives it", async () => {
    const env = { AzureWebJobsStorage: crashAzurite.connectionString };
    crashHost = await startHost({ appDir: FIXTURE_APP, env });
    const base0 = crashHost.baseUrl;
    await signal(base0, "crash-from", "add", 50);
    await stateWhere(base0, "crash-from", (v) => v?.value === 50);
    const lockId = await start(base0, "LockedTransfer", { from: "crash-from", to: "crash-to", amount: 20 });
    await waitFor(base0, lockId, (s) => s.customStatus === "locked");
    const N = 300;
    let next = 0;
    await Promise.all(
      Array.from({ length: 16 }, async () => {
        while (next < N) {
          next++;
          await signal(base0, "crash-count", "add", 1);
        }
      }),
    );
    await signal(base0, "crash-from", "append", "client");
    await crashHost.kill9();
    crashHost = await startHost({ appDir: FIXTURE_APP, env, dataDir: crashHost.dataDir });
    const base1 = crashHost.baseUrl;
    expect(await stateWhere(base1, "crash-count", (v) => (v?.value ?? 0) >= N, 60_000)).toEqual({ value: N, log: [] });
    expect((await http(base1, "POST", `/runtime/webhooks/durabletask/instances/${lockId}/raiseEvent/go`, "")).status).toBe(202);
    const s = await waitFor(base1, lockId, undefined, 60_000);
    expect(s.output).toEqual({ held: true, owned: ["crash-from", "crash-to"], balance: 50, after: false });
    expect(await stateWhere(base1, "crash-from", (v) => v?.log.length === 2)).toEqual({ value: 30, log: ["inside", "client"] });
    // Nothing ran twice: a second look finds the same count.
    expect((await state(base1, "crash-count"))!.value).toBe(N);
  }, 180_000);
});
