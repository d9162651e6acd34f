// The job agent's failure behaviour end to end (real agent processes on the emulator's VMs,
// the real app in the local host): a kill -9 of the agent mid-job, a queue message delivered
// twice, a report forged with another instance's identity, and a VM stop with running and
// queued jobs. A job ends exactly once with its real exit code, or Failed with a reason;
// never lost, never run twice.
import fs from "node:fs";
import path from "node:path";
import { TableClient } from "@azure/data-tables";
import { QueueClient } from "@azure/storage-queue";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { agentQueueName } from "../../shared/jobs/agent";
import { connectionStringStorage } from "../../shared/azure/storageConnection";
import { createStorageClients } from "../../shared/azure/clients";
import { jobRecords, type JobRecord } from "../../shared/jobs/record";
import { testAzureConfig } from "../activities/support";
import { eventually, startStack, type Stack } from "../support/stack";
import { getJob, runningInstance, submit, userDir, waitJob } from "./jobs.support";

let stack: Stack;
beforeAll(async () => {
  // Heartbeats every 5 s: the backstop waits 4 of them (20 s) before calling an agent lost, room
  // for the kill -9 test's agent to restart on a loaded machine (with 2 s, 8 s was not always enough).
  stack = await startStack({ env: { JOBS_AGENT_HEARTBEAT_SECONDS: "5", JOBS_RECONCILE_SCHEDULE: "*/2 * * * * *" } });
  await Promise.all([runningInstance(stack, "ag-a"), runningInstance(stack, "ag-b")]);
}, 180_000);
afterAll(() => stack?.stop());

/** Live processes (not zombies) whose environment has `name=value`, with their environment. */
function processesWith(name: string, value: string): { pid: number; env: Map<string, string> }[] {
  const out: { pid: number; env: Map<string, string> }[] = [];
  for (const entry of fs.readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const raw = fs.readFileSync(`/proc/${entry}/environ`, "latin1").split("\0");
      const env = new Map(raw.filter(Boolean).map((kv) => [kv.slice(0, kv.indexOf("=")), kv.slice(kv.indexOf("=") + 1)] as [string, string]));
      if (env.get(name) === value && !/\) Z /.test(fs.readFileSync(`/proc/${entry}/stat`, "utf8"))) out.push({ pid: Number(entry), env });
    } catch {
      // gone meanwhile
    }
  }
  return out;
}

/** The agent process of an instance's VM (the service, not a job it started). */
function agentOf(instance: string): { pid: number; env: Map<string, string> } {
  const agents = processesWith("CI_NAME", instance).filter((p) => p.env.has("CI_AGENT_QUEUE_URL"));
  if (agents.length !== 1) throw new Error(`expected one agent for ${instance}, found ${agents.length}`);
  return agents[0]!;
}

describe("agent", () => {
  it("kill -9 of the agent mid-job: the job keeps running, is adopted by the restarted agent and ends once with its real exit code", async () => {
    const job = await submit(stack, "ag-a", { name: "survivor", command: "mkdir -p k9; echo $JOB_ID >> k9/$JOB_ID; for _ in $(seq 1 100); do [ -f k9/go ] && break; sleep 0.1; done; exit 7" });
    await waitJob(stack, job.id, ["Running"]);
    const before = agentOf("ag-a");
    process.kill(before.pid, "SIGKILL");
    // systemd's Restart=always (the emulator honours it) brings a new agent; the job runs on meanwhile.
    const after = await eventually(async () => processesWith("CI_NAME", "ag-a").filter((p) => p.env.has("CI_AGENT_QUEUE_URL")), (ps) => ps.length === 1 && ps[0]!.pid !== before.pid, 30_000, 100);
    expect(after[0]!.pid).not.toBe(before.pid);
    expect((await getJob(stack, job.id)).state).toBe("Running");
    fs.writeFileSync(path.join(userDir(stack), "k9", "go"), "");
    const ended = await waitJob(stack, job.id);
    expect(ended).toMatchObject({ state: "Failed", exitCode: 7 });
    expect(fs.readFileSync(path.join(userDir(stack), "k9", job.id), "utf8")).toBe(`${job.id}\n`);
  }, 90_000);

  it("a queue message delivered twice runs the job once", async () => {
    const job = await submit(stack, "ag-a", { name: "twice", command: "mkdir -p twice; echo $JOB_ID >> twice/$JOB_ID" });
    expect((await waitJob(stack, job.id)).state).toBe("Completed");
    // At-least-once delivery: the same run message again (as after a lost delete).
    const queue = new QueueClient(stack.azurite.connectionString, agentQueueName("ag-a"));
    await queue.sendMessage(JSON.stringify({ type: "run", jobId: job.id }));
    await eventually(async () => (await queue.peekMessages({ numberOfMessages: 32 })).peekedMessageItems.length, (n) => n === 0, 30_000, 200);
    const again = await getJob(stack, job.id);
    expect(again.state).toBe("Completed");
    expect(again.endedAt).toBe((await getJob(stack, job.id)).endedAt);
    expect(fs.readFileSync(path.join(userDir(stack), "twice", job.id), "utf8")).toBe(`${job.id}\n`);
  }, 60_000);

  it("a report forged with another instance's VM identity is refused (403) and changes nothing", async () => {
    const job = await submit(stack, "ag-a", { name: "victim", command: "for _ in $(seq 1 300); do [ -f victim-go ] && break; sleep 0.1; done" });
    await waitJob(stack, job.id, ["Running"]);
    // A process on ag-b's VM asks its own IMDS for a token for the app, as the agent does.
    const imds = agentOf("ag-b").env.get("AZURE_POD_IDENTITY_AUTHORITY_HOST")!;
    const audience = stack.settings.JOBS_AGENT_APP_AUDIENCE!;
    const tok = await fetch(`${imds}/metadata/identity/oauth2/token?api-version=2018-02-01&resource=${encodeURIComponent(audience)}`, { headers: { Metadata: "true" } });
    expect(tok.status).toBe(200);
    const { access_token } = (await tok.json()) as { access_token: string };
    for (const report of [{ kind: "exited", outcome: { state: "Completed", exitCode: 0 } }, { kind: "started" }, { kind: "heartbeat" }]) {
      const res = await fetch(`${stack.baseUrl}/api/agent/jobs/${job.id}/reports`, {
        method: "POST",
        headers: { authorization: `Bearer ${access_token}`, "content-type": "application/json" },
        body: JSON.stringify(report),
      });
      expect(res.status).toBe(403);
    }
    expect(stack.host.output()).toContain(`agent report refused: job ${job.id} of instance ag-a`);
    // A user's token is no VM identity either.
    const asUser = await stack.api("POST", `/api/agent/jobs/${job.id}/reports`, { as: "alice", body: { kind: "exited", outcome: { state: "Completed" } } });
    expect(asUser.status).toBe(403);
    expect((await getJob(stack, job.id)).state).toBe("Running");
    fs.writeFileSync(path.join(userDir(stack), "victim-go"), "");
    expect((await waitJob(stack, job.id)).state).toBe("Completed");
  }, 60_000);

  it("a hand-over whose answer was lost: 'started' again with the same claim gets the same answer, any other is refused", async () => {
    // The agent is paused (not dead: systemd would restart it), and the test plays its part with
    // its VM identity, as an agent whose host died between recording "started" and answering.
    const agent = agentOf("ag-a");
    process.kill(agent.pid, "SIGSTOP");
    try {
      const job = await submit(stack, "ag-a", { name: "lost-answer", command: "true", environment: { variables: { LOST_ANSWER: "v1" } } });
      const queue = new QueueClient(stack.azurite.connectionString, agentQueueName("ag-a"));
      const got = await eventually(async () => (await queue.receiveMessages({ numberOfMessages: 1, visibilityTimeout: 300 })).receivedMessageItems, (ms) => ms.length === 1, 30_000, 100);
      expect(JSON.parse(got[0]!.messageText)).toEqual({ type: "run", jobId: job.id });
      await queue.deleteMessage(got[0]!.messageId, got[0]!.popReceipt);
      const imds = agent.env.get("AZURE_POD_IDENTITY_AUTHORITY_HOST")!;
      const tok = await fetch(`${imds}/metadata/identity/oauth2/token?api-version=2018-02-01&resource=${encodeURIComponent(stack.settings.JOBS_AGENT_APP_AUDIENCE!)}`, { headers: { Metadata: "true" } });
      const { access_token } = (await tok.json()) as { access_token: string };
      const report = (body: unknown) =>
        fetch(`${stack.baseUrl}/api/agent/jobs/${job.id}/reports`, { method: "POST", headers: { authorization: `Bearer ${access_token}`, "content-type": "application/json" }, body: JSON.stringify(body) });
      const claim = "0b9f3c1e-2a4d-4c55-9e0a-7d1f2b3c4d5e";
      const first = await report({ kind: "started", claim });
      expect(first.status).toBe(200);
      const answer = (await first.json()) as { command: string; env: Record<string, string> };
      expect(answer.env.LOST_ANSWER).toBe("v1");
      const again = await report({ kind: "started", claim });
      expect(again.status).toBe(200);
      expect(((await again.json()) as typeof answer).env).toEqual(answer.env);
      expect((await report({ kind: "started", claim: "another-claim-of-someone" })).status).toBe(409);
      expect((await report({ kind: "started" })).status).toBe(409);
      // The agent's next report says it has the job: the variables leave, and the claim no longer hands it out.
      expect((await report({ kind: "heartbeat" })).status).toBe(200);
      const jobs = TableClient.fromConnectionString(stack.azurite.connectionString, "jobs", { allowInsecureConnection: true });
      const rows: Record<string, unknown>[] = [];
      for await (const e of jobs.listEntities<Record<string, unknown>>({ queryOptions: { filter: `RowKey eq '${job.id}'` } })) rows.push(e);
      expect(JSON.stringify(rows)).not.toContain("LOST_ANSWER");
      expect((await report({ kind: "started", claim })).status).toBe(409);
      expect((await report({ kind: "exited", outcome: { state: "Completed", exitCode: 0 } })).status).toBe(202);
      expect((await waitJob(stack, job.id)).state).toBe("Completed");
    } finally {
      process.kill(agent.pid, "SIGCONT");
    }
  }, 60_000);

  it("raising jobsPerCore (PATCH) lets a queued job start at once; the instance shows the new cap", async () => {
    // Standard_D2s_v5 with the default 2 per core: cap 4. Four hold their slots until released.
    const hold = "for _ in $(seq 1 600); do [ -f cap-go ] && break; sleep 0.1; done";
    const jobs = await Promise.all(Array.from({ length: 5 }, (_, i) => submit(stack, "ag-a", { name: `cap-${i}`, command: hold })));
    const states = async () => Promise.all(jobs.map(async (j) => (await getJob(stack, j.id)).state));
    await eventually(states, (s) => s.filter((x) => x === "Running").length === 4 && s.filter((x) => x === "Queued").length === 1, 60_000, 200);
    const patched = await stack.api<{ jobs: { cap: number } }>("PATCH", "/api/instances/ag-a", { as: "alice", body: { jobsPerCore: 3 } });
    expect(patched.status, patched.text).toBe(200);
    expect(patched.body.jobs.cap).toBe(6);
    // No slot was freed: the queue took the new cap.
    expect(await eventually(states, (s) => s.every((x) => x === "Running"), 60_000, 200)).toHaveLength(5);
    fs.writeFileSync(path.join(userDir(stack), "cap-go"), "");
    for (const j of jobs) expect((await waitJob(stack, j.id)).state).toBe("Completed");
  }, 120_000);

  it("a submission interrupted between its record and its orchestration is queued by the reconcile timer and runs", async () => {
    // As a host killed after writing the record leaves it: Queued, three minutes old, no orchestration.
    const inst = await stack.api<{ instanceId: string }>("GET", "/api/instances/ag-a", { as: "alice" });
    const storage = createStorageClients(testAzureConfig({ storage: connectionStringStorage(stack.azurite.connectionString) }));
    const id = "orphan0submission0x1";
    const record: JobRecord = {
      id, name: "orphan", instance: "ag-a", instanceId: inst.body.instanceId, state: "Queued", command: "mkdir -p orphan; echo $JOB_ID >> orphan/$JOB_ID",
      gpus: 0, timeoutMinutes: 5, submittedBy: "alice", submittedAt: new Date(Date.now() - 3 * 60_000).toISOString(), source: "http",
    };
    await jobRecords(storage).create(record);
    expect((await waitJob(stack, id, ["Completed", "Failed", "Canceled", "TimedOut"], 60_000)).state).toBe("Completed");
    expect(fs.readFileSync(path.join(userDir(stack), "orphan", id), "utf8")).toBe(`${id}\n`);
    expect(stack.host.output()).toContain(`job ${id} on ag-a had no orchestration`);
  }, 90_000);

  it("secrets at rest: variables reach the job and leave the jobs table once the VM has it; the log SAS lives for the timeout plus a margin", async () => {
    const secret = "s3cr3t-value-for-the-vm";
    const submitted = Date.now();
    const job = await submit(stack, "ag-a", {
      name: "secret",
      command: "echo $MY_TOKEN > secret.out; for _ in $(seq 1 300); do [ -f secret-go ] && break; sleep 0.1; done",
      timeoutMinutes: 5,
      environment: { variables: { MY_TOKEN: secret } },
    });
    await waitJob(stack, job.id, ["Running"]);
    // The agent's journal on the VM's disk holds the running job's write-only log URLs (for a
    // restart), never its variables; the URLs expire after the timeout plus a margin, not a day.
    const root = agentOf("ag-a").env.get("VM_ROOT") ?? "";
    const entry = fs.readFileSync(path.join(root, "var/lib/ci-agent/jobs", job.id, "entry.json"), "utf8");
    expect(entry).not.toContain(secret);
    const sasUrl = (JSON.parse(entry) as { logs: { stdout: string } }).logs.stdout;
    const expiry = Date.parse(new URL(sasUrl).searchParams.get("se")!);
    expect(expiry - submitted).toBeGreaterThanOrEqual(5 * 60_000);
    expect(expiry - submitted).toBeLessThanOrEqual(20 * 60_000);
    fs.writeFileSync(path.join(userDir(stack), "secret-go"), "");
    expect((await waitJob(stack, job.id)).state).toBe("Completed");
    expect(fs.readFileSync(path.join(userDir(stack), "secret.out"), "utf8")).toBe(`${secret}\n`);
    // The stored row (every column) no longer holds it.
    const rows: Record<string, unknown>[] = [];
    const jobs = TableClient.fromConnectionString(stack.azurite.connectionString, "jobs", { allowInsecureConnection: true });
    for await (const e of jobs.listEntities<Record<string, unknown>>({ queryOptions: { filter: `RowKey eq '${job.id}'` } })) rows.push(e);
    expect(rows).toHaveLength(1);
    expect(JSON.stringify(rows)).not.toContain(secret);
  }, 60_000);

  it("a VM stop with running and queued jobs: the running ones Canceled 'instance stopped', the queued one runs after the start", async () => {
    // Standard_D2s_v5 → cap 4: four hold the slots, the fifth waits.
    const running = await Promise.all(Array.from({ length: 4 }, (_, i) => submit(stack, "ag-b", { name: `hold-${i}`, command: "sleep 300" })));
    const queued = await submit(stack, "ag-b", { name: "after-start", command: "echo ran-after-start" });
    await Promise.all(running.map((j) => waitJob(stack, j.id, ["Running"])));
    expect((await getJob(stack, queued.id)).state).toBe("Queued");
    expect((await stack.api("POST", "/api/instances/ag-b/stop", { as: "alice" })).status).toBe(202);
    for (const j of running) expect(await waitJob(stack, j.id)).toMatchObject({ state: "Canceled", error: { message: "instance stopped" } });
    await eventually(async () => (await stack.api<{ state: string }>("GET", "/api/instances/ag-b", { as: "alice" })).body.state, (s) => s === "Stopped", 60_000, 250);
    // The VM is gone with every process of it.
    expect(processesWith("CI_NAME", "ag-b")).toEqual([]);
    expect((await getJob(stack, queued.id)).state).toBe("Queued");
    expect((await stack.api("POST", "/api/instances/ag-b/start", { as: "alice" })).status).toBe(202);
    expect((await waitJob(stack, queued.id, ["Completed", "Failed", "Canceled", "TimedOut"], 90_000)).state).toBe("Completed");
    expect((await stack.api("GET", `/api/jobs/${queued.id}/logs`, { as: "alice" })).text).toBe("ran-after-start\n");
  }, 180_000);
});
