// The instance orchestrators replayed through durable-functions' own harness with stubbed
// activities (see harness.ts): order of steps, parallel network/share, monitor polling with
// backoff, retries of transient failures, rollback, and the states each path leaves.
import { describe, expect, test } from "vitest";
import { deleteInstance, provisionInstance, restartInstance, startInstance, stopInstance } from "../../orchestrations/instances/orchestrator";
import { ACTIVITIES, type ProgressInput } from "../../orchestrations/instances/types";
import { ACTIVITIES as JOB_ACTIVITIES } from "../../orchestrations/jobs/types";
import { failureError } from "../../orchestrations/boundary/failure";
import { COMPUTE_LIMITS } from "../../local/cloud/throttle";
import { runOrchestration, type Stub } from "./harness";

// The jobs workflow registers notifyDispatcher (its own registry); the instance orchestrators call it.
const A = { ...ACTIVITIES, notifyDispatcher: JOB_ACTIVITIES.notifyDispatcher };
const ok = (value?: unknown) => ({ ok: true, value });
const input = { instance: "alice-1", operationId: "op1", requestedBy: "alice", poll: { initialMs: 200, maxMs: 2000, factor: 1.5 } };

/** A VM that reports `Creating` for `creatingPolls` reads, then running. */
function vm(creatingPolls = 2): Stub {
  let n = 0;
  return () => ok(n++ < creatingPolls ? { exists: true, provisioning: "Creating", power: "starting" } : { exists: true, provisioning: "Succeeded", power: "running" });
}

function happyStubs(over: Record<string, Stub> = {}): Record<string, Stub> {
  let scriptPolls = 0;
  return {
    [A.progress]: () => ok(),
    [A.ensureNsg]: () => ok({ nsgId: "nsg-id" }),
    [A.ensurePublicIp]: () => ok({}),
    [A.ensureShareFolders]: () => ok(),
    [A.ensureNic]: () => ok({ nicId: "nic-id", privateIp: "10.0.0.4" }),
    [A.startCreateVm]: () => ok(),
    [A.vmStatus]: vm(),
    [A.vmAction]: () => ok(),
    [A.deleteNetwork]: () => ok(),
    [A.startScript]: (i) => ok((i as { kind: string }).kind === "creation" ? { runCommand: "setup-creation-op1", timeoutSeconds: 600 } : { skipped: true }),
    [A.scriptStatus]: () => ok(scriptPolls++ < 1 ? { state: "Running" } : { state: "Succeeded", exitCode: 0 }),
    [A.deleteScript]: () => ok(),
    [A.removeRecord]: () => ok(),
    [A.grantAgentQueue]: () => ok(),
    [A.ensureGpuDriver]: () => ok({ needed: false }),
    [A.gpuDriverStatus]: () => ok({ state: "Succeeded" }),
    [A.revokeAgentQueue]: () => ok(),
    [A.notifyDispatcher]: () => null,
    // No queue entity yet for this instance (its own tests are in jobs.test.ts): the jobs are told by the activity only.
    [JOB_ACTIVITIES.queueConfig]: () => ({ exists: false }),
    ...over,
  };
}

const names = (calls: [string, unknown][]) => calls.map(([n]) => n);
const progressOf = (calls: [string, unknown][]) => calls.filter(([n]) => n === A.progress).map(([, i]) => i as ProgressInput);

describe("provisionInstance", () => {
  test("network and share in parallel, NIC, VM polled with timers, creation script, SettingUp → Running", async () => {
    const r = await runOrchestration(provisionInstance, input, happyStubs());
    expect(r.status).toBe("Completed");
    expect(r.output).toBe("Running");
    const seq = names(r.calls);
    // The three independent steps are scheduled together, before the NIC that needs the NSG.
    expect(seq.slice(1, 4).sort()).toEqual([A.ensureNsg, A.ensurePublicIp, A.ensureShareFolders].sort());
    expect(seq.indexOf(A.ensureNic)).toBe(4);
    expect(seq.filter((n) => n === A.vmStatus)).toHaveLength(3);
    expect(r.timers).toBeGreaterThanOrEqual(3); // VM twice + script once, no busy activity
    const states = progressOf(r.calls).flatMap((p) => (p.state ? [`${p.state.op}:${p.state.to}`] : []));
    expect(states).toEqual(["create:SettingUp", "setup:Running"]);
    const last = progressOf(r.calls).at(-1)!;
    expect(last).toMatchObject({ done: { status: "Succeeded" }, state: { activity: true } });
    expect(progressOf(r.calls).find((p) => p.state?.to === "SettingUp")!.state).toMatchObject({ privateIp: "10.0.0.4" });
    expect(seq.indexOf(A.notifyDispatcher)).toBeGreaterThan(seq.lastIndexOf(A.progress));
    expect(seq.at(-1)).toBe(A.deleteScript);
    expect(r.customStatuses.map((s) => (s as { step: string }).step)).toEqual(["network", "vm", "creationScript", "running"]);
  });

  test("polling backs off: timer gaps grow by the factor up to the maximum", async () => {
    const r = await runOrchestration(provisionInstance, input, happyStubs({ [A.vmStatus]: vm(8) }));
    expect(r.output).toBe("Running");
    // 200, 300, 450, 675, 1013, 1519, 2000, 2000 ms for the VM, then 200 for the script, + activity ticks
    expect(r.elapsedMs).toBeGreaterThan(8000);
    expect(r.elapsedMs).toBeLessThan(9000);
  });

  test("a transient failure is retried (callActivityWithRetry) and the create goes on", async () => {
    let nsgCalls = 0;
    const r = await runOrchestration(provisionInstance, input, happyStubs({
      [A.ensureNsg]: (_i, attempt) => {
        nsgCalls++;
        if (attempt <= 2) throw failureError({ code: "TooManyRequests", message: "throttled", retryable: true });
        return ok({ nsgId: "nsg-id" });
      },
    }));
    expect(r.output).toBe("Running");
    expect(nsgCalls).toBe(3);
  });

  test("a business failure (not retried) rolls back VM and network and leaves CreateFailed with the error", async () => {
    let nicCalls = 0;
    const r = await runOrchestration(provisionInstance, input, happyStubs({
      [A.ensureNic]: () => {
        nicCalls++;
        return { ok: false, error: { code: "InvalidResourceReference", message: "subnet not found" } };
      },
      [A.vmStatus]: () => ok({ exists: false }),
    }));
    expect(r.output).toBe("CreateFailed");
    expect(nicCalls).toBe(1);
    const seq = names(r.calls);
    expect(seq).not.toContain(A.startCreateVm);
    expect(seq.slice(seq.indexOf(A.ensureNic) + 1)).toEqual([A.revokeAgentQueue, A.vmAction, A.vmStatus, A.deleteNetwork, A.progress]);
    expect(r.calls.find(([n]) => n === A.vmAction)![1]).toEqual({ instance: "alice-1", action: "delete" });
    expect(progressOf(r.calls).at(-1)).toMatchObject({
      state: { op: "create", to: "CreateFailed" },
      done: { status: "Failed", error: { code: "InvalidResourceReference", message: "subnet not found" } },
    });
  });

  test("retries exhausted on the VM PUT: rollback waits until the VM is gone, error code kept", async () => {
    let polls = 0;
    const r = await runOrchestration(provisionInstance, input, happyStubs({
      [A.startCreateVm]: () => {
        throw failureError({ code: "InternalServerError", message: "ARM kept failing", retryable: true });
      },
      [A.vmStatus]: () => ok(polls++ < 2 ? { exists: true, provisioning: "Deleting", power: "running" } : { exists: false }),
    }));
    expect(r.output).toBe("CreateFailed");
    expect(r.calls.filter(([n]) => n === A.startCreateVm)).toHaveLength(5);
    expect(r.calls.filter(([n]) => n === A.vmStatus)).toHaveLength(3);
    expect(progressOf(r.calls).at(-1)!.done!.error!.code).toBe("InternalServerError");
  });

  test("a GPU size on an image without drivers: the driver extension is polled before setup", async () => {
    let polls = 0;
    const r = await runOrchestration(provisionInstance, input, happyStubs({
      [A.ensureGpuDriver]: () => ok({ needed: true }),
      [A.gpuDriverStatus]: () => ok(polls++ < 2 ? { state: "Creating" } : { state: "Succeeded" }),
    }));
    expect(r.output).toBe("Running");
    const seq = names(r.calls);
    expect(seq.filter((n) => n === A.gpuDriverStatus)).toHaveLength(3);
    expect(seq.indexOf(A.ensureGpuDriver)).toBeLessThan(seq.indexOf(A.startScript));
    expect(r.customStatuses.map((s) => (s as { step: string }).step)).toEqual(["network", "vm", "gpuDriver", "creationScript", "running"]);
  });

  test("a failed driver extension is a create failure (rolled back)", async () => {
    let gone = false;
    const r = await runOrchestration(provisionInstance, input, happyStubs({
      [A.ensureGpuDriver]: () => ok({ needed: true }),
      [A.gpuDriverStatus]: () => ok({ state: "Failed", message: "No NVIDIA GPU was found" }),
      // Running until the rollback deletes it, then gone.
      [A.vmStatus]: () => ok(gone ? { exists: false } : { exists: true, provisioning: "Succeeded", power: "running" }),
      [A.vmAction]: () => {
        gone = true;
        return ok();
      },
    }));
    expect(r.output).toBe("CreateFailed");
    expect(progressOf(r.calls).at(-1)!.done!.error).toMatchObject({ code: "GpuDriverInstallFailed", message: expect.stringContaining("No NVIDIA GPU") });
  });

  test("VM provisioning Failed is a create failure", async () => {
    let n = 0;
    const r = await runOrchestration(provisionInstance, input, happyStubs({
      [A.vmStatus]: () => ok(n++ === 0 ? { exists: true, provisioning: "Failed", power: "unknown", error: { code: "AllocationFailed", message: "no capacity" } } : { exists: false }),
    }));
    expect(r.output).toBe("CreateFailed");
    expect(progressOf(r.calls).at(-1)!.done!.error).toEqual({ code: "AllocationFailed", message: "no capacity" });
  });

  test("a failing creation script leaves SetupFailed and keeps the VM (no rollback)", async () => {
    const r = await runOrchestration(provisionInstance, input, happyStubs({
      [A.scriptStatus]: () => ok({ state: "Failed", exitCode: 3, message: "boom" }),
    }));
    expect(r.output).toBe("SetupFailed");
    expect(names(r.calls)).not.toContain(A.vmAction);
    const last = progressOf(r.calls).at(-1)!;
    expect(last.state).toEqual({ op: "setup", to: "SetupFailed" });
    expect(last.done!.error!.code).toBe("SetupScriptFailed");
    expect(last.done!.error!.message).toMatch(/exit code 3.*Logs\/alice-1/);
  });

  test("a script that outlives its timeout is deleted and reported", async () => {
    const r = await runOrchestration(provisionInstance, input, happyStubs({
      [A.startScript]: () => ok({ runCommand: "rc", timeoutSeconds: 5 }),
      [A.scriptStatus]: () => ok({ state: "Running" }),
    }));
    expect(r.output).toBe("SetupFailed");
    expect(names(r.calls)).toContain(A.deleteScript);
    expect(progressOf(r.calls).at(-1)!.done!.error!.code).toBe("SetupScriptTimedOut");
  });
});

describe("polling budget", () => {
  test("with the default poll settings, a slow create and a long setup script stay within Compute's per-VM read bucket", async () => {
    // Both VM reads and run-command reads count against the VM's LowCostGet bucket (throttle.ts).
    const { burst, perMinute } = COMPUTE_LIMITS.LowCostGet.vm;
    const reads: number[] = [];
    let vmReadyAt: number | undefined;
    let scriptEndsAt: number | undefined;
    const { poll: _poll, ...defaults } = input;
    const r = await runOrchestration(provisionInstance, defaults, happyStubs({
      [A.vmStatus]: (_i, _a, now) => {
        reads.push(now);
        vmReadyAt ??= now + 12 * 60_000; // a 12-minute allocation
        return ok(now < vmReadyAt ? { exists: true, provisioning: "Creating", power: "starting" } : { exists: true, provisioning: "Succeeded", power: "running" });
      },
      [A.startScript]: (i) => ok((i as { kind: string }).kind === "creation" ? { runCommand: "setup-creation-op1", timeoutSeconds: 7200 } : { skipped: true }),
      [A.scriptStatus]: (_i, _a, now) => {
        reads.push(now);
        scriptEndsAt ??= now + 40 * 60_000; // a 40-minute setup script
        return ok(now < scriptEndsAt ? { state: "Running" } : { state: "Succeeded", exitCode: 0 });
      },
    }));
    expect(r.output).toBe("Running");
    let tokens = burst;
    let at = reads[0]!;
    for (const t of reads) {
      tokens = Math.min(burst, tokens + ((t - at) / 60_000) * perMinute);
      at = t;
      expect(tokens, `read at +${Math.round((t - reads[0]!) / 1000)} s`).toBeGreaterThanOrEqual(1);
      tokens -= 1;
    }
    expect(reads.length).toBeGreaterThan(100);
  });
});

describe("stop, start, restart, delete", () => {
  test("stop tells the dispatcher first, deallocates, polls, records Stopped", async () => {
    let n = 0;
    const r = await runOrchestration(stopInstance, input, happyStubs({
      [A.vmStatus]: () => ok({ exists: true, provisioning: "Succeeded", power: n++ < 1 ? "deallocating" : "deallocated" }),
    }));
    expect(r.output).toBe("Stopped");
    const seq = names(r.calls);
    // The job queue hears of the stop first (its size and state re-read), then the jobs' final cancels.
    expect(seq.slice(0, 2)).toEqual([JOB_ACTIVITIES.queueConfig, A.notifyDispatcher]);
    expect(r.calls[1]![1]).toEqual({ instance: "alice-1", state: "Stopping" });
    expect(r.calls.find(([n]) => n === A.vmAction)![1]).toMatchObject({ action: "deallocate" });
    expect(progressOf(r.calls).at(-1)).toMatchObject({ state: { op: "stop", to: "Stopped" }, done: { status: "Succeeded" } });
  });

  test("stop still completes when the dispatcher cannot be told", async () => {
    const r = await runOrchestration(stopInstance, input, happyStubs({
      [A.notifyDispatcher]: () => {
        throw new Error("no dispatcher");
      },
      [A.vmStatus]: () => ok({ exists: true, provisioning: "Succeeded", power: "deallocated" }),
    }));
    expect(r.output).toBe("Stopped");
  });

  test("a failed deallocate leaves Unknown", async () => {
    const r = await runOrchestration(stopInstance, input, happyStubs({ [A.vmAction]: () => ({ ok: false, error: { code: "Conflict", message: "busy" } }) }));
    expect(r.output).toBe("Unknown");
    expect(progressOf(r.calls).at(-1)!.state).toEqual({ op: "stop", to: "Unknown" });
  });

  test("start: VM start, SettingUp, startup step (none configured), Running with activity", async () => {
    const r = await runOrchestration(startInstance, input, happyStubs({ [A.vmStatus]: vm(1) }));
    expect(r.output).toBe("Running");
    const states = progressOf(r.calls).flatMap((p) => (p.state ? [`${p.state.op}:${p.state.to}`] : []));
    expect(states).toEqual(["start:SettingUp", "setup:Running"]);
    expect(r.calls.find(([n]) => n === A.startScript)![1]).toMatchObject({ kind: "startup" });
  });

  test("start that cannot start the VM goes back to Stopped", async () => {
    const r = await runOrchestration(startInstance, input, happyStubs({ [A.vmAction]: () => ({ ok: false, error: { code: "OperationNotAllowed", message: "quota" } }) }));
    expect(r.output).toBe("Stopped");
  });

  test("restart polls the ARM operation, not the VM (which still looks running right after the POST)", async () => {
    let opPolls = 0;
    const r = await runOrchestration(restartInstance, input, happyStubs({
      [A.vmAction]: () => ok({ operationUrl: "https://arm/operations/op-1" }),
      [A.vmOperation]: () => ok(opPolls++ < 2 ? { status: "InProgress" } : { status: "Succeeded" }),
      [A.vmStatus]: () => ok({ exists: true, provisioning: "Succeeded", power: "running" }),
    }));
    expect(r.output).toBe("Running");
    const seq = names(r.calls);
    expect(seq.filter((n) => n === A.vmOperation)).toHaveLength(3);
    expect(seq.indexOf(A.vmStatus)).toBeGreaterThan(seq.lastIndexOf(A.vmOperation));
    expect(r.calls.find(([n]) => n === A.vmOperation)![1]).toEqual({ operationUrl: "https://arm/operations/op-1" });
  });

  test("a restart whose operation ends Failed leaves Unknown with Azure's code and message", async () => {
    const r = await runOrchestration(restartInstance, input, happyStubs({
      [A.vmAction]: () => ok({ operationUrl: "https://arm/operations/op-2" }),
      [A.vmOperation]: () => ok({ status: "Failed", error: { code: "OperationPreempted", message: "preempted by a more recent operation" } }),
      [A.vmStatus]: () => ok({ exists: true, provisioning: "Succeeded", power: "running" }),
    }));
    expect(r.output).toBe("Unknown");
    expect(progressOf(r.calls).at(-1)!.done!.error).toEqual({ code: "OperationPreempted", message: "preempted by a more recent operation" });
    expect(names(r.calls)).not.toContain(A.vmStatus);
  });

  test("restart: restart VM, SettingUp, Running", async () => {
    const r = await runOrchestration(restartInstance, input, happyStubs({ [A.vmStatus]: vm(1) }));
    expect(r.output).toBe("Running");
    expect(r.calls.find(([n]) => n === A.vmAction)![1]).toMatchObject({ action: "restart" });
  });

  test("delete: dispatcher, VM until gone, network, then the record", async () => {
    let n = 0;
    const r = await runOrchestration(deleteInstance, input, happyStubs({ [A.vmStatus]: () => ok(n++ < 2 ? { exists: true, provisioning: "Deleting", power: "running" } : { exists: false }) }));
    expect(r.output).toBe("Deleted");
    const seq = names(r.calls).filter((x) => x !== A.progress);
    // The VM's role on its agent queue and the queue go before the VM (the role names its identity).
    expect(seq).toEqual([JOB_ACTIVITIES.queueConfig, A.notifyDispatcher, A.revokeAgentQueue, A.vmAction, A.vmStatus, A.vmStatus, A.vmStatus, A.deleteNetwork, A.removeRecord]);
    // The job queue goes with it: a later instance of the name gets a fresh one (its own size and cap).
    expect(r.entityOps).toEqual([[`@jobqueue@${input.instance.toLowerCase()}`, "delete"]]);
  });

  test("delete waits out a NIC reservation (NicReservedForAnotherVm) on a timer and still removes the network", async () => {
    let rounds = 0;
    const r = await runOrchestration(deleteInstance, input, happyStubs({
      [A.vmStatus]: () => ok({ exists: false }),
      [A.deleteNetwork]: () => ok(rounds++ < 1 ? { nicReservedSeconds: 180 } : {}),
    }));
    expect(r.output).toBe("Deleted");
    expect(names(r.calls).filter((x) => x === A.deleteNetwork)).toHaveLength(2);
    expect(r.elapsedMs).toBeGreaterThanOrEqual(180_000);
    expect(names(r.calls)).toContain(A.removeRecord);
  });

  test("a rollback also waits out the NIC reservation instead of leaking NIC, IP and NSG", async () => {
    let rounds = 0;
    const r = await runOrchestration(provisionInstance, input, happyStubs({
      [A.vmStatus]: () => ok(rounds === 0 ? { exists: true, provisioning: "Failed", power: "unknown", error: { code: "AllocationFailed", message: "no capacity" } } : { exists: false }),
      [A.vmAction]: () => ((rounds = 1), ok()),
      [A.deleteNetwork]: () => ok(rounds++ < 2 ? { nicReservedSeconds: 180 } : {}),
    }));
    expect(r.output).toBe("CreateFailed");
    expect(names(r.calls).filter((x) => x === A.deleteNetwork)).toHaveLength(2);
    const done = progressOf(r.calls).at(-1)!.done!;
    expect(done.error).toEqual({ code: "AllocationFailed", message: "no capacity" });
  });

  test("a NIC reserved longer than the waits allow leaves Unusable, with the code", async () => {
    const r = await runOrchestration(deleteInstance, input, happyStubs({
      [A.vmStatus]: () => ok({ exists: false }),
      [A.deleteNetwork]: () => ok({ nicReservedSeconds: 180 }),
    }));
    expect(r.output).toBe("Unusable");
    expect(progressOf(r.calls).at(-1)!.done!.error!.code).toBe("NicReservedForAnotherVm");
  });

  test("a delete that cannot finish leaves Unusable and keeps the record", async () => {
    const r = await runOrchestration(deleteInstance, input, happyStubs({
      [A.vmStatus]: () => ok({ exists: false }),
      [A.deleteNetwork]: () => ({ ok: false, error: { code: "InUseNetworkSecurityGroupCannotBeDeleted", message: "in use" } }),
    }));
    expect(r.output).toBe("Unusable");
    expect(names(r.calls)).not.toContain(A.removeRecord);
  });
});
