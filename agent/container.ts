// A job in a container: the same detached runner as a plain job (process.ts), which first pulls
// the image unless the VM has it, then waits for the agent's go (the app has moved the job to
// Running), then runs the container in the foreground with the runtime's CLI (Docker on Azure;
// locally the emulator's VMs have a docker-compatible command over Podman). The user's folder
// is mounted as the working directory, the job's GPUs are passed with --gpus, the variables
// reach the container by name only (`-e NAME`: values stay out of argv and out of the journal).
import { execFile } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { promisify } from "node:util";
import { spawnRunner } from "./process";

const RUNNER = `#!/bin/bash
D="$1"
RT="$2"
IMAGE="$3"
# For an image of the workspace registry: the Docker config folder (under /run) the agent logs
# in to with the VM's identity when a pull is needed; used for that pull only, then deleted.
LOGIN="$4"
finish() { echo "$1" >"$D/exit.tmp" && mv "$D/exit.tmp" "$D/exit"; exit "$1"; }
forget_login() { [ -z "$LOGIN" ] || rm -rf "$LOGIN"; }
pull() { if [ -n "$LOGIN" ]; then DOCKER_CONFIG="$LOGIN" "$RT" pull "$IMAGE"; else "$RT" pull "$IMAGE"; fi; }
set -o pipefail
if ! "$RT" image inspect "$IMAGE" >/dev/null 2>&1; then
  echo "Pulling image $IMAGE" >>"$D/stderr"
  if [ -n "$LOGIN" ]; then
    # Ask the agent for the login (it holds the identity), and wait for its answer.
    touch "$D/login-wanted"
    while [ ! -e "$D/login-ready" ] && [ ! -e "$D/login-failed" ]; do sleep 0.1; done
    if [ -e "$D/login-failed" ]; then
      forget_login
      echo "Error: $(cat "$D/login-failed")" >>"$D/stderr"
      cp "$D/login-failed" "$D/pull-failed"
      finish 125
    fi
  fi
  # The pull's progress goes to the job's stderr as it comes (the agent ships it while Starting).
  if ! pull 2>&1 | tee "$D/pull.log" >>"$D/stderr"; then
    forget_login
    grep -i 'error' "$D/pull.log" | tail -n 1 >"$D/pull-failed.tmp"
    [ -s "$D/pull-failed.tmp" ] || tail -n 1 "$D/pull.log" >"$D/pull-failed.tmp"
    mv "$D/pull-failed.tmp" "$D/pull-failed"
    finish 125
  fi
fi
forget_login
touch "$D/pulled"
while [ ! -e "$D/go" ]; do sleep 0.1; done
mapfile -d '' ARGS <"$D/run.args"
"$RT" "\${ARGS[@]}" >>"$D/stdout" 2>>"$D/stderr" </dev/null
finish $?
`;

export type ContainerSpec = {
  /** The runtime's CLI (docker, or a compatible command). */
  runtime: string;
  image: string;
  /** The container's name: one per job, so a cancel (or a restarted agent) can find it. */
  name: string;
  /** The user's folder on the VM, mounted at `workingDirectory`. */
  hostDir: string;
  workingDirectory: string;
  command: string;
  /** Host GPU indices the queue assigned; passed as --gpus "device=…". */
  gpuIndices: number[];
  env: Record<string, string>;
};

export const containerName = (jobId: string) => `ci-job-${jobId.toLowerCase().replace(/[^a-z0-9_.-]/g, "-")}`;

/** The `run` arguments (without the runtime itself). */
export function runArgs(spec: ContainerSpec): string[] {
  const args = ["run", "--rm", "--name", spec.name, "-v", `${spec.hostDir}:${spec.workingDirectory}`, "-w", spec.workingDirectory];
  if (spec.gpuIndices.length) args.push("--gpus", `"device=${spec.gpuIndices.join(",")}"`);
  for (const name of Object.keys(spec.env).sort()) args.push("-e", name);
  args.push(spec.image, "/bin/sh", "-c", spec.command);
  return args;
}

/**
 * Starts the runner; returns its pid (= process group id). The container starts after `allowRun`.
 * `loginDir` (images of the workspace registry): where a pull's registry login goes; the runner
 * asks for it (`loginWanted`) only when the VM lacks the image, and deletes it after the pull.
 */
export function startContainerJob(jobDir: string, spec: ContainerSpec, baseEnv: NodeJS.ProcessEnv, loginDir = ""): number {
  fs.mkdirSync(spec.hostDir, { recursive: true });
  fs.writeFileSync(path.join(jobDir, "container-runner.sh"), RUNNER, { mode: 0o700 });
  fs.writeFileSync(path.join(jobDir, "run.args"), runArgs(spec).map((a) => `${a}\0`).join(""), { mode: 0o600 });
  for (const f of ["stdout", "stderr"]) fs.closeSync(fs.openSync(path.join(jobDir, f), "a"));
  return spawnRunner(jobDir, "container-runner.sh", [spec.runtime, spec.image, loginDir], { ...baseEnv, ...spec.env });
}

/** Whether the runner waits for a registry login (it must pull, from the workspace registry). */
export const loginWanted = (jobDir: string) =>
  fs.existsSync(path.join(jobDir, "login-wanted")) && !fs.existsSync(path.join(jobDir, "login-ready")) && !fs.existsSync(path.join(jobDir, "login-failed"));

/** The agent's answer to `loginWanted`: done (undefined) or the reason it failed. Atomic, so the runner never reads half of it. */
export function answerLogin(jobDir: string, failure?: string): void {
  const name = failure === undefined ? "login-ready" : "login-failed";
  fs.writeFileSync(path.join(jobDir, `${name}.tmp`), failure ?? "");
  fs.renameSync(path.join(jobDir, `${name}.tmp`), path.join(jobDir, name));
}

/** Whether the runner has the image (pulled now, or on the VM already). */
export const imageReady = (jobDir: string) => fs.existsSync(path.join(jobDir, "pulled"));

/** The pull's error line, when the pull failed (the registry's message as the runtime printed it). */
export function pullFailure(jobDir: string): string | undefined {
  try {
    const line = fs.readFileSync(path.join(jobDir, "pull-failed"), "utf8").trim();
    return line || "the pull failed without a message";
  } catch {
    return undefined;
  }
}

/** Lets the runner start the container (the app has the job Running). */
export const allowRun = (jobDir: string) => fs.writeFileSync(path.join(jobDir, "go"), "");

/**
 * Stops and removes the job's container, whatever state it is in (a cancel, a timeout, or the
 * end of a run whose --rm did not happen because the client was killed). Absent is fine.
 */
export async function removeContainer(runtime: string, name: string): Promise<void> {
  const run = (args: string[]) => promisify(execFile)(runtime, args, { timeout: 60_000 }).catch(() => undefined);
  await run(["stop", "--time", "3", name]);
  await run(["rm", "--force", name]);
}
