// Building blocks of the instance orchestrators: typed activity calls (boundary/), VM and
// run-command polling with durable timers (monitor pattern with backoff), and progress writes.
// Deterministic: no I/O, no Date.now, no randomness.
import type { OrchestrationContext } from "durable-functions";
import type { DispatcherEvent } from "../../shared/jobs/dispatcher";
import { call, retryPolicy, WorkflowError, type Gen, type RetryPolicy } from "../boundary";
import { changeQueue } from "../jobs/queueDriver";
import { JOB_ACTIVITIES } from "../jobs/types";
import { INSTANCE_ACTIVITIES, type LifecycleInput, type PollOptions, type ProgressInput, type ScriptKind, type VmActionInput, type VmStatusResult } from "./types";

const I = INSTANCE_ACTIVITIES;
export type { Gen };

// Rollback must not give up easily: a leftover resource costs money.
export const ROLLBACK_RETRY = retryPolicy(1000, 8);
/** Telling the job queue is best effort (the next state change tells it again). */
const NOTIFY_RETRY = retryPolicy(500, 3);

export function nowIso(ctx: OrchestrationContext): string {
  return ctx.df.currentUtcDateTime.toISOString();
}

export function* progress(ctx: OrchestrationContext, input: LifecycleInput, p: Omit<ProgressInput, "instance" | "operationId" | "at">): Gen<void> {
  if (p.customStep) ctx.df.setCustomStatus({ step: p.customStep, operationId: input.operationId });
  yield* call(ctx, I.progress, { ...p, instance: input.instance, operationId: input.operationId, at: nowIso(ctx) });
}

/** Polls the VM with durable timers until `verdict` says done (returns) or fails (throws). */
export function* pollVm(
  ctx: OrchestrationContext,
  instance: string,
  poll: PollOptions,
  timeoutMs: number,
  verdict: (s: VmStatusResult) => "done" | "wait" | WorkflowError,
  retry?: RetryPolicy,
): Gen<VmStatusResult> {
  const deadline = ctx.df.currentUtcDateTime.getTime() + timeoutMs;
  let delay = poll.initialMs;
  for (;;) {
    const status = yield* call(ctx, I.vmStatus, { instance }, retry);
    const v = verdict(status);
    if (v === "done") return status;
    if (v instanceof WorkflowError) throw v;
    const now = ctx.df.currentUtcDateTime.getTime();
    if (now >= deadline) throw new WorkflowError("OperationTimedOut", `The VM did not reach the expected state within ${Math.round(timeoutMs / 1000)} s.`);
    yield ctx.df.createTimer(new Date(now + delay));
    delay = Math.min(Math.round(delay * poll.factor), poll.maxMs);
  }
}

/** Polls the GPU driver extension until it succeeded; its failure (e.g. no GPU found) fails the step. */
export function* pollGpuDriver(ctx: OrchestrationContext, instance: string, poll: PollOptions, timeoutMs: number): Gen<void> {
  const deadline = ctx.df.currentUtcDateTime.getTime() + timeoutMs;
  let delay = poll.initialMs;
  for (;;) {
    const s = yield* call(ctx, I.gpuDriverStatus, { instance });
    if (s.state === "Succeeded") return;
    if (s.state === "Failed" || s.state === "NotFound") {
      throw new WorkflowError("GpuDriverInstallFailed", `The NVIDIA GPU driver extension ${s.state === "Failed" ? "failed" : "disappeared"}${s.message ? `: ${s.message}` : "."}`);
    }
    const now = ctx.df.currentUtcDateTime.getTime();
    if (now >= deadline) throw new WorkflowError("OperationTimedOut", `The NVIDIA GPU driver was not installed within ${Math.round(timeoutMs / 1000)} s.`);
    yield ctx.df.createTimer(new Date(now + delay));
    delay = Math.min(Math.round(delay * poll.factor), poll.maxMs);
  }
}

export const vmRunning = (s: VmStatusResult): "done" | "wait" | WorkflowError => {
  if (!s.exists) return new WorkflowError("VmNotFound", "The VM does not exist.");
  if (s.provisioning === "Failed") return new WorkflowError(s.error?.code ?? "VmProvisioningFailed", s.error?.message ?? "VM provisioning failed.");
  return s.provisioning === "Succeeded" && s.power === "running" ? "done" : "wait";
};

export const vmDeallocated = (s: VmStatusResult): "done" | "wait" | WorkflowError => {
  if (!s.exists) return new WorkflowError("VmNotFound", "The VM does not exist.");
  if (s.provisioning === "Failed") return new WorkflowError(s.error?.code ?? "VmProvisioningFailed", s.error?.message ?? "VM operation failed.");
  return s.power === "deallocated" ? "done" : "wait";
};

/**
 * Starts a VM action and waits for its ARM operation (Azure-AsyncOperation), not the VM: right
 * after the POST the VM can still show its old state (a restart looks "running" before it began).
 * A failed operation is the step's failure, with Azure's code and message.
 */
export function* vmActionDone(ctx: OrchestrationContext, instance: string, action: VmActionInput["action"], poll: PollOptions, timeoutMs: number, retry?: RetryPolicy): Gen<void> {
  const started = yield* call(ctx, I.vmAction, { instance, action }, retry);
  const url = started?.operationUrl;
  if (!url) return;
  const deadline = ctx.df.currentUtcDateTime.getTime() + timeoutMs;
  let delay = poll.initialMs;
  for (;;) {
    const op = yield* call(ctx, I.vmOperation, { operationUrl: url }, retry);
    if (op.status === "Succeeded" || op.status === "Gone") return;
    if (op.status === "Failed" || op.status === "Canceled") {
      const error = "error" in op ? op.error : undefined;
      throw new WorkflowError(error?.code ?? `Operation${op.status}`, error?.message ?? `The VM ${action} operation ended ${op.status}.`);
    }
    const now = ctx.df.currentUtcDateTime.getTime();
    if (now >= deadline) throw new WorkflowError("OperationTimedOut", `The VM ${action} operation did not finish within ${Math.round(timeoutMs / 1000)} s.`);
    yield ctx.df.createTimer(new Date(now + delay));
    delay = Math.min(Math.round(delay * poll.factor), poll.maxMs);
  }
}

/** How many reservation windows deleteNetwork waits out before reporting the NIC as stuck. */
const NIC_RESERVATION_ROUNDS = 4;

/**
 * Deletes NIC, public IP and NSG, waiting out a NIC reservation (Azure keeps the NIC of a deleted
 * or failed VM reserved for ~180 s) on durable timers instead of leaking the network.
 */
export function* deleteNetwork(ctx: OrchestrationContext, instance: string, retry?: RetryPolicy): Gen<void> {
  for (let round = 1; ; round++) {
    const r = yield* call(ctx, I.deleteNetwork, { instance }, retry);
    const wait = r?.nicReservedSeconds;
    if (!wait) return;
    if (round >= NIC_RESERVATION_ROUNDS) {
      throw new WorkflowError("NicReservedForAnotherVm", `The network interface was still reserved for the deleted VM after ${round} waits of ${wait} s.`);
    }
    yield ctx.df.createTimer(new Date(ctx.df.currentUtcDateTime.getTime() + wait * 1000));
  }
}

export const vmGone = (s: VmStatusResult): "done" | "wait" | WorkflowError => (s.exists ? "wait" : "done");

/**
 * Runs a setup script as a run command and waits for it with timers. Returns the run
 * command's name (to delete later), or undefined when there was nothing to run.
 */
export function* runScript(ctx: OrchestrationContext, input: LifecycleInput, kind: ScriptKind, poll: PollOptions): Gen<string | undefined> {
  const started = yield* call(ctx, I.startScript, { instance: input.instance, operationId: input.operationId, kind });
  if ("skipped" in started) return undefined;
  ctx.df.setCustomStatus({ step: `${kind}Script`, operationId: input.operationId });
  const deadline = ctx.df.currentUtcDateTime.getTime() + (started.timeoutSeconds + 60) * 1000;
  let delay = poll.initialMs;
  for (;;) {
    const s = yield* call(ctx, I.scriptStatus, { instance: input.instance, runCommand: started.runCommand });
    if (s.state === "Succeeded" && (s.exitCode ?? 0) === 0) return started.runCommand;
    if (s.state !== "Pending" && s.state !== "Running") {
      const exit = s.exitCode !== undefined ? ` (exit code ${s.exitCode})` : "";
      const code = s.state === "TimedOut" ? "SetupScriptTimedOut" : "SetupScriptFailed";
      throw new WorkflowError(code, `The ${kind} script ended ${s.state}${exit}; log: Logs/${input.instance.toLowerCase()}/ on the workspace share.${s.message ? ` Output tail: ${s.message.slice(-500)}` : ""}`);
    }
    const now = ctx.df.currentUtcDateTime.getTime();
    if (now >= deadline) {
      yield* call(ctx, I.deleteScript, { instance: input.instance, runCommand: started.runCommand });
      throw new WorkflowError("SetupScriptTimedOut", `The ${kind} script did not finish within ${started.timeoutSeconds} s.`);
    }
    yield ctx.df.createTimer(new Date(now + delay));
    delay = Math.min(Math.round(delay * poll.factor), poll.maxMs);
  }
}

const RUNNING_STATES = new Set(["Running", "JobRunning"]);

/**
 * Tells the instance's job queue (the jobs workflow's entity) where the instance is going: its
 * size and jobs per core again (they may have changed), whether jobs may start, and on delete
 * that queued jobs are canceled; then, on a stop or delete, the running jobs' final cancels.
 * Best effort: a lifecycle step never fails on it.
 */
export function* notifyDispatcher(ctx: OrchestrationContext, instance: string, state: string): Gen<void> {
  try {
    const cfg = yield* call(ctx, JOB_ACTIVITIES.queueConfig, { instance }, NOTIFY_RETRY);
    if (cfg.exists) {
      const events: DispatcherEvent[] = [{ type: "Configure", config: cfg.config }, { type: "InstanceState", running: RUNNING_STATES.has(state) }];
      if (state === "Deleting") events.push({ type: "CancelQueued" });
      yield* changeQueue(ctx, instance, events);
    }
    yield* call(ctx, JOB_ACTIVITIES.notifyDispatcher, { instance, state }, NOTIFY_RETRY);
  } catch {
    // Jobs are told again on the next state change.
  }
}
