// Helpers for the jobs end-to-end tests: an instance that is Running, job submission and
// waiting, and the marker files jobs write into the user's folder on the share.
import fs from "node:fs";
import path from "node:path";
import { expect } from "vitest";
import { eventually, type Caller, type Stack } from "../support/stack";

export type Job = { id: string; name: string; instance: string; state: string; exitCode?: number; startedAt?: string; endedAt?: string; error?: { code: string; message: string }; gpuIndices?: number[] };
export const TERMINAL = ["Completed", "Failed", "Canceled", "TimedOut"];

export async function runningInstance(stack: Stack, name: string, vmSize = "Standard_D2s_v5", as: Caller = "alice"): Promise<void> {
  const res = await stack.api("PUT", `/api/instances/${name}`, { as, body: { vmSize } });
  expect(res.status, res.text).toBe(201);
  await eventually(async () => (await stack.api<{ state: string }>("GET", `/api/instances/${name}`, { as })).body.state, (s) => s === "Running" || s === "JobRunning", 90_000, 250);
}

export async function submit(stack: Stack, instance: string, body: Record<string, unknown>, opts: { as?: Caller; headers?: Record<string, string> } = {}): Promise<Job> {
  const res = await stack.api<Job>("POST", `/api/instances/${instance}/jobs`, { as: opts.as ?? "alice", body, ...(opts.headers ? { headers: opts.headers } : {}) });
  expect(res.status, res.text).toBe(202);
  return res.body;
}

export async function getJob(stack: Stack, id: string, as: Caller = "alice"): Promise<Job> {
  const res = await stack.api<Job>("GET", `/api/jobs/${id}`, { as });
  expect(res.status, res.text).toBe(200);
  return res.body;
}

export function waitJob(stack: Stack, id: string, states = TERMINAL, timeoutMs = 60_000): Promise<Job> {
  return eventually(() => getJob(stack, id), (j) => states.includes(j.state), timeoutMs, 200);
}

export function waitAll(stack: Stack, ids: string[], timeoutMs = 120_000): Promise<Job[]> {
  return Promise.all(ids.map((id) => waitJob(stack, id, TERMINAL, timeoutMs)));
}

/** The user's folder on the share (the job's working directory). */
export function userDir(stack: Stack, user = "alice"): string {
  const share = stack.shareDir();
  if (!share) throw new Error("the workspace share does not exist yet");
  return path.join(share, "Users", user);
}

/** A job command that records its start and end (ns) under marks/<JOB_ID>.{start,end}. */
export function markedCommand(sleepSeconds: number, dir = "marks"): string {
  return `mkdir -p ${dir}; date +%s%N > ${dir}/$JOB_ID.start; sleep ${sleepSeconds}; date +%s%N > ${dir}/$JOB_ID.end`;
}

/** Like markedCommand, but after its start mark the job waits (at most 20 s) until `n` jobs have started. */
export function barrierCommand(n: number, sleepSeconds: number, dir: string): string {
  return `mkdir -p ${dir}; date +%s%N > ${dir}/$JOB_ID.start; for _ in $(seq 1 200); do [ $(ls ${dir} | grep -c start) -ge ${n} ] && break; sleep 0.1; done; sleep ${sleepSeconds}; date +%s%N > ${dir}/$JOB_ID.end`;
}

export function readMarks(dir: string): { id: string; start: number; end: number }[] {
  if (!fs.existsSync(dir)) return [];
  const ids = new Set(fs.readdirSync(dir).map((f) => f.replace(/\.(start|end)$/, "")));
  return [...ids].map((id) => ({
    id,
    start: Number(fs.readFileSync(path.join(dir, `${id}.start`), "utf8")) / 1e6,
    end: fs.existsSync(path.join(dir, `${id}.end`)) ? Number(fs.readFileSync(path.join(dir, `${id}.end`), "utf8")) / 1e6 : Infinity,
  }));
}

/** Pids of live processes whose environment names this job (JOB_ID): the job's processes. */
export function jobProcesses(jobId: string): number[] {
  const out: number[] = [];
  for (const entry of fs.readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const env = fs.readFileSync(`/proc/${entry}/environ`, "latin1");
      const stat = fs.readFileSync(`/proc/${entry}/stat`, "utf8");
      if (env.split("\0").includes(`JOB_ID=${jobId}`) && !/\) Z /.test(stat)) out.push(Number(entry));
    } catch {
      // gone meanwhile
    }
  }
  return out;
}

/** Most intervals open at one instant. */
export function maxOverlap(intervals: { start: number; end: number }[]): number {
  const points = intervals.flatMap((i) => [
    { t: i.start, d: 1 },
    { t: i.end, d: -1 },
  ]);
  points.sort((a, b) => a.t - b.t || a.d - b.d); // an end before a start at the same instant
  let cur = 0;
  let max = 0;
  for (const p of points) max = Math.max(max, (cur += p.d));
  return max;
}
