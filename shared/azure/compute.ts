// Virtual machines. Long operations are only *started* here (the call returns once ARM has
// accepted the request); orchestrators poll getVmStatus with durable timers instead of
// holding an activity open for minutes. PUT/DELETE are idempotent; delete treats 404 as done.
import type { VirtualMachine } from "@azure/arm-compute";
import { createPipelineRequest } from "@azure/core-rest-pipeline";
import { CloudError, isRetryableStatus, NotFoundError } from "../errors";
import type { ArmClients } from "./clients";
import { azureCall, azureCallOr404, statusOf, translateAzureError } from "./errors";

import { DSVM_IMAGE, type VmImage } from "../images";

export type { VmImage };

/** What VM_IMAGE defaults to: the Data Science VM for Ubuntu 22.04 (shared/images.ts). */
export const DEFAULT_VM_IMAGE: VmImage = DSVM_IMAGE;

export type VmSpec = {
  name: string;
  size: string;
  nicId: string;
  adminUsername: string;
  /** Key-only login; Azure needs at least one key for a Linux VM without a password. */
  sshPublicKeys: string[];
  /** cloud-init text; base64-encoded here. Must not contain secrets (ARM returns it to readers). */
  customData?: string;
  image?: VmImage;
  osDiskName?: string;
  osDiskSizeGb?: number;
  /** System-assigned identity (default true) so the VM reaches storage without keys. */
  systemAssignedIdentity?: boolean;
  userAssignedIdentityIds?: string[];
  tags?: Record<string, string>;
};

export type VmProvisioningState = "Creating" | "Updating" | "Succeeded" | "Failed" | "Deleting" | "Canceled" | "Unknown";
export type VmPowerState = "starting" | "running" | "stopping" | "stopped" | "deallocating" | "deallocated" | "unknown";

export type VmStatus = {
  provisioningState: VmProvisioningState;
  powerState: VmPowerState;
  vmSize?: string;
  /** Why provisioning failed, from the instance view (code + message). */
  error?: { code: string; message: string };
};

function vmBody(arm: ArmClients, spec: VmSpec): VirtualMachine {
  const image = spec.image ?? DEFAULT_VM_IMAGE;
  const userIds = spec.userAssignedIdentityIds ?? [];
  const system = spec.systemAssignedIdentity ?? true;
  const identityType = system && userIds.length ? "SystemAssigned, UserAssigned" : system ? "SystemAssigned" : userIds.length ? "UserAssigned" : "None";
  return {
    location: arm.location,
    tags: spec.tags,
    identity: {
      type: identityType,
      ...(userIds.length ? { userAssignedIdentities: Object.fromEntries(userIds.map((id) => [id, {}])) } : {}),
    },
    hardwareProfile: { vmSize: spec.size },
    storageProfile: {
      imageReference: image,
      osDisk: {
        createOption: "FromImage",
        ...(spec.osDiskName ? { name: spec.osDiskName } : {}),
        // The disk goes with the VM: deleting an instance must leave nothing billable behind.
        deleteOption: "Delete",
        managedDisk: { storageAccountType: "Premium_LRS" },
        ...(spec.osDiskSizeGb ? { diskSizeGB: spec.osDiskSizeGb } : {}),
      },
    },
    osProfile: {
      computerName: spec.name,
      adminUsername: spec.adminUsername,
      ...(spec.customData ? { customData: Buffer.from(spec.customData, "utf8").toString("base64") } : {}),
      linuxConfiguration: {
        disablePasswordAuthentication: true,
        ssh: {
          publicKeys: spec.sshPublicKeys.map((keyData) => ({
            path: `/home/${spec.adminUsername}/.ssh/authorized_keys`,
            keyData,
          })),
        },
      },
    },
    networkProfile: { networkInterfaces: [{ id: spec.nicId, primary: true, deleteOption: "Detach" }] },
  };
}

/** PUT the VM and return as soon as ARM accepts it; poll getVmStatus for the outcome. */
export async function startCreateOrUpdateVm(arm: ArmClients, spec: VmSpec): Promise<void> {
  await azureCall(`create VM ${spec.name}`, () =>
    arm.compute.virtualMachines.beginCreateOrUpdate(arm.resourceGroup, spec.name, vmBody(arm, spec)),
  );
}

const PROVISIONING: Record<string, VmProvisioningState> = {
  creating: "Creating",
  updating: "Updating",
  succeeded: "Succeeded",
  failed: "Failed",
  deleting: "Deleting",
  canceled: "Canceled",
};
const POWER: Record<string, VmPowerState> = {
  starting: "starting",
  running: "running",
  stopping: "stopping",
  stopped: "stopped",
  deallocating: "deallocating",
  deallocated: "deallocated",
};

/** Normalises a VM (with instance view) into one status; exported for unit tests. */
export function normaliseVmStatus(vm: VirtualMachine): VmStatus {
  const statuses = vm.instanceView?.statuses ?? [];
  const prov = statuses.find((s) => s.code?.startsWith("ProvisioningState/"));
  const power = statuses.find((s) => s.code?.startsWith("PowerState/"));
  const provWord = (vm.provisioningState ?? prov?.code?.split("/")[1] ?? "").toLowerCase();
  const provisioningState = PROVISIONING[provWord] ?? "Unknown";
  const status: VmStatus = {
    provisioningState,
    powerState: POWER[(power?.code?.split("/")[1] ?? "").toLowerCase()] ?? "unknown",
    vmSize: vm.hardwareProfile?.vmSize,
  };
  const failed = statuses.find((s) => s.code?.toLowerCase().startsWith("provisioningstate/failed"));
  if (provisioningState === "Failed" || failed) {
    status.error = {
      code: failed?.code?.split("/")[2] ?? "ProvisioningFailed",
      message: failed?.message ?? failed?.displayStatus ?? "VM provisioning failed",
    };
  }
  return status;
}

/** The VM's normalised status, or undefined when it does not exist. */
export async function getVmStatus(arm: ArmClients, name: string): Promise<VmStatus | undefined> {
  const vm = await azureCallOr404(`read VM ${name}`, () =>
    arm.compute.virtualMachines.get(arm.resourceGroup, name, { expand: "instanceView" }),
  );
  return vm && normaliseVmStatus(vm);
}

/** The VM's system-assigned identity (its principal id), if the VM exists and has one. */
export async function getVmPrincipalId(arm: ArmClients, name: string): Promise<string | undefined> {
  const vm = await azureCallOr404(`read VM ${name}`, () => arm.compute.virtualMachines.get(arm.resourceGroup, name));
  return vm?.identity?.principalId ?? undefined;
}

type VmAction = "beginStart" | "beginDeallocate" | "beginRestart" | "beginPowerOff";

/**
 * The Azure-AsyncOperation URL of an accepted LRO. A VM's own state lags its operation (a GET
 * right after a restart can still say "running"), so callers poll this URL for the outcome
 * (learn.microsoft.com/azure/azure-resource-manager/management/async-operations).
 */
export type OperationUrl = string | undefined;

const captureOperation = () => {
  let url: OperationUrl;
  return {
    onResponse: (raw: { status: number; headers: { get(name: string): string | undefined } }) => {
      if (raw.status === 201 || raw.status === 202) url ??= raw.headers.get("azure-asyncoperation") ?? undefined;
    },
    url: () => url,
  };
};

async function startAction(arm: ArmClients, name: string, action: VmAction, verb: string): Promise<OperationUrl> {
  const op = captureOperation();
  try {
    await arm.compute.virtualMachines[action](arm.resourceGroup, name, { onResponse: op.onResponse });
    return op.url();
  } catch (err) {
    if (statusOf(err) === 404) throw NotFoundError.resource("VM", name);
    throw translateAzureError(err, `${verb} VM ${name}`);
  }
}

export type OperationStatus = { status: "InProgress" | "Succeeded" | "Failed" | "Canceled"; error?: { code: string; message: string } };

/** Reads an operation-status resource (Azure-AsyncOperation); undefined when it is gone (404). */
export async function getOperationStatus(arm: ArmClients, url: string): Promise<OperationStatus | undefined> {
  // The network client is a classic ServiceClient: its pipeline carries the ARM token, TLS and retries.
  const res = await azureCall("read operation status", () => arm.network.sendRequest(createPipelineRequest({ url, method: "GET" })));
  if (res.status === 404) return undefined;
  if (res.status >= 400) {
    throw new CloudError(`Http${res.status}`, `read operation status failed: HTTP ${res.status}`, { httpStatus: res.status, retryable: isRetryableStatus(res.status) });
  }
  const body = JSON.parse(res.bodyAsText ?? "{}") as { status?: string; error?: { code?: string; message?: string } };
  const status = (["InProgress", "Succeeded", "Failed", "Canceled"] as const).find((s) => s.toLowerCase() === (body.status ?? "").toLowerCase()) ?? "InProgress";
  return { status, ...(body.error?.code ? { error: { code: body.error.code, message: body.error.message ?? body.error.code } } : {}) };
}

export const startVm = (arm: ArmClients, name: string) => startAction(arm, name, "beginStart", "start");
export const startDeallocateVm = (arm: ArmClients, name: string) => startAction(arm, name, "beginDeallocate", "deallocate");
export const startRestartVm = (arm: ArmClients, name: string) => startAction(arm, name, "beginRestart", "restart");
export const startPowerOffVm = (arm: ArmClients, name: string) => startAction(arm, name, "beginPowerOff", "power off");

/** Starts deleting the VM (and its OS disk); a VM that is already gone is success (no operation). */
export async function startDeleteVm(arm: ArmClients, name: string): Promise<OperationUrl> {
  const op = captureOperation();
  await azureCallOr404(`delete VM ${name}`, () => arm.compute.virtualMachines.beginDelete(arm.resourceGroup, name, { onResponse: op.onResponse }));
  return op.url();
}

export type VmSku = {
  name: string;
  family: string;
  vCpus: number;
  gpus: number;
  memoryGb: number;
  /** False when the subscription cannot use the size in this location. */
  available: boolean;
  /** Why not (ARM's reasonCode: NotAvailableForSubscription, QuotaId). */
  restriction?: string;
};

export async function listVmSkus(arm: ArmClients): Promise<VmSku[]> {
  return azureCall("list VM sizes", async () => {
    const out: VmSku[] = [];
    for await (const sku of arm.compute.resourceSkus.list({ filter: `location eq '${arm.location}'` })) {
      if (sku.resourceType !== "virtualMachines" || !sku.name) continue;
      const cap = (n: string) => Number(sku.capabilities?.find((c) => c.name === n)?.value ?? 0) || 0;
      // A Location restriction (any reason) means this subscription cannot deploy the size here;
      // a Zone one only rules out some zones, and the app does not pin zones.
      const restricted = (sku.restrictions ?? []).find((r) => r.type === "Location");
      out.push({
        name: sku.name,
        family: sku.family ?? "",
        vCpus: cap("vCPUs"),
        gpus: cap("GPUs"),
        memoryGb: cap("MemoryGB"),
        available: !restricted,
        ...(restricted ? { restriction: restricted.reasonCode ?? "Restricted" } : {}),
      });
    }
    return out;
  });
}

export type VmUsage = { family: string; name: string; currentValue: number; limit: number };

/** Subscription vCPU usage per family in the location (ARM quota, not workspace policy). */
export async function listVmUsages(arm: ArmClients): Promise<VmUsage[]> {
  return azureCall("list compute usages", async () => {
    const out: VmUsage[] = [];
    for await (const u of arm.compute.usage.list(arm.location)) {
      out.push({
        family: u.name.value ?? "",
        name: u.name.localizedValue ?? u.name.value ?? "",
        currentValue: u.currentValue,
        limit: u.limit,
      });
    }
    return out;
  });
}

export type ExtensionSpec = { name: string; publisher: string; type: string; typeHandlerVersion: string };
export type ExtensionState = { provisioningState: string; message?: string };

/** PUTs a VM extension and returns once ARM accepted it (idempotent: the same PUT again is a no-op). */
export async function startEnsureVmExtension(arm: ArmClients, vm: string, ext: ExtensionSpec): Promise<void> {
  await azureCall(`install extension ${ext.name} on VM ${vm}`, () =>
    arm.compute.virtualMachineExtensions.beginCreateOrUpdate(arm.resourceGroup, vm, ext.name, {
      location: arm.location,
      publisher: ext.publisher,
      typePropertiesType: ext.type,
      typeHandlerVersion: ext.typeHandlerVersion,
      autoUpgradeMinorVersion: true,
    }),
  );
}

/** The extension's provisioning state (undefined when it does not exist). */
export async function getVmExtensionState(arm: ArmClients, vm: string, name: string): Promise<ExtensionState | undefined> {
  const ext = await azureCallOr404(`read extension ${name} of VM ${vm}`, () => arm.compute.virtualMachineExtensions.get(arm.resourceGroup, vm, name, { expand: "instanceView" }));
  if (!ext) return undefined;
  const message = ext.instanceView?.statuses?.find((s) => s.level === "Error")?.message;
  return { provisioningState: ext.provisioningState ?? "Unknown", ...(message ? { message } : {}) };
}
