// CPU time of a process and of its reaped children, from /proc/<pid>/stat (Linux): the bench
// splits each job's CPU between the host, Azurite, the emulator and the job processes.
import { execFileSync } from "node:child_process";
import fs from "node:fs";

let ticksPerSecond: number | undefined;
function hz(): number {
  if (ticksPerSecond === undefined) {
    try {
      ticksPerSecond = Number(execFileSync("getconf", ["CLK_TCK"], { encoding: "utf8" }).trim()) || 100;
    } catch {
      ticksPerSecond = 100;
    }
  }
  return ticksPerSecond;
}

export type CpuSample = { self: number; children: number };

/** Milliseconds of CPU (user + system) so far; `children`: of its exited, reaped children. */
export function cpuOf(pid: number): CpuSample {
  const stat = fs.readFileSync(`/proc/${pid}/stat`, "utf8");
  // Fields after "(comm) ": state is 0, utime 11, stime 12, cutime 13, cstime 14.
  const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ").map(Number);
  const ms = (ticks: number) => (ticks * 1000) / hz();
  return { self: ms(f[11]! + f[12]!), children: ms(f[13]! + f[14]!) };
}

/** CPU of several processes between two moments. */
export function cpuMeter(pids: Record<string, number>): () => Record<string, CpuSample> {
  const start = Object.fromEntries(Object.entries(pids).map(([k, pid]) => [k, cpuOf(pid)]));
  return () =>
    Object.fromEntries(
      Object.entries(pids).map(([k, pid]) => {
        const now = cpuOf(pid);
        return [k, { self: now.self - start[k]!.self, children: now.children - start[k]!.children }];
      }),
    );
}
