// Runs a managed run command as a real process inside the VM sandbox: env from parameters
// (protected ones never stored or logged), HOME/cwd in the VM home, output tails for the
// instanceView, streaming to output/error blobs, timeout, cancel and VM power-off.
import fs from "node:fs";
import path from "node:path";
import { randomUUID } from "node:crypto";
import { BlobSink } from "./blobSink";
import type { Ctx } from "./context";
import { nowIso } from "./http";
import { MARKER_ENV } from "./sandbox";
import { findSize } from "./skus";
import { key, type ExecutionState, type RunCommandRecord, type VmRecord } from "./store";

/** Azure keeps the last 4 KiB of each stream in the instanceView. */
export const TAIL_BYTES = 4096;

export type RunSpec = {
  script: string;
  env: Array<[string, string]>;
  protectedEnv: Array<[string, string]>;
  asyncExecution: boolean;
  timeoutSeconds: number;
  treatFailureAsDeploymentFailure: boolean;
  outputBlobUri?: string;
  errorBlobUri?: string;
};

class Tail {
  private buf = Buffer.alloc(0);
  push(chunk: Buffer): void {
    this.buf = Buffer.concat([this.buf, chunk]);
    if (this.buf.length > TAIL_BYTES) this.buf = this.buf.subarray(this.buf.length - TAIL_BYTES);
  }
  text(): string {
    return this.buf.toString("utf8");
  }
}

/** The environment a run command sees (documented in README: GPU exposure, VM_ROOT). */
export function baseEnv(ctx: Ctx, vm: VmRecord, home: string, user: string): Record<string, string> {
  const gpus = findSize(vm.size)?.gpus ?? 0;
  const devices = Array.from({ length: gpus }, (_, i) => String(i)).join(",");
  const env: Record<string, string> = {
    PATH: process.env.PATH ?? "/usr/local/bin:/usr/bin:/bin",
    LANG: process.env.LANG ?? "C.UTF-8",
    HOME: home,
    USER: user,
    LOGNAME: user,
    SHELL: "/bin/bash",
    TMPDIR: path.join(ctx.sandbox.vmDir(String(vm.body.name)), "tmp"),
    VM_ROOT: ctx.sandbox.vmDir(String(vm.body.name)),
    VM_NAME: String(vm.body.name),
    VM_SIZE: vm.size,
    GPU_COUNT: String(gpus),
    CUDA_VISIBLE_DEVICES: devices,
    NVIDIA_VISIBLE_DEVICES: gpus ? devices : "void",
  };
  if (process.env.TZ) env.TZ = process.env.TZ;
  return env;
}

export function startRun(ctx: Ctx, rc: RunCommandRecord, vm: VmRecord, spec: RunSpec, home: string, user: string, opId: string): void {
  const rcKey = key(rc.id);
  const vmName = String(vm.body.name);
  const dir = path.join(ctx.sandbox.vmDir(vmName), "var", "lib", "waagent", "run-command-handler", String(rc.body.name));
  fs.mkdirSync(dir, { recursive: true });
  fs.mkdirSync(path.join(ctx.sandbox.vmDir(vmName), "tmp"), { recursive: true });
  const scriptFile = path.join(dir, "script.sh");
  fs.writeFileSync(scriptFile, spec.script, { mode: 0o700 });
  const marker = randomUUID();
  const env: NodeJS.ProcessEnv = { ...baseEnv(ctx, vm, home, user), [MARKER_ENV]: marker };
  for (const [k, v] of [...spec.env, ...spec.protectedEnv]) env[k] = v;

  const out = new Tail();
  const err = new Tail();
  const outSink = spec.outputBlobUri ? new BlobSink(spec.outputBlobUri) : undefined;
  const errSink = spec.errorBlobUri ? new BlobSink(spec.errorBlobUri) : undefined;
  let reason: { state: ExecutionState; message: string } | undefined;

  const child = ctx.sandbox.spawn(vmName, scriptFile, home, env);
  rc.pid = child.pid;
  rc.marker = marker;
  rc.view = { executionState: "Running", executionMessage: "", output: "", error: "", startTime: nowIso() };
  ctx.store.save();
  ctx.log(`run command ${vmName}/${String(rc.body.name)}: started (pid ${child.pid}, ${spec.env.length} parameter(s), ${spec.protectedEnv.length} protected)`);
  if (spec.asyncExecution) {
    rc.provisioningState = "Succeeded";
    ctx.ops.finish(opId);
  }
  const timer = setTimeout(() => interrupt("TimedOut", `Execution timed out after ${spec.timeoutSeconds} seconds.`), spec.timeoutSeconds * 1000);
  function interrupt(state: ExecutionState, message: string): void {
    reason ??= { state, message };
    ctx.sandbox.killGroup(child);
  }
  let markEnded!: () => void;
  const ended = new Promise<void>((resolve) => (markEnded = resolve));
  ctx.runs.set(rcKey, { vmKey: key(vm.id), interrupt, ended });

  child.stdout?.on("data", (chunk: Buffer) => {
    out.push(chunk);
    outSink?.write(chunk);
    rc.view.output = out.text();
  });
  child.stderr?.on("data", (chunk: Buffer) => {
    err.push(chunk);
    errSink?.write(chunk);
    rc.view.error = err.text();
  });
  let spawnError: Error | undefined;
  child.once("error", (e) => {
    spawnError = e;
  });
  child.once("close", async (code, signal) => {
    clearTimeout(timer);
    await Promise.all([outSink?.close(), errSink?.close()]);
    const state: ExecutionState = reason?.state ?? (code === 0 ? "Succeeded" : "Failed");
    const sinkNote = [outSink?.failure && `outputBlobUri not written (${outSink.failure})`, errSink?.failure && `errorBlobUri not written (${errSink.failure})`].filter(Boolean).join("; ");
    rc.view = {
      ...rc.view,
      executionState: state,
      exitCode: code ?? (signal ? 128 + 9 : -1),
      executionMessage: [reason?.message ?? (spawnError ? `The script could not be started: ${spawnError.message}` : state === "Succeeded" ? "" : `Execution completed with exit code ${code}.`), sinkNote].filter(Boolean).join(" "),
      output: out.text(),
      error: err.text(),
      endTime: nowIso(),
    };
    delete rc.pid;
    ctx.runs.delete(rcKey);
    const failed = state !== "Succeeded" && spec.treatFailureAsDeploymentFailure;
    if (state !== "Canceled") rc.provisioningState = failed ? "Failed" : "Succeeded";
    if (state === "Canceled") ctx.ops.finish(opId, undefined, "Canceled");
    else ctx.ops.finish(opId, failed ? { code: "VMExtensionProvisioningError", message: `Run command ${String(rc.body.name)} ended ${state} (exit code ${rc.view.exitCode}). ${rc.view.executionMessage}`.trim() } : undefined);
    ctx.store.save();
    ctx.log(`run command ${vmName}/${String(rc.body.name)}: ${state} (exit ${rc.view.exitCode})`);
    markEnded();
  });
}

/**
 * Resolves when the matching runs have ended (their processes exited and their state is
 * recorded), so an operation that killed them completes only after, as on Azure. Bounded:
 * a process that ignores SIGKILL's effects on its pipes cannot hold an operation forever.
 */
export function runsEnded(ctx: Ctx, match: (runKey: string, run: { vmKey: string }) => boolean, maxWaitMs = 5000): Promise<void> {
  const waits = [...ctx.runs.entries()].filter(([k, r]) => match(k, r)).map(([, r]) => r.ended);
  if (waits.length === 0) return Promise.resolve();
  return Promise.race([Promise.all(waits).then(() => undefined), new Promise<void>((r) => setTimeout(r, maxWaitMs).unref())]);
}

/** Ends every run of a VM (deallocate, powerOff, restart, delete): Azure reports them Failed. */
export function stopVmRuns(ctx: Ctx, vm: VmRecord, message: string): void {
  for (const run of ctx.runs.values()) if (run.vmKey === key(vm.id)) run.interrupt("Failed", message);
  ctx.sandbox.killAll(String(vm.body.name));
}
