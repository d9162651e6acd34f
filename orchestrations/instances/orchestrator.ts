// The instance lifecycle orchestrators (architecture.md "Data flow"). Each owns the state
// transitions of its operation; triggers have already moved the record into the busy state
// (Creating, Starting, Stopping, Restarting, Deleting) and written the operation record.
import type { OrchestrationContext } from "durable-functions";
import { all, call, decodeFailure, task } from "../boundary";
import { deleteNetwork, notifyDispatcher, vmActionDone, pollGpuDriver, pollVm, progress, ROLLBACK_RETRY, runScript, vmDeallocated, vmGone, vmRunning, type Gen } from "./steps";
import { DEFAULT_POLL, INSTANCE_ACTIVITIES as I, type LifecycleInput } from "./types";
import { queueId } from "../jobs/queueDriver";
import { withEntityTrace } from "../traceInput";

// Bounds for the monitor loops: Azure VM operations take minutes, rarely more than ten.
const VM_TIMEOUT_MS = 30 * 60_000;

function inputOf(ctx: OrchestrationContext): LifecycleInput & { poll: NonNullable<LifecycleInput["poll"]> } {
  const input = ctx.df.getInput() as LifecycleInput;
  return { ...input, poll: input.poll ?? DEFAULT_POLL };
}

const failed = (err: unknown) => {
  const e = decodeFailure(err);
  return { status: "Failed" as const, error: { code: e.code, message: e.message } };
};

/** Create: network + share in parallel, NIC, VM (polled), then setup scripts; a failure before setup rolls everything back. */
export function* provisionInstance(ctx: OrchestrationContext): Gen<string> {
  const input = inputOf(ctx);
  const { instance } = input;
  let network: { privateIp?: string; publicIp?: string } = {};
  try {
    yield* progress(ctx, input, { customStep: "network", steps: [{ name: "network", status: "Running" }, { name: "share", status: "Running" }] });
    const [nsg, ip] = yield* all(ctx, [
      task(ctx, I.ensureNsg, { instance }),
      task(ctx, I.ensurePublicIp, { instance }),
      task(ctx, I.ensureShareFolders, { instance }),
    ]);
    const nic = yield* call(ctx, I.ensureNic, { instance, nsgId: nsg.nsgId, ...(ip.publicIpId ? { publicIpId: ip.publicIpId } : {}) });
    network = { ...(nic.privateIp ? { privateIp: nic.privateIp } : {}), ...(ip.publicIp ? { publicIp: ip.publicIp } : {}) };
    yield* progress(ctx, input, {
      customStep: "vm",
      steps: [{ name: "network", status: "Succeeded" }, { name: "share", status: "Succeeded" }, { name: "vm", status: "Running" }],
    });
    yield* call(ctx, I.startCreateVm, { instance, nicId: nic.nicId! });
    yield* pollVm(ctx, instance, input.poll, VM_TIMEOUT_MS, vmRunning);
    yield* call(ctx, I.grantAgentQueue, { instance });
    // A GPU size on an image without drivers (VM_IMAGE) gets the NVIDIA driver extension first.
    const driver = yield* call(ctx, I.ensureGpuDriver, { instance });
    if (driver.needed) {
      yield* progress(ctx, input, { customStep: "gpuDriver", steps: [{ name: "vm", status: "Succeeded" }, { name: "gpuDriver", status: "Running" }] });
      yield* pollGpuDriver(ctx, instance, input.poll, VM_TIMEOUT_MS);
    }
    yield* progress(ctx, input, {
      customStep: "creationScript",
      steps: [{ name: driver.needed ? "gpuDriver" : "vm", status: "Succeeded" }, { name: "setup", status: "Running" }],
      state: { op: "create", to: "SettingUp", ...network },
    });
  } catch (err) {
    yield* rollback(ctx, input, err);
    return "CreateFailed";
  }
  return yield* setupThenRunning(ctx, input, ["creation", "startup"]);
}

/** Deletes whatever a failed create made (all idempotent), then records CreateFailed. */
function* rollback(ctx: OrchestrationContext, input: LifecycleInput & { poll: NonNullable<LifecycleInput["poll"]> }, cause: unknown): Gen<void> {
  const { instance } = input;
  const outcome = failed(cause);
  ctx.df.setCustomStatus({ step: "rollback", operationId: input.operationId });
  try {
    yield* call(ctx, I.revokeAgentQueue, { instance }, ROLLBACK_RETRY);
    yield* vmActionDone(ctx, instance, "delete", input.poll, VM_TIMEOUT_MS, ROLLBACK_RETRY);
    yield* pollVm(ctx, instance, input.poll, VM_TIMEOUT_MS, vmGone, ROLLBACK_RETRY);
    yield* deleteNetwork(ctx, instance, ROLLBACK_RETRY);
  } catch (err) {
    const e = decodeFailure(err);
    outcome.error.message += ` Cleaning up also failed (${e.code}: ${e.message}); delete the instance to retry the cleanup.`;
  }
  yield* progress(ctx, input, { customStep: "failed", state: { op: "create", to: "CreateFailed" }, done: outcome });
}

/** SettingUp → scripts → Running (or SetupFailed), then tell the job dispatcher. */
function* setupThenRunning(ctx: OrchestrationContext, input: LifecycleInput & { poll: NonNullable<LifecycleInput["poll"]> }, kinds: ("creation" | "startup")[]): Gen<string> {
  const ran: string[] = [];
  try {
    for (const kind of kinds) {
      const rc = yield* runScript(ctx, input, kind, input.poll);
      if (rc) ran.push(rc);
    }
  } catch (err) {
    yield* progress(ctx, input, { customStep: "failed", steps: [{ name: "setup", status: "Failed" }], state: { op: "setup", to: "SetupFailed" }, done: failed(err) });
    return "SetupFailed";
  }
  yield* progress(ctx, input, {
    customStep: "running",
    steps: [{ name: "setup", status: "Succeeded" }],
    state: { op: "setup", to: "Running", activity: true },
    done: { status: "Succeeded" },
  });
  yield* notifyDispatcher(ctx, input.instance, "Running");
  // Azure limits the run commands a VM holds; the logs stay on the share.
  for (const runCommand of ran) {
    try {
      yield* call(ctx, I.deleteScript, { instance: input.instance, runCommand });
    } catch {
      // A leftover run command is harmless and goes with the VM.
    }
  }
  return "Running";
}

/** Start or restart: the VM action and its wait, then the startup script; a failure leaves `onFailure`. */
function* vmThenSetup(ctx: OrchestrationContext, action: "start" | "restart", onFailure: "Stopped" | "Unknown"): Gen<string> {
  const input = inputOf(ctx);
  const step = `${action}Vm`;
  try {
    yield* progress(ctx, input, { customStep: step, steps: [{ name: step, status: "Running" }] });
    yield* vmActionDone(ctx, input.instance, action, input.poll, VM_TIMEOUT_MS);
    yield* pollVm(ctx, input.instance, input.poll, VM_TIMEOUT_MS, vmRunning);
  } catch (err) {
    yield* progress(ctx, input, { customStep: "failed", steps: [{ name: step, status: "Failed" }], state: { op: action, to: onFailure }, done: failed(err) });
    return onFailure;
  }
  yield* progress(ctx, input, {
    customStep: "startupScript",
    steps: [{ name: step, status: "Succeeded" }, { name: "setup", status: "Running" }],
    state: { op: action, to: "SettingUp" },
  });
  return yield* setupThenRunning(ctx, input, ["startup"]);
}

export function* startInstance(ctx: OrchestrationContext): Gen<string> {
  return yield* vmThenSetup(ctx, "start", "Stopped");
}

export function* restartInstance(ctx: OrchestrationContext): Gen<string> {
  return yield* vmThenSetup(ctx, "restart", "Unknown");
}

export function* stopInstance(ctx: OrchestrationContext): Gen<string> {
  const input = inputOf(ctx);
  // Running jobs are cancelled by the dispatcher before the VM goes away.
  yield* notifyDispatcher(ctx, input.instance, "Stopping");
  try {
    yield* progress(ctx, input, { customStep: "deallocateVm", steps: [{ name: "deallocateVm", status: "Running" }] });
    yield* vmActionDone(ctx, input.instance, "deallocate", input.poll, VM_TIMEOUT_MS);
    yield* pollVm(ctx, input.instance, input.poll, VM_TIMEOUT_MS, vmDeallocated);
  } catch (err) {
    yield* progress(ctx, input, { customStep: "failed", steps: [{ name: "deallocateVm", status: "Failed" }], state: { op: "stop", to: "Unknown" }, done: failed(err) });
    return "Unknown";
  }
  yield* progress(ctx, input, {
    customStep: "stopped",
    steps: [{ name: "deallocateVm", status: "Succeeded" }],
    state: { op: "stop", to: "Stopped" },
    done: { status: "Succeeded" },
  });
  yield* notifyDispatcher(ctx, input.instance, "Stopped");
  return "Stopped";
}

/** VM (with its OS disk), then NIC, public IP and NSG; never the user's files; the record last. */
export function* deleteInstance(ctx: OrchestrationContext): Gen<string> {
  const input = inputOf(ctx);
  const { instance } = input;
  yield* notifyDispatcher(ctx, instance, "Deleting");
  try {
    yield* progress(ctx, input, { customStep: "deleteVm", steps: [{ name: "deleteVm", status: "Running" }] });
    yield* call(ctx, I.revokeAgentQueue, { instance });
    yield* vmActionDone(ctx, instance, "delete", input.poll, VM_TIMEOUT_MS);
    yield* pollVm(ctx, instance, input.poll, VM_TIMEOUT_MS, vmGone);
    yield* progress(ctx, input, { customStep: "deleteNetwork", steps: [{ name: "deleteVm", status: "Succeeded" }, { name: "deleteNetwork", status: "Running" }] });
    yield* deleteNetwork(ctx, instance);
  } catch (err) {
    yield* progress(ctx, input, { customStep: "failed", state: { op: "delete", to: "Unusable" }, done: failed(err) });
    return "Unusable";
  }
  yield* call(ctx, I.removeRecord, { instance, operationId: input.operationId, at: ctx.df.currentUtcDateTime.toISOString() });
  // The job queue goes with the instance: a later instance of this name starts with an empty one
  // (its size and cap, not this one's). Late calls of this one's jobs find it uninitialized and no instance.
  ctx.df.signalEntity(queueId(instance), "delete", withEntityTrace(ctx));
  return "Deleted";
}

