// Crash test: 200 jobs on one instance (cap 32), the host is killed with SIGKILL while they
// run and restarted on the same data. Every job reaches a terminal state, none ran twice
// (each appends its id to its own marker file), and the cap held throughout: the job-queue
// entity, the jobs' orchestrations and the agent on the VM all come through the crash.
import fs from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, expect, it } from "vitest";
import { REPO_ROOT, startHost, type TestHost } from "../support/host";
import { eventually, startStack, TOKENS, type Stack } from "../support/stack";
import { maxOverlap, readMarks, runningInstance, submit, userDir, type Job } from "./jobs.support";

const JOBS = 200;
const CAP = 32; // Standard_D2s_v5 × jobsPerCore 16
let stack: Stack;
let restarted: TestHost | undefined;

beforeAll(async () => {
  stack = await startStack({ env: { JOBS_PER_CORE_DEFAULT: "16" } });
  await runningInstance(stack, "ci-crash");
}, 120_000);
afterAll(async () => {
  await restarted?.stop();
  await stack?.stop();
});

async function states(baseUrl: string): Promise<Job[]> {
  const res = await fetch(`${baseUrl}/api/instances/ci-crash/jobs?top=1000`, { headers: { authorization: `Bearer ${TOKENS.alice}` } });
  if (!res.ok) throw new Error(`HTTP ${res.status}`);
  return ((await res.json()) as { value: Job[] }).value;
}

it("kill -9 of the host during 200 jobs: all end, none ran twice, the cap held", async () => {
  const command = "mkdir -p crash runs; echo $JOB_ID >> runs/$JOB_ID; date +%s%N > crash/$JOB_ID.start; sleep 0.3; date +%s%N > crash/$JOB_ID.end";
  const ids: string[] = [];
  for (let i = 0; i < JOBS; i += 25) {
    const batch = await Promise.all(Array.from({ length: Math.min(25, JOBS - i) }, (_, k) => submit(stack, "ci-crash", { name: `crash-${i + k}`, command })));
    ids.push(...batch.map((j) => j.id));
  }
  const dir = userDir(stack);
  // Crash while jobs are in flight.
  await eventually(async () => readMarks(path.join(dir, "crash")).length, (n) => n >= 50, 60_000, 100);
  const { port, dataDir } = stack.host;
  await stack.host.kill9();
  // Ready once every unfinished orchestration is resumed: one per job not yet ended (queued ones included).
  restarted = await startHost({ env: { ...stack.settings, LOCAL_SETTINGS: path.join(REPO_ROOT, "local.settings.example.json") }, dataDir, port, readyTimeoutMs: 240_000 });

  const all = await eventually(() => states(restarted!.baseUrl), (js) => js.length === JOBS && js.every((j) => ["Completed", "Failed", "Canceled", "TimedOut"].includes(j.state)), 180_000, 1000);
  expect(new Set(all.map((j) => j.id))).toEqual(new Set(ids));
  expect(all.filter((j) => j.state !== "Completed").map((j) => `${j.id}: ${j.state} ${j.error?.message ?? ""}`)).toEqual([]);
  const runs = fs.readdirSync(path.join(dir, "runs"));
  expect(runs).toHaveLength(JOBS);
  for (const f of runs) expect(fs.readFileSync(path.join(dir, "runs", f), "utf8")).toBe(`${f}\n`);
  const marks = readMarks(path.join(dir, "crash"));
  expect(maxOverlap(marks)).toBeLessThanOrEqual(CAP);
}, 400_000);
