// Managed run commands (Microsoft.Compute/virtualMachines/runCommands). A run command is
// named by its caller (the job id, the setup step), which makes a retried PUT a no-op instead
// of a second execution. Always asynchronous: put returns once ARM accepts it, callers poll.
import type { ArmClients } from "./clients";
import { ConflictError } from "../errors";
import { azureCall, azureCallOr404 } from "./errors";

export type RunCommandSpec = {
  script: string;
  /** Passed to the script as environment variables (visible in the resource). */
  parameters?: Record<string, string>;
  /** Like parameters, but never returned by ARM: use for anything sensitive. */
  protectedParameters?: Record<string, string>;
  timeoutInSeconds?: number;
  runAsUser?: string;
  /** SAS URLs (or identity-accessible URLs) where stdout/stderr are streamed. */
  outputBlobUri?: string;
  errorBlobUri?: string;
};

export type RunCommandState = "Pending" | "Running" | "Succeeded" | "Failed" | "TimedOut" | "Canceled";

export type RunCommandStatus = {
  state: RunCommandState;
  exitCode?: number;
  output?: string;
  error?: string;
  executionMessage?: string;
  startTime?: string;
  endTime?: string;
};

const toList = (m?: Record<string, string>) => Object.entries(m ?? {}).map(([name, value]) => ({ name, value }));

export async function putRunCommand(arm: ArmClients, vmName: string, name: string, spec: RunCommandSpec): Promise<void> {
  await azureCall(`start run command ${name} on VM ${vmName}`, () =>
    arm.compute.virtualMachineRunCommands.beginCreateOrUpdate(arm.resourceGroup, vmName, name, {
      location: arm.location,
      source: { script: spec.script },
      parameters: toList(spec.parameters),
      protectedParameters: toList(spec.protectedParameters),
      asyncExecution: true,
      // A failing script is a result to report, not a failed ARM deployment.
      treatFailureAsDeploymentFailure: false,
      ...(spec.timeoutInSeconds !== undefined ? { timeoutInSeconds: spec.timeoutInSeconds } : {}),
      ...(spec.runAsUser ? { runAsUser: spec.runAsUser } : {}),
      ...(spec.outputBlobUri ? { outputBlobUri: spec.outputBlobUri } : {}),
      ...(spec.errorBlobUri ? { errorBlobUri: spec.errorBlobUri } : {}),
    }),
  );
}

const STATES: Record<string, RunCommandState> = {
  unknown: "Pending",
  pending: "Pending",
  running: "Running",
  succeeded: "Succeeded",
  failed: "Failed",
  timedout: "TimedOut",
  canceled: "Canceled",
  cancelled: "Canceled",
};

/** The run command's execution status, or undefined if it does not exist. */
export async function getRunCommand(arm: ArmClients, vmName: string, name: string): Promise<RunCommandStatus | undefined> {
  const rc = await azureCallOr404(`read run command ${name} on VM ${vmName}`, () =>
    arm.compute.virtualMachineRunCommands.getByVirtualMachine(arm.resourceGroup, vmName, name, { expand: "instanceView" }),
  );
  return rc && runCommandStatus(rc);
}

type ArmRunCommand = Awaited<ReturnType<ArmClients["compute"]["virtualMachineRunCommands"]["getByVirtualMachine"]>>;

function runCommandStatus(rc: ArmRunCommand): RunCommandStatus {
  const iv = rc.instanceView;
  let state = STATES[(iv?.executionState ?? "").toLowerCase()] ?? "Pending";
  // Provisioning Failed while execution never reported (executionState Unknown/Pending, or none):
  // the extension will not report later, so this is a failure, not something to poll until the timeout.
  if (state === "Pending" && rc.provisioningState?.toLowerCase() === "failed") state = "Failed";
  const out: RunCommandStatus = { state };
  if (iv?.exitCode !== undefined && iv.exitCode !== null) out.exitCode = iv.exitCode;
  if (iv?.output) out.output = iv.output;
  if (iv?.error) out.error = iv.error;
  if (iv?.executionMessage) out.executionMessage = iv.executionMessage;
  if (iv?.startTime) out.startTime = new Date(iv.startTime).toISOString();
  if (iv?.endTime) out.endTime = new Date(iv.endTime).toISOString();
  return out;
}

export function isTerminal(state: RunCommandState): boolean {
  return state === "Succeeded" || state === "Failed" || state === "TimedOut" || state === "Canceled";
}

/**
 * Deletes the run command (Azure limits how many a VM may hold); 404 = already gone. Cancels it
 * if running. `wait: false` returns once ARM accepted the DELETE (the removal finishes on its own).
 * Resolves false when Azure refused because the VM is not running (409 OperationNotAllowed: a run
 * command is an extension, changed only on a running VM): it then stays until the VM runs again
 * (setup removes finished leftovers) or goes with the VM.
 */
export async function deleteRunCommand(arm: ArmClients, vmName: string, name: string, opts: { wait?: boolean } = {}): Promise<boolean> {
  const what = `delete run command ${name} on VM ${vmName}`;
  const rcs = arm.compute.virtualMachineRunCommands;
  try {
    if (opts.wait === false) {
      await azureCallOr404(what, () => rcs.beginDelete(arm.resourceGroup, vmName, name, { updateIntervalInMs: arm.pollIntervalMs }));
    } else {
      await azureCallOr404(what, () => rcs.beginDeleteAndWait(arm.resourceGroup, vmName, name, { updateIntervalInMs: arm.pollIntervalMs }));
    }
    return true;
  } catch (err) {
    if (isVmNotRunning(err)) return false;
    throw err;
  }
}

/** Azure's refusal to change extensions (run commands) on a VM that is not running. */
export function isVmNotRunning(err: unknown): boolean {
  return err instanceof ConflictError && (err.details ?? []).some((d) => d.code === "OperationNotAllowed");
}

/** The run commands on a VM with their state (Azure counts all of them against its per-VM limit). */
export async function listRunCommandStates(arm: ArmClients, vmName: string): Promise<Array<{ name: string; state: RunCommandState }>> {
  return azureCall(`list run commands on VM ${vmName}`, async () => {
    const out: Array<{ name: string; state: RunCommandState }> = [];
    for await (const rc of arm.compute.virtualMachineRunCommands.listByVirtualMachine(arm.resourceGroup, vmName, { expand: "instanceView" })) {
      if (rc.name) out.push({ name: rc.name, state: runCommandStatus(rc).state });
    }
    return out;
  });
}

/** Names of the run commands on a VM (to clean up leftovers after a crash). */
export async function listRunCommands(arm: ArmClients, vmName: string): Promise<string[]> {
  return azureCall(`list run commands on VM ${vmName}`, async () => {
    const names: string[] = [];
    for await (const rc of arm.compute.virtualMachineRunCommands.listByVirtualMachine(arm.resourceGroup, vmName)) {
      if (rc.name) names.push(rc.name);
    }
    return names;
  });
}
