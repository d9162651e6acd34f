// Microsoft.Compute virtualMachines: PUT (validated like ARM, quota-checked), GET with
// instanceView, start / deallocate / powerOff / restart / delete as LROs, with one owning
// operation per VM (a different concurrent operation gets 409).
import { randomUUID } from "node:crypto";
import sshpk from "sshpk";
import { decodeCustomData, isBase64 } from "./cloudInit";
import type { OpKind } from "./config";
import { vmId, type ArmRequest, type ArmResult, type Ctx } from "./context";
import { ArmError, arr, canonical, invalidParameter, nowIso, obj, optBool, requireObj, requireStr, str, type JsonObject } from "./http";
import { nicReserved, requireLocation, reserveNics } from "./network";
import { runsEnded, stopVmRuns } from "./runner";
import { bootVm, haltVm } from "./vmInit";
import { checkImageReference } from "./images";
import { familyLimit, findSize, vcpuUsage, type VmSize } from "./skus";
import { key, type OperationRecord, type PowerState, type VmRecord } from "./store";

const TYPE = "Microsoft.Compute/virtualMachines";
const RESERVED_USERS = ["administrator", "admin", "root", "guest", "user", "test", "sys", "support"];

export function findVm(ctx: Ctx, m: Record<string, string>, name: string): VmRecord {
  const vm = ctx.store.state.vms[key(vmId(m, name))];
  if (!vm) throw new ArmError(404, "ResourceNotFound", `The Resource '${TYPE}/${name}' under resource group '${m.rg}' was not found. For more details please go to https://aka.ms/ARMResourceNotFoundFix`);
  return vm;
}

export const vmName = (vm: VmRecord) => String(vm.body.name);
export const vmNicIds = (vm: VmRecord) =>
  (arr(obj(obj(vm.body.properties)?.networkProfile)?.networkInterfaces) ?? []).flatMap((n) => str(obj(n)?.id) ?? []);
export const adminUser = (vm: VmRecord) => String(obj(obj(vm.body.properties)?.osProfile)?.adminUsername ?? "azureuser");

function checkQuota(ctx: Ctx, size: VmSize, exceptVm?: string): void {
  const usage = vcpuUsage({ ...ctx.store.state, vms: Object.fromEntries(Object.entries(ctx.store.state.vms).filter(([k]) => k !== exceptVm)) });
  const limit = familyLimit(ctx.opts.quota, size.family);
  const current = usage.perFamily.get(size.family) ?? 0;
  const fail = (what: string, lim: number, cur: number) => new ArmError(409, "OperationNotAllowed",
    `Operation could not be completed as it results in exceeding approved ${what} quota. Additional details - Deployment Model: Resource Manager, Location: ${ctx.opts.location}, Current Limit: ${lim}, Current Usage: ${cur}, Additional Required: ${size.vCPUs}, (Minimum) New Limit Required: ${cur + size.vCPUs}. Submit a request for Quota increase at https://aka.ms/ProdportalCRP/#blade/Microsoft_Azure_Capacity/UsageAndQuota.ReactView by specifying parameters listed in the ‘Details’ section for deployment to succeed.`);
  if (current + size.vCPUs > limit) throw fail(`${size.family} Cores`, limit, current);
  if (usage.total + size.vCPUs > ctx.opts.quota.regional) throw fail("Total Regional Cores", ctx.opts.quota.regional, usage.total);
}

/** A size restricted for the subscription (in the location, or in the requested zone) is 409 SkuNotAvailable. */
function checkSkuRestriction(ctx: Ctx, size: VmSize, zones: string[] | undefined): void {
  const r = Object.entries(ctx.config.skuRestrictions).find(([k]) => k.toLowerCase() === size.name.toLowerCase())?.[1];
  if (!r) return;
  const zoneHit = r.type === "Zone" && (zones ?? []).some((z) => (r.zones ?? ["1"]).some((rz) => rz === z));
  if (r.type === "Location" || zoneHit) {
    throw new ArmError(409, "SkuNotAvailable",
      `The requested VM size for resource 'Following SKUs have failed for Capacity Restrictions: ${size.name}' is currently not available in location '${ctx.opts.location}'${zoneHit ? ` zones '${zones!.join(",")}'` : ""} for subscription '${ctx.opts.subscriptionId}' (${r.reasonCode}). Please try another size or deploy to a different location or zones. See https://aka.ms/azureskunotavailable for details.`,
      "properties.hardwareProfile.vmSize");
  }
}

function validateOsProfile(os: JsonObject, name: string, creating: boolean): { user: string; keys: string[] } {
  const user = requireStr(os.adminUsername, "properties.osProfile.adminUsername");
  if (RESERVED_USERS.includes(user.toLowerCase()) || !/^[a-z_][a-z0-9_.-]{0,63}$/i.test(user)) {
    throw invalidParameter("adminUsername", `The Admin Username specified is not allowed.`);
  }
  if (creating && os.computerName !== undefined && !/^[a-zA-Z0-9][a-zA-Z0-9-]{0,63}$/.test(String(os.computerName))) {
    throw invalidParameter("computerName", `The value of parameter computerName is invalid.`);
  }
  const linux = obj(os.linuxConfiguration);
  if (os.windowsConfiguration) throw invalidParameter("windowsConfiguration", "The emulator runs Linux VMs only; use linuxConfiguration.");
  const disablePassword = optBool(linux?.disablePasswordAuthentication, "linuxConfiguration.disablePasswordAuthentication") ?? false;
  const keys: string[] = [];
  const publicKeys = arr(obj(linux?.ssh)?.publicKeys) ?? [];
  publicKeys.forEach((k, i) => {
    const field = `linuxConfiguration.ssh.publicKeys[${i}]`;
    const path = str(obj(k)?.path);
    if (path !== `/home/${user}/.ssh/authorized_keys`) {
      throw invalidParameter(`${field}.path`, `Destination path for SSH public keys is currently limited to its default value /home/${user}/.ssh/authorized_keys due to a known issue in Linux provisioning agent.`);
    }
    const data = str(obj(k)?.keyData) ?? "";
    let parsed: sshpk.Key | undefined;
    try {
      parsed = sshpk.parseKey(data, "ssh");
    } catch {
      parsed = undefined;
    }
    // Azure takes SSH-2 RSA of at least 2048 bits and ED25519 only; ECDSA and the rest are refused
    // (learn.microsoft.com/azure/virtual-machines/linux/create-ssh-keys-detailed#supported-ssh-key-formats).
    if (!parsed || !((parsed.type === "rsa" && parsed.size >= 2048) || parsed.type === "ed25519")) {
      throw invalidParameter(`${field}.keyData`, `The value of parameter ${field}.keyData is invalid.${parsed ? ` Key type ${parsed.type} (${parsed.size} bits) is not supported: use RSA (2048 bits or more) or ED25519.` : ""}`);
    }
    keys.push(data);
  });
  if (disablePassword && keys.length === 0) {
    throw invalidParameter("linuxConfiguration.ssh.publicKeys", "Authentication using either SSH or by user name and password must be enabled in Linux profile.");
  }
  if (!disablePassword && !str(os.adminPassword)) throw invalidParameter("adminPassword", "Required parameter 'adminPassword' is missing (null).");
  const customData = os.customData;
  if (customData !== undefined && (typeof customData !== "string" || !isBase64(customData) || customData.length > 87380)) {
    throw invalidParameter("customData", `The value of parameter customData is invalid: it must be base64 and at most 87380 characters. VM: ${name}.`);
  }
  return { user, keys };
}

function identityOf(raw: JsonObject, existing: JsonObject | undefined): JsonObject | undefined {
  const id = obj(raw.identity);
  if (!id) return undefined;
  const type = str(id.type) ?? "None";
  if (!["SystemAssigned", "UserAssigned", "SystemAssigned, UserAssigned", "None"].includes(type)) {
    throw invalidParameter("identity.type", `The value '${type}' of identity.type is invalid.`);
  }
  if (type === "None") return { type };
  const out: JsonObject = { type };
  if (type.includes("SystemAssigned")) {
    out.principalId = str(existing?.principalId) ?? randomUUID();
    out.tenantId = str(existing?.tenantId) ?? randomUUID();
  }
  const uas = obj(id.userAssignedIdentities);
  if (type.includes("UserAssigned")) {
    if (!uas || Object.keys(uas).length === 0) throw invalidParameter("identity.userAssignedIdentities", "identity.userAssignedIdentities is required for UserAssigned identity.");
    const prev = obj(existing?.userAssignedIdentities) ?? {};
    out.userAssignedIdentities = Object.fromEntries(Object.keys(uas).map((k) => [k, obj(prev[k]) ?? { principalId: randomUUID(), clientId: randomUUID() }]));
  }
  return out;
}

export function putVm(ctx: Ctx, req: ArmRequest): ArmResult {
  const name = req.m.name;
  if (!/^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,62}[a-zA-Z0-9_]$|^[a-zA-Z0-9]$/.test(name)) throw invalidParameter("name", `Virtual machine name '${name}' is invalid.`);
  const id = vmId(req.m, name);
  const raw = req.body();
  const hash = canonical(raw);
  const location = requireLocation(ctx, raw);
  const existing = ctx.store.state.vms[key(id)];
  const pending = existing?.pendingOp ? ctx.ops.get(existing.pendingOp.id) : undefined;
  if (pending?.status === "InProgress") {
    if (existing!.requestHash === hash && (pending.kind === "vmCreate" || pending.kind === "vmUpdate")) {
      return { status: 200, body: vmView(ctx, existing!, false), headers: ctx.ops.headers(pending, req.baseUrl, req.apiVersion, ctx.config.retryAfterSeconds, false) };
    }
    throw conflict(name, pending);
  }
  if (existing && existing.requestHash === hash && existing.provisioningState !== "Failed") return { status: 200, body: vmView(ctx, existing, false) };

  const props = requireObj(raw.properties, "properties");
  const vmSize = requireStr(requireObj(props.hardwareProfile, "properties.hardwareProfile").vmSize, "properties.hardwareProfile.vmSize");
  const size = findSize(vmSize);
  if (!size) {
    throw new ArmError(409, "SkuNotAvailable", `The requested VM size for resource 'Following SKUs have failed for Capacity Restrictions: ${vmSize}' is currently not available in location '${ctx.opts.location}'. Please try another size or deploy to a different location or zones. See https://aka.ms/azureskunotavailable for details.`, "properties.hardwareProfile.vmSize");
  }
  checkSkuRestriction(ctx, size, arr(raw.zones)?.map(String));
  checkImageReference(ctx, props, !existing);
  const os = requireObj(props.osProfile ?? obj(existing?.body.properties)?.osProfile, "properties.osProfile");
  const { user, keys } = validateOsProfile(os, name, !existing);
  if (existing) {
    const old = obj(obj(existing.body.properties)?.osProfile) ?? {};
    for (const f of ["adminUsername", "computerName"]) {
      if (os[f] !== undefined && old[f] !== undefined && os[f] !== old[f]) {
        throw new ArmError(409, "PropertyChangeNotAllowed", `Changing property 'osProfile.${f}' is not allowed.`, `osProfile.${f}`);
      }
    }
  }
  const nicRefs = arr(requireObj(props.networkProfile, "properties.networkProfile").networkInterfaces) ?? [];
  if (nicRefs.length === 0) throw invalidParameter("properties.networkProfile.networkInterfaces", "At least one network interface is required.");
  nicRefs.forEach((n, i) => {
    const nicId = requireStr(obj(n)?.id, `properties.networkProfile.networkInterfaces[${i}].id`);
    const nic = ctx.store.state.nics[key(nicId)];
    if (!nic) throw new ArmError(404, "NotFound", `Resource ${nicId} not found.`, `properties.networkProfile.networkInterfaces[${i}].id`);
    const reserved = nicReserved(ctx, nic, id);
    if (reserved) throw reserved;
    const user = Object.values(ctx.store.state.vms).find((v) => key(v.id) !== key(id) &&
      (arr(obj(obj(v.body.properties)?.networkProfile)?.networkInterfaces) ?? []).some((x) => str(obj(x)?.id)?.toLowerCase() === key(nicId)));
    if (user) throw new ArmError(400, "NicInUse", `Network Interface ${nicId} is used by existing resource ${user.id}.`, `properties.networkProfile.networkInterfaces[${i}].id`);
  });
  const allocated = !existing || existing.powerState !== "deallocated";
  if (allocated && (!existing || findSize(existing.size)?.name !== size.name)) checkQuota(ctx, size, existing ? key(id) : undefined);

  const outProps: JsonObject = structuredClone(props);
  const outOs: JsonObject = { ...structuredClone(os), computerName: str(os.computerName) ?? name, allowExtensionOperations: true, requireGuestProvisionSignal: true, secrets: [] };
  delete outOs.customData;
  delete outOs.adminPassword;
  outProps.osProfile = outOs;
  outProps.hardwareProfile = { ...obj(props.hardwareProfile), vmSize: size.name };
  outProps.vmId = str(obj(existing?.body.properties)?.vmId) ?? randomUUID();
  outProps.timeCreated = str(obj(existing?.body.properties)?.timeCreated) ?? nowIso();
  const identity = identityOf(raw, obj(existing?.body.identity));
  const body: JsonObject = {
    id, name, type: TYPE, location,
    ...(obj(raw.tags) ? { tags: raw.tags } : {}),
    ...(identity ? { identity } : {}),
    ...(arr(raw.zones) ? { zones: raw.zones } : {}),
    properties: outProps,
  };
  const kind: OpKind = existing ? "vmUpdate" : "vmCreate";
  const op = ctx.ops.begin(kind, "Microsoft.Compute", id, ctx.config.latencyMs[kind]);
  const customData = str(os.customData);
  const rec: VmRecord = {
    id, body, requestHash: hash, size: size.name,
    powerState: existing?.powerState ?? "starting",
    provisioningState: existing ? "Updating" : "Creating",
    pendingOp: { id: op.id, kind },
    cloudInit: customData ? decodeCustomData(customData) : existing?.cloudInit,
    ...(existing?.extensions ? { extensions: existing.extensions } : {}),
  };
  ctx.store.state.vms[key(id)] = rec;
  ctx.store.save();
  ctx.log(`vm ${name}: ${kind} (${size.name}, ${keys.length} ssh key(s), user ${user})`);
  return { status: existing ? 200 : 201, body: vmView(ctx, rec, false), headers: ctx.ops.headers(op, req.baseUrl, req.apiVersion, ctx.config.retryAfterSeconds, false) };
}

const conflict = (name: string, pending: OperationRecord) =>
  new ArmError(409, "Conflict", `The request failed due to conflict with a concurrent request: operation '${pending.kind}' (${pending.id}) is in progress on virtual machine '${name}'.`);

export function getVm(ctx: Ctx, req: ArmRequest): ArmResult {
  const vm = findVm(ctx, req.m, req.m.name);
  return { status: 200, body: vmView(ctx, vm, req.query.get("$expand") === "instanceView") };
}

export function listVms(ctx: Ctx, req: ArmRequest): ArmResult {
  const prefix = `${vmId(req.m, "")}`.toLowerCase();
  const value = Object.values(ctx.store.state.vms).filter((v) => key(v.id).startsWith(prefix)).map((v) => vmView(ctx, v, false));
  return { status: 200, body: { value } };
}

export function vmView(ctx: Ctx, vm: VmRecord, withInstanceView: boolean): JsonObject {
  const body = structuredClone(vm.body);
  const props = body.properties as JsonObject;
  props.provisioningState = vm.provisioningState;
  if (withInstanceView) props.instanceView = instanceView(vm);
  return body;
}

const POWER_DISPLAY: Record<PowerState, string> = {
  starting: "VM starting", running: "VM running", stopping: "VM stopping", stopped: "VM stopped",
  deallocating: "VM deallocating", deallocated: "VM deallocated",
};

export function instanceView(vm: VmRecord): JsonObject {
  const ps = vm.provisioningState;
  const failed = ps === "Failed";
  const failure = failed ? vm.failure : undefined;
  const statuses: JsonObject[] = [
    {
      code: `ProvisioningState/${ps.toLowerCase()}${failure ? `/${failure.code}` : ""}`, level: failed ? "Error" : "Info",
      displayStatus: ps === "Succeeded" ? "Provisioning succeeded" : failed ? "Provisioning failed" : ps, time: nowIso(),
      ...(failure ? { message: failure.message } : {}),
    },
    ...(ps === "Creating" ? [] : [{ code: `PowerState/${vm.powerState}`, level: "Info", displayStatus: POWER_DISPLAY[vm.powerState] }]),
  ];
  const running = vm.powerState === "running";
  return {
    computerName: String(obj(obj(vm.body.properties)?.osProfile)?.computerName ?? vm.body.name),
    osName: "ubuntu", osVersion: "22.04",
    ...(running ? { vmAgent: { vmAgentVersion: "2.9.1.1", statuses: [{ code: "ProvisioningState/succeeded", level: "Info", displayStatus: "Ready", message: "Guest Agent is running", time: nowIso() }] } } : {}),
    hyperVGeneration: "V2",
    statuses,
  };
}

export function getInstanceView(ctx: Ctx, req: ArmRequest): ArmResult {
  return { status: 200, body: instanceView(findVm(ctx, req.m, req.m.name)) };
}

type Action = "start" | "deallocate" | "powerOff" | "restart" | "delete";
const KIND: Record<Action, OpKind> = { start: "vmStart", deallocate: "vmDeallocate", powerOff: "vmPowerOff", restart: "vmRestart", delete: "vmDelete" };

export function vmAction(ctx: Ctx, req: ArmRequest, action: Action): ArmResult {
  const name = req.m.name;
  const id = vmId(req.m, name);
  const vm = ctx.store.state.vms[key(id)];
  if (!vm) {
    if (action === "delete") return { status: 204 };
    findVm(ctx, req.m, name);
    throw new Error("unreachable");
  }
  const kind = KIND[action];
  const headers = (op: OperationRecord) => ctx.ops.headers(op, req.baseUrl, req.apiVersion, ctx.config.retryAfterSeconds, true);
  const pending = vm.pendingOp ? ctx.ops.get(vm.pendingOp.id) : undefined;
  if (pending?.status === "InProgress") {
    if (pending.kind === kind) return { status: 202, headers: headers(pending) };
    throw conflict(name, pending);
  }
  // Azure lets a failed VM be started, deallocated or deleted (the remedy for an allocation failure).
  if (vm.provisioningState === "Failed" && (action === "restart" || action === "powerOff")) {
    throw new ArmError(409, "OperationNotAllowed", `Operation '${action}' is not allowed on VM '${name}' since the VM is in a failed state.`);
  }
  if (action === "restart" && vm.powerState !== "running") {
    throw new ArmError(409, "OperationNotAllowed", `Operation 'restart' is not allowed on VM '${name}' since the VM is ${vm.powerState === "deallocated" ? "deallocated" : "not running"}.`);
  }
  if (action === "start" && vm.powerState === "deallocated") checkQuota(ctx, findSize(vm.size)!, key(id));
  // Processes stop at once (the VM's boot processes, the agent among them, and its runs); the
  // visible state moves only after `stateLagMs` (Azure: a GET right after the POST can still show
  // the old state, so clients must poll the operation), and the completer finishes the transition
  // after the operation's latency.
  if (action !== "start") {
    haltVm(ctx, vm);
    stopVmRuns(ctx, vm, `The VM was ${{ deallocate: "deallocated", powerOff: "powered off", restart: "restarted", delete: "deleted" }[action]} while the script was running.`);
  }
  const op = ctx.ops.begin(kind, "Microsoft.Compute", id, ctx.config.latencyMs[kind]);
  vm.pendingOp = { id: op.id, kind };
  const transition = () => {
    switch (action) {
      case "start":
        if (vm.powerState !== "running") vm.powerState = "starting";
        break;
      case "deallocate":
        if (vm.powerState !== "deallocated") vm.powerState = "deallocating";
        break;
      case "powerOff":
        if (vm.powerState !== "deallocated" && vm.powerState !== "stopped") vm.powerState = "stopping";
        break;
      case "restart":
        vm.powerState = "starting";
        break;
      case "delete":
        vm.provisioningState = "Deleting";
        break;
    }
    if (action !== "delete") vm.provisioningState = "Updating";
  };
  if (ctx.config.stateLagMs > 0) {
    setTimeout(() => {
      if (vm.pendingOp?.id !== op.id || ctx.ops.get(op.id)?.status !== "InProgress") return;
      transition();
      ctx.store.save();
    }, Math.min(ctx.config.stateLagMs, ctx.config.latencyMs[kind])).unref();
  } else transition();
  ctx.store.save();
  ctx.log(`vm ${name}: ${action}`);
  return { status: 202, headers: headers(op) };
}

export function registerComputeCompleters(ctx: Ctx): void {
  const withVm = (f: (vm: VmRecord) => void) => async (op: OperationRecord) => {
    // Runs killed by this operation end (and are recorded) before it reports success.
    await runsEnded(ctx, (_k, run) => run.vmKey === key(op.resourceId));
    const vm = ctx.store.state.vms[key(op.resourceId)];
    if (!vm) return;
    f(vm);
    delete vm.failure;
    if (vm.pendingOp?.id === op.id) delete vm.pendingOp;
    ctx.store.save();
  };
  const boot = (vm: VmRecord) => {
    const keys = (arr(obj(obj(obj(obj(vm.body.properties)?.osProfile)?.linuxConfiguration)?.ssh)?.publicKeys) ?? [])
      .map((k) => String(obj(k)?.keyData ?? ""));
    ctx.sandbox.provision(vmName(vm), adminUser(vm), keys, vm.cloudInit);
    vm.powerState = "running";
    vm.provisioningState = "Succeeded";
    // cloud-init and the services it enables (the job agent) start once the VM runs.
    bootVm(ctx, vm).catch((err: Error) => ctx.log(`vm ${vmName(vm)}: boot failed: ${err.message}`));
  };
  ctx.ops.register("vmCreate", withVm(boot));
  ctx.ops.register("vmUpdate", withVm((vm) => {
    vm.provisioningState = "Succeeded";
  }));
  ctx.ops.register("vmStart", withVm((vm) => {
    // cloud-init mounts run on every boot
    if (vm.powerState !== "running") boot(vm);
    vm.provisioningState = "Succeeded";
  }));
  ctx.ops.register("vmRestart", withVm(boot));
  ctx.ops.register("vmDeallocate", withVm((vm) => {
    ctx.sandbox.killAll(vmName(vm));
    vm.powerState = "deallocated";
    vm.provisioningState = "Succeeded";
  }));
  ctx.ops.register("vmPowerOff", withVm((vm) => {
    ctx.sandbox.killAll(vmName(vm));
    if (vm.powerState !== "deallocated") vm.powerState = "stopped";
    vm.provisioningState = "Succeeded";
  }));
  // An operation that fails after it was accepted leaves the VM Failed, with the code in its
  // instance view (ProvisioningState/failed/AllocationFailed), as Azure does.
  const powerAfterFailure: Record<string, PowerState | undefined> = {
    vmCreate: "deallocated", vmStart: "deallocated", vmRestart: "stopped", vmDeallocate: "stopped", vmPowerOff: "stopped",
  };
  for (const kind of ["vmCreate", "vmUpdate", "vmStart", "vmRestart", "vmDeallocate", "vmPowerOff", "vmDelete"]) {
    ctx.ops.registerFailure(kind, (op, error) => {
      const vm = ctx.store.state.vms[key(op.resourceId)];
      if (!vm) return;
      vm.provisioningState = "Failed";
      vm.failure = error;
      vm.powerState = powerAfterFailure[kind] ?? vm.powerState;
      if (vm.pendingOp?.id === op.id) delete vm.pendingOp;
      ctx.store.save();
      ctx.log(`vm ${vmName(vm)}: ${kind} failed (${error.code})`);
    });
  }
  ctx.ops.register("vmDelete", async (op) => {
    await runsEnded(ctx, (_k, run) => run.vmKey === key(op.resourceId));
    const vm = ctx.store.state.vms[key(op.resourceId)];
    if (!vm) return;
    ctx.sandbox.remove(vmName(vm));
    for (const [k, rc] of Object.entries(ctx.store.state.runCommands)) if (key(rc.vmId) === key(vm.id)) delete ctx.store.state.runCommands[k];
    delete ctx.store.state.vms[key(op.resourceId)];
    reserveNics(ctx, vm.id, vmNicIds(vm));
    ctx.store.save();
  });
}
