// The instance workflows' activities: plain async functions over the provider layer and the
// record stores, one input object each, no durable-functions import. Every one is idempotent
// (deterministic ARM names from armNames, PUT semantics, 404 on delete = done), because an
// activity may run more than once.
import { generateKeyPairSync } from "node:crypto";
import sshpk from "sshpk";
import type { ArmClients, FilesClients } from "../../shared/azure/clients";
import type { QueueServiceClient } from "@azure/storage-queue";
import { grantRole, revokeRole } from "../../shared/azure/roleAssignments";
import { ACR_PULL_ROLE, agentQueueResourceId, agentQueueUrl, deleteAgentQueue, ensureAgentQueue, QUEUE_MESSAGE_PROCESSOR_ROLE, roleAssignmentName, type AgentSettings } from "../../shared/jobs/agent";
import { getOperationStatus, getVmExtensionState, getVmPrincipalId, startEnsureVmExtension, getVmStatus, startCreateOrUpdateVm, startDeallocateVm, startDeleteVm, startRestartVm, startVm, type OperationStatus } from "../../shared/azure/compute";
import { needsGpuDriverExtension, NVIDIA_DRIVER_EXTENSION } from "../../shared/images";
import { ensureDirectory, ensureShare } from "../../shared/azure/files";
import { deleteNic, deleteNsg, deletePublicIp, ensureNic, ensureNsg, ensurePublicIp, type NsgRuleSpec } from "../../shared/azure/network";
import { deleteRunCommand, getRunCommand, isTerminal, listRunCommandStates, putRunCommand } from "../../shared/azure/runCommands";
import { NIC_RESERVATION_SECONDS } from "../../shared/azure/errors";
import { CloudError, NotFoundError, PreconditionFailedError } from "../../shared/errors";
import { ADMIN_USER_NAME, armNames, sharePaths } from "../../shared/ids";
import type { InstanceRecord } from "../../shared/instances/record";
import { checkTransition } from "../../shared/instances/stateMachine";
import { nsgSecurityRules } from "../../shared/policies/ssh";
import { applicationsNsgRules } from "../../shared/policies/applications";
import type { Settings } from "../../shared/settings";
import type { InstanceStore } from "../../shared/store/instances";
import type { OperationStore } from "../../shared/store/operations";
import { cloudInit, MOUNT_WAIT_SECONDS, SETUP_WRAPPER } from "./cloudInit";
import type {
  DeleteNetworkResult,
  NetworkResult,
  OperationRecord,
  ProgressInput,
  ScriptRef,
  ScriptStarted,
  ScriptStartInput,
  ScriptStatus,
  VmActionInput,
  VmActionResult,
  VmStatusResult,
} from "./types";
import { operationAuditId, type AuditStore } from "../../shared/store/audit";
import { recordOperationEnded } from "../../shared/telemetry/metrics";

export type InstanceActivityDeps = {
  arm: ArmClients;
  /** The job agent: its settings and the queue service that holds the instances' agent queues. */
  agent: { settings: AgentSettings; queues: QueueServiceClient };
  files: FilesClients;
  settings: Pick<Settings, "workspaceName" | "sshAllowedSourcePrefixes" | "allowSshPublicAccess" | "workspaceFiles" | "agentSignalsSeconds" | "appsProxyPort" | "appsInputRecentSeconds" | "vmImage">;
  instances: InstanceStore<InstanceRecord>;
  operations: OperationStore<OperationRecord>;
  /** The audit trail: an operation's entry gets its result when the operation ends. */
  audit: AuditStore;
};

type Ref = { instance: string };

/** Optimistic concurrency: re-read and re-apply when someone else wrote in between. */
export async function withEtagRetry<T>(fn: () => Promise<T>, attempts = 20): Promise<T> {
  for (let i = 1; ; i++) {
    try {
      return await fn();
    } catch (err) {
      if (!(err instanceof PreconditionFailedError) || i >= attempts) throw err;
      await new Promise((r) => setTimeout(r, Math.min(10 * i, 100)));
    }
  }
}

const AZUREUSER_UID = "1000";

function tagsOf(settings: InstanceActivityDeps["settings"], rec: InstanceRecord): Record<string, string> {
  return { "ci-workspace": settings.workspaceName, "ci-instance": rec.name, "ci-user": rec.assignedUser };
}

/** Azure needs a key for a password-less Linux VM; without one we install a key whose private half never existed anywhere but here. */
function unusableKey(): string {
  const { publicKey } = generateKeyPairSync("ed25519");
  return sshpk.parseKey(publicKey.export({ type: "spki", format: "pem" }).toString(), "pem").toString("ssh");
}

export function createInstanceActivities(deps: InstanceActivityDeps) {
  const { arm, files, settings, instances, operations } = deps;

  async function record(name: string): Promise<InstanceRecord> {
    const got = await instances.get(name);
    if (!got) throw NotFoundError.resource("Instance", name);
    return got.record;
  }

  /**
   * Azure holds at most 25 run commands per VM, counting ones still being deleted, and a command
   * cannot be deleted while the VM is not running: finished leftovers (a delete refused during a
   * stop, a crash between run and delete) are removed, and waited for, before setup adds one.
   */
  async function removeFinishedRunCommands(vm: string, keep: string): Promise<void> {
    const leftovers = (await listRunCommandStates(arm, vm)).filter((rc) => rc.name !== keep && isTerminal(rc.state));
    await Promise.all(leftovers.map((rc) => deleteRunCommand(arm, vm, rc.name)));
  }

  return {
    async ensureNsg({ instance }: Ref): Promise<{ nsgId: string }> {
      const rec = await record(instance);
      const rules: NsgRuleSpec[] = [...nsgSecurityRules(rec.sshPublicAccess, settings), ...applicationsNsgRules(settings.appsProxyPort)].map((r) => ({
        name: r.name,
        priority: r.properties.priority,
        direction: r.properties.direction,
        access: r.properties.access,
        protocol: r.properties.protocol,
        sourceAddressPrefixes: r.properties.sourceAddressPrefixes ?? [r.properties.sourceAddressPrefix ?? "*"],
        destinationPortRanges: [r.properties.destinationPortRange],
        ...(r.properties.description ? { description: r.properties.description } : {}),
      }));
      const nsg = await ensureNsg(arm, { name: armNames.nsg(instance), rules, tags: tagsOf(settings, rec) });
      return { nsgId: nsg.id };
    },

    async ensurePublicIp({ instance }: Ref): Promise<{ publicIpId?: string; publicIp?: string }> {
      const rec = await record(instance);
      if (!rec.enablePublicIp) return {};
      const ip = await ensurePublicIp(arm, { name: armNames.publicIp(instance), tags: tagsOf(settings, rec) });
      return { publicIpId: ip.id, ...(ip.ipAddress ? { publicIp: ip.ipAddress } : {}) };
    },

    async ensureNic(input: Ref & { nsgId: string; publicIpId?: string }): Promise<NetworkResult> {
      const rec = await record(input.instance);
      const nic = await ensureNic(arm, {
        name: armNames.nic(input.instance),
        subnetId: rec.subnetId,
        nsgId: input.nsgId,
        ...(input.publicIpId ? { publicIpId: input.publicIpId } : {}),
        tags: tagsOf(settings, rec),
      });
      return { nicId: nic.id, ...(nic.privateIp ? { privateIp: nic.privateIp } : {}) };
    },

    /** The workspace share, the user's folder and the instance's log folder (never deleted by us). */
    async ensureShareFolders({ instance }: Ref): Promise<void> {
      const rec = await record(instance);
      await ensureShare(files, settings.workspaceFiles.shareQuotaGb);
      // The user works as azureuser (uid/gid 1000, the first user of the Ubuntu image) on the NFS mount.
      await ensureDirectory(files, sharePaths.userFolder(rec.assignedUser), { owner: AZUREUSER_UID, group: AZUREUSER_UID, mode: "0755" });
      await ensureDirectory(files, sharePaths.logsFolder(instance));
    },

    /** PUTs the VM and returns once ARM accepted it; the orchestrator polls vmStatus. */
    async startCreateVm(input: Ref & { nicId: string }): Promise<void> {
      const rec = await record(input.instance);
      await startCreateOrUpdateVm(arm, {
        name: armNames.vm(input.instance),
        size: rec.vmSize,
        nicId: input.nicId,
        adminUsername: ADMIN_USER_NAME,
        sshPublicKeys: [rec.sshPublicKey ?? unusableKey()],
        customData: cloudInit(settings.workspaceFiles.storageAccount, settings.workspaceFiles.shareName, {
          appUrl: deps.agent.settings.appUrl,
          appAudience: deps.agent.settings.appAudience,
          queueUrl: agentQueueUrl(deps.agent.settings, input.instance),
          instance: rec.name,
          user: rec.assignedUser,
          heartbeatSeconds: deps.agent.settings.heartbeatSeconds,
          ...(deps.agent.settings.registry ? { registry: deps.agent.settings.registry.loginServer } : {}),
          signalsSeconds: settings.agentSignalsSeconds,
          proxyPort: settings.appsProxyPort,
          inputRecentSeconds: settings.appsInputRecentSeconds,
        }),
        image: settings.vmImage.image,
        osDiskName: armNames.osDisk(input.instance),
        systemAssignedIdentity: true,
        tags: tagsOf(settings, rec),
      });
    },

    /**
     * The instance's agent queue, and a role on that one queue for the VM's identity (its agent
     * takes messages with it); with a workspace registry, AcrPull on it too (the agent pulls job
     * images with that identity). Idempotent: the queue is created if missing, each assignment's
     * name is derived from scope and principal.
     */
    async grantAgentQueue({ instance }: Ref): Promise<void> {
      const principalId = await getVmPrincipalId(arm, armNames.vm(instance));
      if (!principalId) throw new NotFoundError(`The VM of instance '${instance}' has no system-assigned identity.`);
      await ensureAgentQueue(deps.agent.queues, instance);
      const scope = agentQueueResourceId(deps.agent.settings, instance);
      await grantRole(arm, { scope, name: roleAssignmentName(scope, principalId), roleId: QUEUE_MESSAGE_PROCESSOR_ROLE, principalId });
      const registry = deps.agent.settings.registry?.resourceId;
      if (registry) await grantRole(arm, { scope: registry, name: roleAssignmentName(registry, principalId), roleId: ACR_PULL_ROLE, principalId });
    },

    /**
     * The NVIDIA GPU driver extension on a GPU size whose image lacks drivers (VM_IMAGE); started
     * here, polled with gpuDriverStatus. `needed: false` when there is nothing to install.
     */
    async ensureGpuDriver({ instance }: Ref): Promise<{ needed: boolean }> {
      const rec = await record(instance);
      if (!needsGpuDriverExtension(rec.gpus, settings.vmImage)) return { needed: false };
      await startEnsureVmExtension(arm, armNames.vm(instance), NVIDIA_DRIVER_EXTENSION);
      return { needed: true };
    },

    async gpuDriverStatus({ instance }: Ref): Promise<{ state: string; message?: string }> {
      const s = await getVmExtensionState(arm, armNames.vm(instance), NVIDIA_DRIVER_EXTENSION.name);
      return s ? { state: s.provisioningState, ...(s.message ? { message: s.message } : {}) } : { state: "NotFound" };
    },

    /** Before the VM goes: its roles on the queue and the registry, then the queue (with any messages left). */
    async revokeAgentQueue({ instance }: Ref): Promise<void> {
      const principalId = await getVmPrincipalId(arm, armNames.vm(instance));
      const scope = agentQueueResourceId(deps.agent.settings, instance);
      const registry = deps.agent.settings.registry?.resourceId;
      if (principalId && registry) await revokeRole(arm, registry, roleAssignmentName(registry, principalId));
      if (principalId) await revokeRole(arm, scope, roleAssignmentName(scope, principalId));
      await deleteAgentQueue(deps.agent.queues, instance);
    },

    async vmStatus({ instance }: Ref): Promise<VmStatusResult> {
      const s = await getVmStatus(arm, armNames.vm(instance));
      if (!s) return { exists: false };
      return { exists: true, provisioning: s.provisioningState, power: s.powerState, ...(s.error ? { error: s.error } : {}) };
    },

    /** Starts the action; answers its operation's URL (Azure-AsyncOperation) to poll, if ARM gave one. */
    async vmAction({ instance, action }: VmActionInput): Promise<VmActionResult> {
      const vm = armNames.vm(instance);
      const start = { start: startVm, deallocate: startDeallocateVm, restart: startRestartVm, delete: startDeleteVm }[action];
      const operationUrl = await start(arm, vm);
      return operationUrl ? { operationUrl } : {};
    },

    /** The status of an ARM operation; `gone` when ARM no longer has it (the VM's state then says). */
    async vmOperation({ operationUrl }: { operationUrl: string }): Promise<OperationStatus | { status: "Gone" }> {
      return (await getOperationStatus(arm, operationUrl)) ?? { status: "Gone" };
    },

    /**
     * NIC first (it holds the NSG and IP), then IP and NSG together; absent ones are done. A NIC
     * still reserved for the deleted VM (Azure: ~180 s) is not an error: the answer says how long
     * to wait before calling again, and the orchestrator waits on a durable timer.
     */
    async deleteNetwork({ instance }: Ref): Promise<DeleteNetworkResult> {
      try {
        await deleteNic(arm, armNames.nic(instance));
      } catch (err) {
        if (err instanceof CloudError && err.code === "NicReservedForAnotherVm") {
          return { nicReservedSeconds: Math.ceil((err.retryAfterMs ?? NIC_RESERVATION_SECONDS * 1000) / 1000) };
        }
        throw err;
      }
      await Promise.all([deletePublicIp(arm, armNames.publicIp(instance)), deleteNsg(arm, armNames.nsg(instance))]);
      return {};
    },

    async startScript(input: ScriptStartInput): Promise<ScriptStarted> {
      const rec = await record(input.instance);
      const user = rec.setupScripts?.[input.kind];
      // The creation step always runs: it proves the share is mounted before the instance is
      // Running. The startup step runs for a startup script, or to install a replaced SSH key.
      const sshKey = rec.sshPublicAccess === "Enabled" ? rec.sshPublicKey : undefined;
      if (!user && !sshKey && input.kind === "startup") return { skipped: true };
      const runCommand = armNames.setupRunCommand(input.kind, input.operationId);
      const timeoutSeconds = (user?.timeoutMinutes ?? 15) * 60 + MOUNT_WAIT_SECONDS;
      await removeFinishedRunCommands(armNames.vm(input.instance), runCommand);
      await putRunCommand(arm, armNames.vm(input.instance), runCommand, {
        script: SETUP_WRAPPER,
        parameters: {
          CI_NAME: rec.name.toLowerCase(),
          CI_USER: rec.assignedUser,
          CI_SCRIPT_KIND: input.kind,
          CI_OPERATION_ID: input.operationId,
          ...(sshKey && input.kind === "startup" ? { CI_SSH_PUBLIC_KEY: sshKey } : {}),
          ...(user ? { CI_SCRIPT_B64: Buffer.from(user.inline, "utf8").toString("base64") } : {}),
        },
        timeoutInSeconds: timeoutSeconds,
      });
      return { runCommand, timeoutSeconds };
    },

    async scriptStatus({ instance, runCommand }: ScriptRef): Promise<ScriptStatus> {
      const s = await getRunCommand(arm, armNames.vm(instance), runCommand);
      if (!s) return { state: "Failed", message: `run command ${runCommand} no longer exists` };
      const tail = (s.error || s.output || s.executionMessage || "").slice(-1000);
      return { state: s.state, ...(s.exitCode !== undefined ? { exitCode: s.exitCode } : {}), ...(tail ? { message: tail } : {}) };
    },

    async deleteScript({ instance, runCommand }: ScriptRef): Promise<void> {
      await deleteRunCommand(arm, armNames.vm(instance), runCommand);
    },

    /** One write per phase change: operation steps/status, then instance state + lastOperation. */
    async progress(p: ProgressInput): Promise<void> {
      const op = await withEtagRetry(async () => {
        const got = await operations.get(p.operationId);
        if (!got) return undefined;
        const rec: OperationRecord = { ...got.record, steps: [...(got.record.steps ?? [])] };
        for (const step of p.steps ?? []) {
          const i = rec.steps!.findIndex((s) => s.name === step.name);
          const ended = step.status === "Succeeded" || step.status === "Failed" || step.status === "Canceled";
          const prev = i >= 0 ? rec.steps![i]! : { name: step.name, status: step.status, startedAt: p.at };
          const next = { ...prev, status: step.status, ...(ended ? { endedAt: p.at } : {}) };
          if (i >= 0) rec.steps![i] = next;
          else rec.steps!.push(next);
        }
        if (p.done) {
          rec.status = p.done.status;
          rec.endedAt = p.at;
          if (p.done.error) rec.error = p.done.error;
        } else if (rec.status === "NotStarted") rec.status = "Running";
        if (JSON.stringify(rec) !== JSON.stringify(got.record)) await operations.update(rec, got.etag);
        return rec;
      });
      await withEtagRetry(async () => {
        const got = await instances.get(p.instance);
        if (!got) return;
        const rec: InstanceRecord = { ...got.record, updatedAt: p.at };
        if (p.state) {
          if (rec.state !== p.state.to) checkTransition(p.state.op, rec.state, p.state.to);
          rec.state = p.state.to;
          if (p.state.privateIp) rec.privateIp = p.state.privateIp;
          if (p.state.publicIp) rec.publicIp = p.state.publicIp;
          // Reaching Running counts as activity: idle shutdown starts counting from here.
          if (p.state.activity) rec.lastActivityAt = p.at;
        }
        if (op && (rec.lastOperation === undefined || rec.lastOperation.id === op.id || op.startedAt >= rec.lastOperation.startedAt)) {
          rec.lastOperation = {
            id: op.id,
            name: op.name,
            status: op.status,
            startedAt: op.startedAt,
            ...(op.endedAt ? { endedAt: op.endedAt } : {}),
            ...(op.error ? { error: { code: op.error.code, message: op.error.message } } : {}),
          };
        }
        await instances.update(rec, got.etag);
      });
      if (op && p.done) {
        recordOperationEnded(op.name, op.status, op.startedAt, p.at);
        await deps.audit.finish(operationAuditId(op.startedAt, op.id), { result: op.status === "Succeeded" ? "Succeeded" : op.status === "Canceled" ? "Canceled" : "Failed", endedAt: p.at, ...(op.error ? { error: { code: op.error.code, message: op.error.message } } : {}) });
      }
    },

    /** The end of a delete: the record goes, the operation (still readable) succeeds. */
    async removeRecord(input: { instance: string; operationId: string; at: string }): Promise<void> {
      await withEtagRetry(async () => {
        const got = await operations.get(input.operationId);
        if (!got || got.record.status === "Succeeded") return;
        const steps = (got.record.steps ?? []).map((s) => (s.status === "Running" ? { ...s, status: "Succeeded" as const, endedAt: input.at } : s));
        await operations.update({ ...got.record, steps, status: "Succeeded", endedAt: input.at }, got.etag);
      });
      const op = await operations.get(input.operationId);
      if (op) {
        await deps.audit.finish(operationAuditId(op.record.startedAt, op.record.id), { result: "Succeeded", endedAt: input.at });
        recordOperationEnded(op.record.name, "Succeeded", op.record.startedAt, input.at);
      }
      await instances.delete(input.instance);
    },
  };
}

export type InstanceActivities = ReturnType<typeof createInstanceActivities>;
