// Names, inputs and records of the instance lifecycle workflows (phase2 contract: every
// orchestration takes {instance, operationId, requestedBy}).
import type { InstanceState, OperationStatus } from "../../shared/instances/states";
import type { Operation } from "../../shared/instances/stateMachine";
import type { OperationResponse } from "../../shared/schemas/operation";
import { defineActivities, namesOf, retryPolicy } from "../boundary/registry";
import type { InstanceActivities } from "./activities";

export const ORCHESTRATIONS = {
  provision: "provisionInstance",
  start: "startInstance",
  stop: "stopInstance",
  restart: "restartInstance",
  delete: "deleteInstance",
} as const;

/**
 * The workflow's activities (activities.ts): transient ARM failures (429/5xx, network) that the
 * SDK's own retries did not absorb are retried; business failures (quota, bad size, state
 * conflicts) come back at once. The jobs workflow's `notifyDispatcher` is in its own registry.
 */
export const INSTANCE_ACTIVITIES = defineActivities<InstanceActivities>({
  names: {
    ensureNsg: "instanceEnsureNsg",
    ensurePublicIp: "instanceEnsurePublicIp",
    ensureNic: "instanceEnsureNic",
    ensureShareFolders: "instanceEnsureShareFolders",
    startCreateVm: "instanceStartCreateVm",
    vmStatus: "instanceVmStatus",
    grantAgentQueue: "instanceGrantAgentQueue",
    ensureGpuDriver: "instanceEnsureGpuDriver",
    gpuDriverStatus: "instanceGpuDriverStatus",
    revokeAgentQueue: "instanceRevokeAgentQueue",
    vmAction: "instanceVmAction",
    vmOperation: "instanceVmOperation",
    deleteNetwork: "instanceDeleteNetwork",
    startScript: "instanceStartScript",
    scriptStatus: "instanceScriptStatus",
    deleteScript: "instanceDeleteScript",
    progress: "instanceProgress",
    removeRecord: "instanceRemoveRecord",
  },
  retry: retryPolicy(1000, 5),
  failFast: true,
});
export const ACTIVITIES = namesOf(INSTANCE_ACTIVITIES);

/** How often the orchestrators poll long ARM operations (durable timers with backoff). */
export type PollOptions = { initialMs: number; maxMs: number; factor: number };
export const DEFAULT_POLL: PollOptions = { initialMs: 250, maxMs: 15_000, factor: 1.25 };

export type LifecycleInput = {
  instance: string;
  operationId: string;
  requestedBy: string;
  poll?: PollOptions;
  /** W3C traceparent of the span that started it (the HTTP request, the auto-stop action). */
  traceParent?: string;
};

/** Operation records: api.md's operation plus who may read it after the instance is gone. */
/** `instanceId`: the incarnation of the instance the operation acted on (InstanceRecord.instanceId). */
export type OperationRecord = OperationResponse & { requestedBy: string; assignedUser: string; instanceId?: string; reason?: string };
export type StepStatus = OperationStatus;

export type ProgressInput = {
  instance: string;
  operationId: string;
  /** The orchestrator's (deterministic) clock. */
  at: string;
  /** Steps that begin or end with this write. */
  steps?: { name: string; status: StepStatus }[];
  /** New instance state, checked against the state machine as `op`. */
  state?: { op: Operation; to: InstanceState; privateIp?: string; publicIp?: string; activity?: boolean };
  /** Ends the operation. */
  done?: { status: "Succeeded" | "Failed"; error?: { code: string; message: string } };
  /** Custom status text shown while running. */
  customStep?: string;
};

export type ScriptKind = "creation" | "startup";
export type ScriptStartInput = { instance: string; operationId: string; kind: ScriptKind };
export type ScriptRef = { instance: string; runCommand: string };
export type ScriptStatus = { state: "Pending" | "Running" | "Succeeded" | "Failed" | "TimedOut" | "Canceled"; exitCode?: number; message?: string };
/** What startScript answers: the run command to poll and how long to wait, or nothing to run. */
export type ScriptStarted = { runCommand: string; timeoutSeconds: number } | { skipped: true };

export type VmStatusResult = { exists: false } | { exists: true; provisioning: string; power: string; error?: { code: string; message: string } };
export type VmActionResult = { operationUrl?: string };
export type VmActionInput = { instance: string; action: "start" | "deallocate" | "restart" | "delete" };

/** Empty when the network is gone; otherwise the NIC is still reserved for the deleted VM for this long. */
export type DeleteNetworkResult = { nicReservedSeconds?: number };

export type NetworkResult = { nsgId?: string; publicIpId?: string; publicIp?: string; nicId?: string; privateIp?: string };
