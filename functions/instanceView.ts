// The instance as the API shows it (api.md "Response body"), from the stored record.
import { autoStopView, type AutoStopSettings } from "../shared/idle";
import { ADMIN_USER_NAME } from "../shared/ids";
import type { InstanceRecord } from "../shared/instances/record";
import { SSH_PORT } from "../shared/policies/ssh";
import type { InstanceResponse } from "../shared/schemas/instance";
import { SHARE_MOUNT_POINT } from "../orchestrations/instances/cloudInit";

/**
 * Endpoints on the VM, reachable from the workspace's network (the NSG opens nothing else to
 * the outside): Jupyter and JupyterLab on 8888, RStudio Server on 8787, VS Code over SSH
 * remote into the user's folder on the share.
 */
export function applications(rec: InstanceRecord): { name: string; url: string }[] {
  const host = rec.publicIp ?? rec.privateIp;
  if (!host) return [];
  return [
    { name: "Jupyter", url: `http://${host}:8888/tree` },
    { name: "JupyterLab", url: `http://${host}:8888/lab` },
    { name: "RStudio", url: `http://${host}:8787/` },
    { name: "VS Code", url: `vscode://vscode-remote/ssh-remote+${ADMIN_USER_NAME}@${host}${SHARE_MOUNT_POINT}/Users/${rec.assignedUser}` },
  ];
}

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
    applications: applications(rec),
    jobs: rec.jobs,
    jobsPerCore: rec.jobsPerCore,
    ...(rec.lastOperation ? { lastOperation: rec.lastOperation } : {}),
    autoStop: autoStopView(rec, rec.jobs, now, settings),
    tags: rec.tags,
  };
}
