// Jobs end to end over HTTP: the real app in the local host, Azurite and the cloud emulator.
// A 2-vCPU instance (cap 4): 3×cap jobs never run more than 4 at once and reach 4; logs,
// cancel of a queued and of a running job, timeout, GPU waits, and the queue trigger. Jobs run
// through the agent on the emulated VM (no ARM run command per job).
import path from "node:path";
import { QueueClient } from "@azure/storage-queue";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startStack, eventually, type Stack } from "../support/stack";
import { barrierCommand, getJob, jobProcesses, markedCommand, maxOverlap, readMarks, runningInstance, submit, userDir, waitAll, waitJob, type Job } from "./jobs.support";

let stack: Stack;
beforeAll(async () => {
  stack = await startStack();
  await runningInstance(stack, "ci-jobs");
}, 120_000);
afterAll(() => stack?.stop());

describe("cap and results", () => {
  it("runs 3×cap jobs with at most cap at once, reaching cap; all Completed with their logs", async () => {
    const cap = 4;
    const jobs = await Promise.all(
      // Each job waits (bounded) until `cap` jobs have started: reaching the cap does not depend on timing.
      Array.from({ length: 3 * cap }, (_, i) => submit(stack, "ci-jobs", { name: `cap-${i}`, command: `${barrierCommand(cap, 0.5, "marks-cap")}; echo out-$JOB_ID; echo err-$CI_NAME-$CI_USER >&2` })),
    );
    expect(jobs.every((j) => j.state === "Queued")).toBe(true);
    const done = await waitAll(stack, jobs.map((j) => j.id));
    expect(done.map((j) => j.state)).toEqual(jobs.map(() => "Completed"));
    expect(done.every((j) => j.exitCode === 0 && j.startedAt && j.endedAt)).toBe(true);
    const marks = readMarks(path.join(userDir(stack), "marks-cap"));
    expect(marks).toHaveLength(3 * cap);
    expect(maxOverlap(marks)).toBe(cap);
    const logs = await stack.api("GET", `/api/jobs/${jobs[0]!.id}/logs`, { as: "alice" });
    expect(logs.status).toBe(200);
    expect(logs.headers.get("content-type")).toContain("text/plain");
    expect(logs.text).toBe(`out-${jobs[0]!.id}\nerr-ci-jobs-alice\n`);
    const inst = await stack.api<{ state: string; jobs: { queued: number; running: number; cap: number } }>("GET", "/api/instances/ci-jobs", { as: "alice" });
    await eventually(async () => (await stack.api<{ state: string; jobs: { running: number; cap: number } }>("GET", "/api/instances/ci-jobs", { as: "alice" })).body, (b) => b.state === "Running" && b.jobs.running === 0, 10_000);
    expect(inst.body.jobs.cap).toBe(cap);
    // No ARM call per job: the agent on the VM ran them; ARM never saw a run command for a job.
    expect(stack.cloudState().runCommands.filter((r) => r.id.toLowerCase().includes("/runcommands/job-"))).toHaveLength(0);
  }, 120_000);
});

describe("cancel and timeout", () => {
  it("cancels a running job and a queued one; the running one's process is gone", async () => {
    // Fill the 4 slots, then one more waits in the queue.
    const blockers = await Promise.all(Array.from({ length: 4 }, (_, i) => submit(stack, "ci-jobs", { name: `block-${i}`, command: "sleep 30" })));
    const queued = await submit(stack, "ci-jobs", { name: "waits", command: "echo should-not-run > never-ran.txt" });
    await Promise.all(blockers.map((b) => waitJob(stack, b.id, ["Running"])));
    expect((await getJob(stack, queued.id)).state).toBe("Queued");
    const c1 = await stack.api<Job>("POST", `/api/jobs/${queued.id}/cancel`, { as: "alice" });
    expect(c1.status).toBe(202);
    expect((await waitJob(stack, queued.id)).state).toBe("Canceled");
    await Promise.all(
      blockers.map(async (b) => {
        const r = await stack.api("POST", `/api/jobs/${b.id}/cancel`, { as: "alice" });
        expect(r.status).toBe(202);
      }),
    );
    const ended = await waitAll(stack, blockers.map((b) => b.id), 30_000);
    expect(ended.map((j) => j.state)).toEqual(blockers.map(() => "Canceled"));
    const again = await stack.api<{ error: { code: string } }>("POST", `/api/jobs/${queued.id}/cancel`, { as: "alice" });
    expect(again.status).toBe(409);
    // Their processes are gone (the agent killed each job's process group).
    expect(blockers.flatMap((b) => jobProcesses(b.id))).toEqual([]);
  }, 90_000);

  it("times out a job that runs past timeoutMinutes", async () => {
    // The smallest timeout is one minute: this is the slow test of the file.
    const job = await submit(stack, "ci-jobs", { name: "slow", command: "sleep 600", timeoutMinutes: 1 });
    const ended = await waitJob(stack, job.id, ["TimedOut", "Completed", "Failed", "Canceled"], 100_000);
    expect(ended.state).toBe("TimedOut");
    expect(ended.error?.code).toBe("TimedOut");
  }, 110_000);
});

describe("GPUs", () => {
  it("a GPU job waits for the GPU while CPU jobs run beside it", async () => {
    await runningInstance(stack, "ci-gpu", "Standard_NC4as_T4_v3");
    const a = await submit(stack, "ci-gpu", { name: "gpu-a", gpus: 1, command: `${markedCommand(2, "marks-gpu")}; echo "gpus=$CUDA_VISIBLE_DEVICES"` });
    const b = await submit(stack, "ci-gpu", { name: "gpu-b", gpus: 1, command: `${markedCommand(0.2, "marks-gpu")}; echo "gpus=$CUDA_VISIBLE_DEVICES"` });
    const cpu = await submit(stack, "ci-gpu", { name: "cpu", command: `${markedCommand(0.2, "marks-gpu")}; echo "gpus=[$CUDA_VISIBLE_DEVICES]"` });
    const [ja, jb, jc] = await waitAll(stack, [a.id, b.id, cpu.id], 60_000);
    expect([ja!.state, jb!.state, jc!.state]).toEqual(["Completed", "Completed", "Completed"]);
    const marks = new Map(readMarks(path.join(userDir(stack), "marks-gpu")).map((m) => [m.id, m]));
    // One GPU: the two GPU jobs never overlap (which goes first is the queue's arrival order:
    // each job's orchestration queues it, so two submissions a moment apart may arrive either way).
    const [ma, mb] = [marks.get(a.id)!, marks.get(b.id)!];
    expect(mb.start >= ma.end || ma.start >= mb.end).toBe(true);
    // The CPU job does not wait for the GPU: it runs while one of them holds it.
    expect(marks.get(cpu.id)!.start).toBeLessThan(Math.max(ma.end, mb.end));
    expect((await stack.api("GET", `/api/jobs/${a.id}/logs`, { as: "alice" })).text).toBe("gpus=0\n");
    expect((await stack.api("GET", `/api/jobs/${cpu.id}/logs`, { as: "alice" })).text).toBe("gpus=[]\n");
    const tooMany = await submit(stack, "ci-gpu", { name: "two-gpus", gpus: 2, command: "true" });
    const failed = await waitJob(stack, tooMany.id);
    expect(failed.state).toBe("Failed");
    expect(failed.error?.message).toContain("2 GPUs");
  }, 150_000);
});

describe("API rules", () => {
  it("validates, authorizes and honours Idempotency-Key", async () => {
    const bad = await stack.api<{ error: { code: string; details: { target: string }[] } }>("POST", "/api/instances/ci-jobs/jobs", { as: "alice", body: { command: "" } });
    expect(bad.status).toBe(400);
    expect(bad.body.error.details[0]!.target).toBe("command");
    const reserved = await stack.api("POST", "/api/instances/ci-jobs/jobs", { as: "alice", body: { command: "true", environment: { variables: { JOB_ID: "x" } } } });
    expect(reserved.status).toBe(400);
    expect((await stack.api("POST", "/api/instances/ci-jobs/jobs", { as: "bob", body: { command: "true" } })).status).toBe(404);
    expect((await stack.api("POST", "/api/instances/ci-jobs/jobs", { as: "reader", body: { command: "true" } })).status).toBe(403);
    const headers = { "Idempotency-Key": "k-1" };
    const first = await submit(stack, "ci-jobs", { command: "echo $SEED", environment: { variables: { SEED: "7" } } }, { headers });
    const second = await submit(stack, "ci-jobs", { command: "echo $SEED", environment: { variables: { SEED: "7" } } }, { headers });
    expect(second.id).toBe(first.id);
    expect((await waitJob(stack, first.id)).state).toBe("Completed");
    expect((await stack.api("GET", `/api/jobs/${first.id}/logs`, { as: "alice" })).text).toBe("7\n");
    expect((await stack.api("GET", `/api/jobs/${first.id}`, { as: "bob" })).status).toBe(404);
    expect((await stack.api("GET", `/api/jobs/${first.id}`, { as: "reader" })).status).toBe(200);
    const list = await stack.api<{ value: Job[] }>("GET", "/api/instances/ci-jobs/jobs?state=Completed", { as: "alice" });
    expect(list.status).toBe(200);
    expect(list.body.value.some((j) => j.id === first.id)).toBe(true);
    expect(list.body.value.every((j) => j.state === "Completed")).toBe(true);
    expect((await stack.api("GET", "/api/instances/ci-jobs/jobs?state=Nope", { as: "alice" })).status).toBe(400);
  }, 60_000);
});

describe("queue submission", () => {
  it("accepts plain and base64 JSON, records not-allowed and malformed ones as Failed, poisons the unreadable", async () => {
    const q = new QueueClient(stack.azurite.connectionString, "job-submissions");
    await q.createIfNotExists();
    const msg = (o: unknown) => JSON.stringify(o);
    await q.sendMessage(msg({ instance: "ci-jobs", submittedBy: "alice", idempotencyKey: "q-1", job: { name: "from-queue", command: "echo plain" } }));
    await q.sendMessage(Buffer.from(msg({ instance: "ci-jobs", submittedBy: "alice", job: { name: "from-queue-b64", command: "echo b64" } })).toString("base64"));
    await q.sendMessage(msg({ instance: "ci-jobs", submittedBy: "bob", job: { name: "not-allowed", command: "echo no" } }));
    await q.sendMessage(msg({ instance: "ci-jobs", submittedBy: "alice", job: { name: "malformed", command: "echo x", gpus: -1 } }));
    await q.sendMessage("this is not json");
    const byName = async () => {
      const list = await stack.api<{ value: Job[] }>("GET", "/api/instances/ci-jobs/jobs?top=1000", { as: "admin" });
      return new Map(list.body.value.map((j) => [j.name, j]));
    };
    const names = ["from-queue", "from-queue-b64", "not-allowed", "malformed"];
    const jobs = await eventually(byName, (m) => names.every((n) => m.has(n) && ["Completed", "Failed"].includes(m.get(n)!.state)), 60_000, 500);
    expect(jobs.get("from-queue")!.state).toBe("Completed");
    expect(jobs.get("from-queue-b64")!.state).toBe("Completed");
    expect(jobs.get("not-allowed")!.state).toBe("Failed");
    expect(jobs.get("not-allowed")!.error?.code).toBe("Forbidden");
    expect(jobs.get("malformed")!.error?.message).toContain("job.gpus");
    expect((await stack.api("GET", `/api/jobs/${jobs.get("from-queue")!.id}/logs`, { as: "alice" })).text).toBe("plain\n");
    const poison = new QueueClient(stack.azurite.connectionString, "job-submissions-poison");
    const peeked = await eventually(async () => (await poison.peekMessages({ numberOfMessages: 32 })).peekedMessageItems, (m) => m.length > 0, 30_000, 500);
    expect(peeked.map((m) => m.messageText)).toContain("this is not json");
  }, 90_000);
});

describe("instance stop and start", () => {
  it("a stop cancels running jobs; jobs for a stopped instance stay Queued until it runs", async () => {
    await runningInstance(stack, "ci-stop");
    const long = await submit(stack, "ci-stop", { name: "long", command: "sleep 120" });
    await waitJob(stack, long.id, ["Running"]);
    expect((await stack.api("POST", "/api/instances/ci-stop/stop", { as: "alice" })).status).toBe(202);
    const canceled = await waitJob(stack, long.id, ["Canceled", "Failed", "Completed"], 60_000);
    expect(canceled.state).toBe("Canceled");
    expect(canceled.error?.message).toBe("instance stopped");
    await eventually(async () => (await stack.api<{ state: string }>("GET", "/api/instances/ci-stop", { as: "alice" })).body.state, (s) => s === "Stopped", 60_000, 250);
    const later = await submit(stack, "ci-stop", { name: "later", command: "echo ran" });
    expect((await getJob(stack, later.id)).state).toBe("Queued");
    expect((await stack.api("POST", "/api/instances/ci-stop/start", { as: "alice" })).status).toBe(202);
    expect((await waitJob(stack, later.id, ["Completed", "Failed", "Canceled"], 90_000)).state).toBe("Completed");
    expect((await stack.api("GET", `/api/jobs/${later.id}/logs`, { as: "alice" })).text).toBe("ran\n");
  }, 180_000);
});
