// A job as processes: a small runner script, started as its own process group and detached
// from the agent, so the job outlives an agent restart (the systemd unit uses KillMode=process).
// The runner writes the job's stdout/stderr to files in its journal folder and, when the
// command ends, its exit code to `exit` (atomically): any agent, the one that started it or a
// restarted one, learns the real exit code from there.
import { spawn } from "node:child_process";
import fs from "node:fs";
import path from "node:path";

const RUNNER = `#!/bin/bash
D="$1"
JOB_DIR="$2"
finish() { echo "$1" >"$D/exit.tmp" && mv "$D/exit.tmp" "$D/exit"; exit "$1"; }
mkdir -p "$JOB_DIR" && cd "$JOB_DIR" || { echo "cannot enter $JOB_DIR" >>"$D/stderr"; finish 125; }
/bin/bash "$D/command.sh" >>"$D/stdout" 2>>"$D/stderr" </dev/null
finish $?
`;

export type JobSpec = {
  command: string;
  /** Complete environment of the job (platform values and the user's variables). */
  env: Record<string, string>;
};

/** Starts the job; returns the pid, which is also its process group id. */
export function startJob(jobDir: string, workDir: string, spec: JobSpec, baseEnv: NodeJS.ProcessEnv): number {
  fs.writeFileSync(path.join(jobDir, "command.sh"), `${spec.command}\n`, { mode: 0o700 });
  fs.writeFileSync(path.join(jobDir, "runner.sh"), RUNNER, { mode: 0o700 });
  for (const f of ["stdout", "stderr"]) fs.closeSync(fs.openSync(path.join(jobDir, f), "a"));
  return spawnRunner(jobDir, "runner.sh", [workDir], { ...baseEnv, ...spec.env });
}

/** Starts `script` (in the job folder) as its own detached process group; returns its pid. */
export function spawnRunner(jobDir: string, script: string, args: string[], env: NodeJS.ProcessEnv): number {
  const child = spawn("/bin/bash", [path.join(jobDir, script), jobDir, ...args], { cwd: jobDir, env, detached: true, stdio: "ignore" });
  if (child.pid === undefined) throw new Error("the job's runner could not be started");
  child.unref();
  return child.pid;
}

/** The exit code the runner recorded, if it ended on its own. */
export function exitCodeOf(jobDir: string): number | undefined {
  try {
    const n = Number(fs.readFileSync(path.join(jobDir, "exit"), "utf8").trim());
    return Number.isInteger(n) ? n : undefined;
  } catch {
    return undefined;
  }
}

/** Whether any process of the group is still there. */
export function groupAlive(pgid: number): boolean {
  try {
    process.kill(-pgid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}

/** SIGTERM to the whole group, SIGKILL a few seconds later if anything is left. */
export function killGroup(pgid: number, graceMs = 3000): void {
  const send = (sig: NodeJS.Signals) => {
    try {
      process.kill(-pgid, sig);
    } catch {
      // already gone
    }
  };
  send("SIGTERM");
  setTimeout(() => send("SIGKILL"), graceMs).unref();
}
