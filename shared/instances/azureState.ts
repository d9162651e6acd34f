import type { InstanceState } from "./states";

// Azure reports a VM as instanceView status codes ("ProvisioningState/succeeded",
// "PowerState/deallocated"). They are normalised here, once, into our state names — as
// SkyPilot does for every cloud. Azure cannot see our finer states (SettingUp, JobRunning,
// SetupFailed, Restarting), so `reconcileState` keeps a recorded state the cloud agrees with.

export interface InstanceViewStatus {
  code?: string;
}

export type ObservedVm = { exists: false } | { exists: true; statuses: readonly InstanceViewStatus[] };

export interface NormalisedVmState {
  state: InstanceState;
  provisioning?: string;
  power?: string;
}

export function normaliseVmState(vm: ObservedVm): NormalisedVmState {
  if (!vm.exists) return { state: "Unusable" };
  let provisioning: string | undefined;
  let power: string | undefined;
  for (const s of vm.statuses) {
    const code = s.code?.toLowerCase() ?? "";
    if (code.startsWith("provisioningstate/")) provisioning = code.slice("provisioningstate/".length);
    else if (code.startsWith("powerstate/")) power = code.slice("powerstate/".length);
  }
  const base = { ...(provisioning ? { provisioning } : {}), ...(power ? { power } : {}) };
  const prov = provisioning?.split("/")[0];
  if (prov === "deleting") return { state: "Deleting", ...base };
  if (prov === "failed") return { state: "Unusable", ...base };
  if (prov === "creating") return { state: "Creating", ...base };
  switch (power) {
    case "running":
      return { state: "Running", ...base };
    case "starting":
      return { state: "Starting", ...base };
    case "stopping":
    case "deallocating":
      return { state: "Stopping", ...base };
    case "stopped": // stopped but still allocated (billed): a stop that was not a deallocate
    case "deallocated":
      return { state: "Stopped", ...base };
    default:
      return { state: "Unknown", ...base };
  }
}

/** What cloud state each recorded state is consistent with. */
const CONSISTENT: Partial<Record<InstanceState, readonly InstanceState[]>> = {
  SettingUp: ["Running"],
  SetupFailed: ["Running"],
  JobRunning: ["Running"],
  Restarting: ["Running", "Starting", "Stopping", "Stopped"],
  Creating: ["Creating", "Running", "Starting", "Unknown"],
  CreateFailed: ["Unusable", "Stopped", "Running", "Unknown"],
  Starting: ["Starting", "Stopped", "Running"],
  Stopping: ["Stopping", "Running", "Stopped"],
  Deleting: ["Deleting", "Running", "Stopped", "Stopping", "Unusable", "Unknown"],
};

/**
 * The state to show given our record and a fresh cloud observation. Busy states are owned by
 * their orchestration and are never overwritten by a read; settled ones follow the cloud.
 */
export function reconcileState(recorded: InstanceState, observed: InstanceState): InstanceState {
  if (recorded === observed) return recorded;
  const consistent = CONSISTENT[recorded];
  if (consistent?.includes(observed)) return recorded;
  if (recorded === "Creating" || recorded === "Starting" || recorded === "Stopping" || recorded === "Deleting" || recorded === "Restarting" || recorded === "SettingUp") {
    return recorded;
  }
  return observed;
}
