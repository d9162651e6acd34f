// The instance as the API shows it (api.md "Response body"), from the stored record.
import { autoStopView, type AutoStopSettings } from "../shared/idle";
import { ADMIN_USER_NAME } from "../shared/ids";
import { applicationViews } from "../shared/instances/applications";
import type { InstanceRecord } from "../shared/instances/record";
import { SSH_PORT } from "../shared/policies/ssh";
import type { InstanceResponse } from "../shared/schemas/instance";
import { operationAuditId } from "../shared/store/audit";

export function toInstanceResponse(rec: InstanceRecord, now: Date, settings: AutoStopSettings): InstanceResponse {
  const sshEnabled = rec.sshPublicAccess === "Enabled";
  const address = rec.publicIp ?? rec.privateIp;
  return {
    name: rec.name,
    ...(rec.instanceId ? { instanceId: rec.instanceId } : {}),
    state: rec.state,
    vmSize: rec.vmSize,
    vCpus: rec.vCpus,
    gpus: rec.gpus,
    assignedUser: rec.assignedUser,
    createdBy: rec.createdBy,
    createdAt: rec.createdAt,
    ...(rec.description !== undefined ? { description: rec.description } : {}),
    ssh: {
      publicAccess: rec.sshPublicAccess,
      adminUserName: ADMIN_USER_NAME,
      ...(sshEnabled && address ? { address, port: SSH_PORT } : {}),
    },
    network: {
      subnetId: rec.subnetId,
      ...(rec.privateIp ? { privateIp: rec.privateIp } : {}),
      ...(rec.publicIp ? { publicIp: rec.publicIp } : {}),
    },
    idleShutdownMinutes: rec.idleShutdownMinutes,
    ...(rec.lastActivityAt ? { lastActivityAt: rec.lastActivityAt } : {}),
    schedules: rec.schedules,
    applications: applicationViews(rec),
    jobs: rec.jobs,
    jobsPerCore: rec.jobsPerCore,
    ...(rec.lastOperation ? { lastOperation: lastOperationView(rec.lastOperation) } : {}),
    autoStop: autoStopView(rec, rec.jobs, now, settings),
    tags: rec.tags,
  };
}

/** The last operation, with links to its status and to its entry on the audit trail (who asked, and why). */
function lastOperationView({ orchestrationId: _internal, ...op }: NonNullable<InstanceRecord["lastOperation"]>) {
  if (!op.id) return op;
  return { ...op, operation: `/api/operations/${op.id}`, audit: `/api/audit/${operationAuditId(op.startedAt, op.id)}` };
}
