// The stored instance record (Azure Table `instances`, partition = workspace, row = lowercased
// name), shared by the instance, jobs and auto-stop workflows. Top-level scalars (state,
// assignedUser, family) are table columns, so lists can filter on them.
import type { AzureClients } from "../azure/clients";
import type { AgentSignals, PostponedStop } from "../idle";
import type { Schedule } from "../schemas/common";
import type { OperationStatus, InstanceState } from "./states";
import { createInstanceStore, type InstanceStore } from "../store/instances";

export type SetupScriptSpec = { inline: string; timeoutMinutes: number };

export type LastOperation = {
  id: string;
  name: string;
  status: OperationStatus;
  startedAt: string;
  endedAt?: string;
  error?: { code: string; message: string };
  /** The orchestration running it (lifecycle operations), so a start that never happened can be made (services/operationRecovery.ts). Not in API answers. */
  orchestrationId?: string;
};

export type InstanceRecord = {
  name: string;
  /**
   * Immutable id of this incarnation of the name, made with the record. Jobs, operations and
   * idempotency keys carry it, so a later instance of the same name never sees what an earlier
   * one left behind. Absent only on records written before ids existed.
   */
  instanceId?: string;
  state: InstanceState;
  vmSize: string;
  family: string;
  vCpus: number;
  gpus: number;
  memoryGb: number;
  assignedUser: string;
  createdBy: string;
  createdAt: string;
  updatedAt: string;
  description?: string;
  sshPublicAccess: "Enabled" | "Disabled";
  sshPublicKey?: string;
  subnetId: string;
  enablePublicIp: boolean;
  privateIp?: string;
  publicIp?: string;
  idleShutdownMinutes: number | null;
  lastActivityAt?: string;
  /** The agent's last busy signals (POST /api/agent/instances/{name}/signals). */
  signals?: AgentSignals;
  /** The applications the agent's proxy serves, as it last reported them. */
  agentApps?: { proxyUrl?: string; applications: { name: string; state: "Available" | "NotInstalled"; message?: string }[] };
  /** A scheduled Stop pushed back by POST .../autostop/postpone. */
  stopPostponed?: PostponedStop;
  schedules: Schedule[];
  setupScripts?: { creation?: SetupScriptSpec; startup?: SetupScriptSpec };
  jobsPerCore: number;
  tags: Record<string, string>;
  /** Written by the jobs workflow; cap = jobsPerCore × vCPUs until the dispatcher says otherwise. */
  jobs: { queued: number; running: number; cap: number };
  /** The queue entity's operation number `jobs` was written from: applies that finish out of order never write older counts over newer ones. */
  jobsSeq?: number;
  lastOperation?: LastOperation;
  /** Hash of the validated create request: an identical PUT is an idempotent repeat (200). */
  requestHash: string;
};

/** Whether `rec` (a job, an operation) belongs to this incarnation of the instance. */
export function sameIncarnation(instance: { instanceId?: string }, rec: { instanceId?: string }): boolean {
  return instance.instanceId === rec.instanceId;
}

export function instanceRecords(storage: AzureClients["storage"], workspace: string): InstanceStore<InstanceRecord> {
  return createInstanceStore<InstanceRecord>(storage, workspace);
}
