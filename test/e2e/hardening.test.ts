// Regression tests for the defects an adversarial run of the API found (issue 11), through the
// whole stack: a job and its operations stay with the instance incarnation that ran them;
// continuation tokens are ours or a 400; deep or huge JSON bodies are a 400/413 before any
// other work; the durable management API needs the system key. (Secrets at rest: see
// test/activities/jobActivities.test.ts.)
import fs from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { eventually, type Caller, type Stack, startStack } from "../support/stack";
import { runningInstance, submit, waitJob, type Job } from "./jobs.support";

let stack: Stack;
beforeAll(async () => {
  stack = await startStack();
});
afterAll(() => stack?.stop());

type ErrorBody = { error: { code: string; message: string; target?: string } };
type Op = { id: string };

async function deleteAndWait(name: string, as: Caller): Promise<void> {
  const res = await stack.api("DELETE", `/api/instances/${name}`, { as });
  expect(res.status, res.text).toBe(202);
  await eventually(async () => (await stack.api("GET", `/api/instances/${name}`, { as: "admin" })).status, (s) => s === 404, 60_000, 200);
}

async function waitState(name: string, as: Caller, states: string[]): Promise<void> {
  await eventually(async () => (await stack.api<{ state: string }>("GET", `/api/instances/${name}`, { as })).body.state, (s) => states.includes(s), 60_000, 200);
}

describe("a job belongs to the instance incarnation that ran it", () => {
  test("a later owner of the name sees none of the earlier owner's jobs, logs or operations", async () => {
    await runningInstance(stack, "reuse-1", "Standard_D2s_v5", "alice");
    const job = await submit(stack, "reuse-1", { command: "echo output-of-alice" });
    expect((await waitJob(stack, job.id)).state).toBe("Completed");
    const del = await stack.api<Op>("DELETE", `/api/instances/reuse-1`, { as: "alice" });
    expect(del.status).toBe(202);
    await eventually(async () => (await stack.api("GET", `/api/instances/reuse-1`, { as: "admin" })).status, (s) => s === 404, 60_000, 200);

    await runningInstance(stack, "reuse-1", "Standard_D2s_v5", "bob");
    expect((await stack.api("GET", `/api/jobs/${job.id}`, { as: "bob" })).status).toBe(404);
    expect((await stack.api("GET", `/api/jobs/${job.id}/logs`, { as: "bob" })).status).toBe(404);
    expect((await stack.api("POST", `/api/jobs/${job.id}/cancel`, { as: "bob" })).status).toBe(404);
    const bobsList = await stack.api<{ value: Job[] }>("GET", `/api/instances/reuse-1/jobs`, { as: "bob" });
    expect(bobsList.status).toBe(200);
    expect(bobsList.body.value.map((j) => j.id)).not.toContain(job.id);
    expect((await stack.api("GET", `/api/operations/${del.body.id}`, { as: "bob" })).status).toBe(404);

    // The submitter (and admins) keep reading it, under the incarnation it ran on.
    const mine = await stack.api<Job & { instanceId: string }>("GET", `/api/jobs/${job.id}`, { as: "alice" });
    expect(mine.status).toBe(200);
    const bobs = await stack.api<{ instanceId: string }>("GET", `/api/instances/reuse-1`, { as: "bob" });
    expect(mine.body.instanceId).toBeDefined();
    expect(mine.body.instanceId).not.toBe(bobs.body.instanceId);
    expect((await stack.api("GET", `/api/jobs/${job.id}/logs`, { as: "alice" })).text).toContain("output-of-alice");
    expect((await stack.api("GET", `/api/jobs/${job.id}`, { as: "admin" })).status).toBe(200);
    // Even the admin's list of the new instance does not mix the earlier instance's jobs in.
    const adminList = await stack.api<{ value: Job[] }>("GET", `/api/instances/reuse-1/jobs`, { as: "admin" });
    expect(adminList.body.value.map((j) => j.id)).not.toContain(job.id);
    await deleteAndWait("reuse-1", "bob");
  });

  test("an Idempotency-Key used on an earlier instance of the name does not replay its operation or job", async () => {
    await runningInstance(stack, "reuse-2", "Standard_D2s_v5", "alice");
    const key = { "Idempotency-Key": "restart-once" };
    const first = await stack.api<Op>("POST", `/api/instances/reuse-2/restart`, { as: "alice", headers: key });
    expect(first.status, first.text).toBe(202);
    await submit(stack, "reuse-2", { command: "true" }, { headers: { "Idempotency-Key": "job-once" } });
    await waitState("reuse-2", "alice", ["Running"]);
    await deleteAndWait("reuse-2", "alice");

    await runningInstance(stack, "reuse-2", "Standard_D2s_v5", "alice");
    const again = await stack.api<Op>("POST", `/api/instances/reuse-2/restart`, { as: "alice", headers: key });
    expect(again.status, again.text).toBe(202);
    expect(again.body.id).not.toBe(first.body.id);
    const job = await stack.api<ErrorBody>("POST", `/api/instances/reuse-2/jobs`, { as: "alice", body: { command: "true" }, headers: { "Idempotency-Key": "job-once" } });
    expect(job.status, job.text).toBe(409);
    expect(job.body.error.message).toContain("earlier instance");
    await waitState("reuse-2", "alice", ["Running"]);
    await deleteAndWait("reuse-2", "alice");
  });
});

describe("continuation tokens are opaque and tamper-evident", () => {
  const forged = Buffer.from(JSON.stringify({ nextPartitionKey: "ws-local", nextRowKey: "a" })).toString("base64url");

  test.each([
    ["not base64", "abc!"],
    ["short garbage", "abc"],
    ["well-formed base64 that is not ours", forged],
  ])("instances list: %s → 400 naming continuationToken", async (_what, token) => {
    const res = await stack.api<ErrorBody>("GET", `/api/instances?continuationToken=${encodeURIComponent(token)}`, { as: "admin" });
    expect(res.status, res.text).toBe(400);
    expect(res.body.error).toMatchObject({ code: "InvalidRequest", target: "continuationToken" });
  });

  test("jobs list and a token edited or carried to another list → 400; the real one works", async () => {
    await runningInstance(stack, "tokens-1", "Standard_D2s_v5", "alice");
    for (let i = 0; i < 3; i++) await submit(stack, "tokens-1", { command: "true" });
    const bad = await stack.api<ErrorBody>("GET", `/api/instances/tokens-1/jobs?continuationToken=${forged}`, { as: "alice" });
    expect(bad.status, bad.text).toBe(400);
    expect(bad.body.error.target).toBe("continuationToken");

    const page = await stack.api<{ value: Job[]; nextLink?: string }>("GET", `/api/instances/tokens-1/jobs?top=1`, { as: "alice" });
    expect(page.body.nextLink).toBeDefined();
    const token = new URL(page.body.nextLink!, stack.baseUrl).searchParams.get("continuationToken")!;
    const next = await stack.api<{ value: Job[] }>("GET", `/api/instances/tokens-1/jobs?top=1&continuationToken=${encodeURIComponent(token)}`, { as: "alice" });
    expect(next.status, next.text).toBe(200);
    expect(next.body.value[0]?.id).not.toBe(page.body.value[0]?.id);

    const [payload, sig] = token.split(".");
    const edited = `${payload}A.${sig}`;
    expect((await stack.api("GET", `/api/instances/tokens-1/jobs?continuationToken=${encodeURIComponent(edited)}`, { as: "alice" })).status).toBe(400);
    // A jobs token is not an instances token.
    expect((await stack.api("GET", `/api/instances?continuationToken=${encodeURIComponent(token)}`, { as: "alice" })).status).toBe(400);
    await deleteAndWait("tokens-1", "alice");
  });
});

describe("JSON bodies are bounded before any other work", () => {
  const deep = (n: number) => "[".repeat(n) + "]".repeat(n);

  test("deeply nested JSON → 400 on PATCH (it used to overflow the stack), PUT and job submission", async () => {
    await runningInstance(stack, "deep-1", "Standard_D2s_v5", "alice");
    const patch = await stack.api<ErrorBody>("PATCH", `/api/instances/deep-1`, { as: "alice", body: `{"vmSize":${deep(5000)}}` });
    expect(patch.status, patch.text).toBe(400);
    expect(patch.body.error).toMatchObject({ code: "InvalidRequest", target: "body" });
    const put = await stack.api<ErrorBody>("PUT", `/api/instances/deep-2`, { as: "alice", body: `{"vmSize":"Standard_D2s_v5","tags":${deep(5000)}}` });
    expect(put.status, put.text).toBe(400);
    expect((await stack.api("GET", `/api/instances/deep-2`, { as: "admin" })).status).toBe(404);
    const job = await stack.api<ErrorBody>("POST", `/api/instances/deep-1/jobs`, { as: "alice", body: `{"command":"true","environment":${deep(100)}}` });
    expect(job.status, job.text).toBe(400);
    await deleteAndWait("deep-1", "alice");
  });

  test("a body over the size limit → 413 with the error envelope", async () => {
    const res = await stack.api<ErrorBody>("PUT", `/api/instances/big-1`, { as: "alice", body: { vmSize: "Standard_D2s_v5", description: "x".repeat(300 * 1024) } });
    expect(res.status).toBe(413);
    expect(res.body.error.code).toBe("PayloadTooLarge");
  });
});

describe("the durable management API requires the system key, as in Azure", () => {
  const systemKey = () =>
    (JSON.parse(fs.readFileSync(path.join(stack.host.dataDir, "host", "keys.json"), "utf8")) as { systemKeys: { durabletask_extension: string } }).systemKeys
      .durabletask_extension;

  test.each([
    ["GET", "/runtime/webhooks/durabletask/instances?showInput=true"],
    ["POST", "/runtime/webhooks/durabletask/instances/some-id/terminate?reason=x"],
    ["POST", "/runtime/webhooks/durabletask/instances/some-id/raiseEvent/E"],
    ["DELETE", "/runtime/webhooks/durabletask/instances?runtimeStatus=Completed"],
    ["POST", "/runtime/webhooks/durabletask/orchestrators/instanceProvision"],
    ["GET", "/durabletask/instances?showInput=true"],
    ["GET", "/runtime/webhooks/durabletask/instances?code=wrong"],
  ])("%s %s without the key → 401", async (method, route) => {
    const res = await fetch(`${stack.baseUrl}${route}`, { method });
    expect(res.status).toBe(401);
  });

  test("with the system key (code or x-functions-key) it answers; the app's own client keeps working", async () => {
    const key = systemKey();
    const byCode = await fetch(`${stack.baseUrl}/runtime/webhooks/durabletask/instances?code=${encodeURIComponent(key)}`);
    expect(byCode.status).toBe(200);
    const byHeader = await fetch(`${stack.baseUrl}/runtime/webhooks/durabletask/instances`, { headers: { "x-functions-key": key } });
    expect(byHeader.status).toBe(200);
    // Starting and signalling orchestrations goes through the client binding (create, jobs).
    await runningInstance(stack, "durable-1", "Standard_D2s_v5", "alice");
    expect((await waitJob(stack, (await submit(stack, "durable-1", { command: "true" })).id)).state).toBe("Completed");
    await deleteAndWait("durable-1", "alice");
  });
});
