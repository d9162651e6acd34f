// The management API answers as the Durable extension's HttpApiHandler does: suspend/resume
// of an instance in the wrong state, status codes and headers, the status payload's fields and
// time format, and failure output without stack frames naming host files.
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startInProcessHost, type InProcessHost } from "../../bench/durable/harness";
import { startTestAzurite, type AzuriteProcess } from "../support/azurite";
import { http, start, waitFor } from "./support";

const APP = path.resolve(__dirname, "../fixtures/durable-extras-app");
const INST = "/runtime/webhooks/durabletask/instances";
const AZURE_500 = { Message: "Something went wrong while processing your request" };

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

describe("suspend and resume", () => {
  it("refuses suspending a suspended instance and resuming a running one with the extension's 500", async () => {
    const id = await start(base, "WaitsForGo");
    await waitFor(base, id, (s) => s.runtimeStatus === "Running");
    const resumeRunning = await http(base, "POST", `${INST}/${id}/resume?reason=x`);
    expect(resumeRunning.status).toBe(500);
    expect(resumeRunning.json).toEqual(AZURE_500);
    expect((await http(base, "POST", `${INST}/${id}/suspend?reason=x`)).status).toBe(202);
    await waitFor(base, id, (s) => s.runtimeStatus === "Suspended");
    const suspendSuspended = await http(base, "POST", `${INST}/${id}/suspend?reason=again`);
    expect(suspendSuspended.status).toBe(500);
    expect(suspendSuspended.json).toEqual(AZURE_500);
    expect((await http(base, "POST", `${INST}/${id}/resume?reason=go`)).status).toBe(202);
    await waitFor(base, id, (s) => s.runtimeStatus === "Running");
    await http(base, "POST", `${INST}/${id}/raiseEvent/go`, 1);
    expect((await waitFor(base, id)).runtimeStatus).toBe("Completed");
    // Finished: 410 Gone; unknown: 404.
    expect((await http(base, "POST", `${INST}/${id}/suspend`)).status).toBe(410);
    expect((await http(base, "POST", `${INST}/${id}/resume`)).status).toBe(410);
    expect((await http(base, "POST", `${INST}/no-such-instance/suspend`)).status).toBe(404);
  }, 60_000);
});

describe("status payloads", () => {
  const FIELDS = ["name", "instanceId", "runtimeStatus", "input", "customStatus", "output", "createdTime", "lastUpdatedTime"];
  const AZURE_TIME = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/;

  it("start: 202 with the extension's links, Location and Retry-After 10", async () => {
    const r = await http(base, "POST", "/runtime/webhooks/durabletask/orchestrators/WaitsForGo", "");
    expect(r.status).toBe(202);
    const body = r.json as Record<string, string>;
    expect(Object.keys(body)).toEqual(["id", "statusQueryGetUri", "sendEventPostUri", "terminatePostUri", "purgeHistoryDeleteUri", "restartPostUri", "suspendPostUri", "resumePostUri"]);
    expect(r.headers.get("location")).toBe(body.statusQueryGetUri);
    expect(r.headers.get("retry-after")).toBe("10");
    await http(base, "POST", `${INST}/${body.id}/terminate?reason=done`);
  });

  it("running: 202, Location of the request itself, Retry-After 5; the extension's fields and time format", async () => {
    const id = await start(base, "WaitsForGo", { a: 1 });
    await waitFor(base, id, (s) => s.runtimeStatus === "Running");
    const p = `${INST}/${id}?showInput=true`;
    const r = await http(base, "GET", p);
    expect(r.status).toBe(202);
    expect(r.headers.get("location")).toBe(`${base}${p}`);
    expect(r.headers.get("retry-after")).toBe("5");
    const s = r.json as Record<string, unknown>;
    expect(Object.keys(s)).toEqual(FIELDS);
    expect(s).toMatchObject({ name: "WaitsForGo", instanceId: id, runtimeStatus: "Running", input: { a: 1 }, output: null, customStatus: null });
    expect(s.createdTime).toMatch(AZURE_TIME);
    expect(s.lastUpdatedTime).toMatch(AZURE_TIME);
    // Terminated: 200, no Location.
    await http(base, "POST", `${INST}/${id}/terminate?reason=enough`);
    const t = await waitFor(base, id);
    expect(t.runtimeStatus).toBe("Terminated");
    const done = await http(base, "GET", `${INST}/${id}`);
    expect(done.status).toBe(200);
    expect(done.headers.get("location")).toBeNull();
    expect((done.json as { output: unknown }).output).toBe("enough");
  }, 60_000);

  it("failed: 200 (500 when asked with returnInternalServerErrorOnFailure), the message without stack frames or host paths", async () => {
    const id = await start(base, "ActivityFails");
    const s = await waitFor(base, id);
    expect(s.runtimeStatus).toBe("Failed");
    const r = await http(base, "GET", `${INST}/${id}`);
    expect(r.status).toBe(200);
    expect(Object.keys(r.json as object)).toEqual(FIELDS);
    const output = String((r.json as { output: unknown }).output);
    expect(output).toMatch(/^Orchestrator function 'ActivityFails' failed: Activity function 'Throws' failed: disk on fire/);
    expect(output).not.toMatch(/\n\s*at\s/);
    expect(output).not.toContain(process.cwd());
    expect(output).not.toMatch(/\.js:\d+:\d+/);
    expect((await http(base, "GET", `${INST}/${id}?returnInternalServerErrorOnFailure=true`)).status).toBe(500);
  }, 60_000);
});

describe("restart", () => {
  it("starts the orchestrator again with its original input, under a new id or the same one", async () => {
    const id = await start(base, "WaitsForGo", { job: 7 });
    await waitFor(base, id, (s) => s.runtimeStatus === "Running");

    // Default: a new instance with the same input, answered like a start.
    const fresh = await http(base, "POST", `${INST}/${id}/restart`);
    expect(fresh.status).toBe(202);
    const newId = (fresh.json as { id: string; statusQueryGetUri: string }).id;
    expect(newId).not.toBe(id);
    expect((fresh.json as { statusQueryGetUri: string }).statusQueryGetUri).toContain(newId);
    const s = await waitFor(base, newId, (x) => x.runtimeStatus === "Running");
    expect(s).toMatchObject({ name: "WaitsForGo", input: { job: 7 } });

    // The same id only once the instance has ended (StartNewAsync's rule): the catch-all's 500 before.
    expect((await http(base, "POST", `${INST}/${id}/restart?restartWithNewInstanceId=false`)).status).toBe(500);
    await http(base, "POST", `${INST}/${id}/raiseEvent/go`, "done");
    expect((await waitFor(base, id)).runtimeStatus).toBe("Completed");
    const again = await http(base, "POST", `${INST}/${id}/restart?restartWithNewInstanceId=false`);
    expect(again.status).toBe(202);
    expect((again.json as { id: string }).id).toBe(id);
    expect((await waitFor(base, id, (x) => x.runtimeStatus === "Running")).input).toEqual({ job: 7 });

    expect((await http(base, "POST", `${INST}/no-such-instance/restart`)).status).toBe(400);
    for (const i of [id, newId]) await http(base, "POST", `${INST}/${i}/terminate?reason=done`);
  });
});
