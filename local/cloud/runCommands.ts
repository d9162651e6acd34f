// Managed run commands: virtualMachines/{vm}/runCommands/{name} PUT / GET ($expand=instanceView)
// / DELETE / list. A PUT with the same body as the last one does nothing new; DELETE of a
// running one cancels it.
import { createHash } from "node:crypto";
import { adminUser, findVm, vmName } from "./compute";
import { vmId, type ArmRequest, type ArmResult, type Ctx } from "./context";
import { ArmError, arr, canonical, invalidParameter, nowIso, obj, optBool, requireObj, str, type Json, type JsonObject } from "./http";
import { requireLocation } from "./network";
import { decideOutcome } from "./faults";
import { runsEnded, startRun, type RunSpec } from "./runner";
import { killOrphans } from "./sandbox";
import { key, type RunCommandRecord, type VmRecord } from "./store";

const TYPE = "Microsoft.Compute/virtualMachines/runCommands";
/**
 * Managed run commands per VM. A command stays counted until its DELETE has finished. Message as
 * quoted in MicrosoftDocs/azure-docs#117976; the error code is not quoted there (OperationNotAllowed
 * is ARM's code for the other per-VM limits).
 */
export const MAX_RUN_COMMANDS_PER_VM = 25;
/** Azure's default when timeoutInSeconds is 0 or absent: 90 minutes. */
const DEFAULT_TIMEOUT_S = 5400;

export function parentVm(ctx: Ctx, req: ArmRequest): VmRecord {
  try {
    return findVm(ctx, req.m, req.m.vm);
  } catch {
    throw new ArmError(404, "ParentResourceNotFound", `Can not perform requested operation on nested resource. Parent resource '${req.m.vm}' not found.`);
  }
}

const rcId = (req: ArmRequest) => `${vmId(req.m, req.m.vm)}/runCommands/${req.m.name}`;

function parseParams(v: Json | undefined, field: string): Array<[string, string]> {
  if (v === undefined || v === null) return [];
  const list = arr(v);
  if (!list) throw invalidParameter(field, `${field} must be an array of {name, value}.`);
  return list.map((p, i) => {
    const name = str(obj(p)?.name);
    if (!name || !/^[A-Za-z_][A-Za-z0-9_]*$/.test(name)) throw invalidParameter(`${field}[${i}].name`, `${field}[${i}].name must be a valid environment variable name.`);
    const value = obj(p)?.value;
    if (typeof value !== "string") throw invalidParameter(`${field}[${i}].value`, `${field}[${i}].value must be a string.`);
    return [name, value];
  });
}

function parseSpec(raw: JsonObject): RunSpec {
  const p = requireObj(raw.properties, "properties");
  const source = requireObj(p.source, "properties.source");
  const script = str(source.script);
  if (!script) {
    const what = source.scriptUri ? "source.scriptUri" : source.commandId ? "source.commandId" : "source.script";
    throw invalidParameter(`properties.${what}`, `properties.source.script is required (the emulator runs inline scripts only; got ${what}).`);
  }
  const timeout = p.timeoutInSeconds;
  if (timeout !== undefined && (typeof timeout !== "number" || !Number.isInteger(timeout) || timeout < 0)) {
    throw invalidParameter("properties.timeoutInSeconds", "properties.timeoutInSeconds must be a non-negative integer.");
  }
  const blob = (f: "outputBlobUri" | "errorBlobUri") => {
    const v = p[f];
    if (v === undefined || v === null || v === "") return undefined;
    if (typeof v !== "string" || !/^https?:\/\//.test(v) || !URL.canParse(v)) throw invalidParameter(`properties.${f}`, `properties.${f} must be an http(s) blob URL.`);
    return v;
  };
  return {
    script,
    env: parseParams(p.parameters, "properties.parameters"),
    protectedEnv: parseParams(p.protectedParameters, "properties.protectedParameters"),
    asyncExecution: optBool(p.asyncExecution, "properties.asyncExecution") ?? false,
    timeoutSeconds: (timeout as number | undefined) || DEFAULT_TIMEOUT_S,
    treatFailureAsDeploymentFailure: optBool(p.treatFailureAsDeploymentFailure, "properties.treatFailureAsDeploymentFailure") ?? false,
    outputBlobUri: blob("outputBlobUri"),
    errorBlobUri: blob("errorBlobUri"),
  };
}

/** The request's identity for idempotency: protected values enter only as a hash. */
function requestHash(raw: JsonObject): string {
  const copy = structuredClone(raw);
  const p = obj(copy.properties);
  if (p && p.protectedParameters !== undefined) {
    p.protectedParameters = createHash("sha256").update(canonical(p.protectedParameters)).digest("hex");
  }
  return canonical(copy);
}

function view(rc: RunCommandRecord, withInstanceView: boolean): JsonObject {
  const body = structuredClone(rc.body);
  const props = body.properties as JsonObject;
  props.provisioningState = rc.provisioningState;
  if (withInstanceView) {
    const v = rc.view;
    props.instanceView = {
      executionState: v.executionState, executionMessage: v.executionMessage,
      ...(v.exitCode !== undefined ? { exitCode: v.exitCode } : {}),
      output: v.output, error: v.error,
      ...(v.startTime ? { startTime: v.startTime } : {}),
      ...(v.endTime ? { endTime: v.endTime } : {}),
      statuses: [],
    };
  }
  return body;
}

/**
 * Run commands are VM extensions: creating, changing or deleting one needs a running VM (not
 * starting, stopping, deallocating, stopped or deallocated). Azure answers 409 OperationNotAllowed
 * "Cannot modify extensions in the VM when the VM is not running." (quoted in
 * hashicorp/terraform-provider-azurerm#477, microsoft/AzureTRE#2138).
 */
export function requireRunningVm(ctx: Ctx, vm: VmRecord): void {
  const pending = vm.pendingOp ? ctx.ops.get(vm.pendingOp.id) : undefined;
  const leaving = pending?.status === "InProgress" && ["vmDeallocate", "vmPowerOff", "vmRestart", "vmDelete"].includes(pending.kind);
  if (vm.powerState !== "running" || leaving) {
    throw new ArmError(409, "OperationNotAllowed", "Cannot modify extensions in the VM when the VM is not running.");
  }
}

const isActive = (rc: RunCommandRecord) => rc.view.executionState === "Pending" || rc.view.executionState === "Running";

export function putRunCommand(ctx: Ctx, req: ArmRequest): ArmResult {
  const vm = parentVm(ctx, req);
  const id = rcId(req);
  const raw = req.body();
  const location = requireLocation(ctx, raw);
  const spec = parseSpec(raw);
  const hash = requestHash(raw);
  const existing = ctx.store.state.runCommands[key(id)];
  const headers = (opId: string) => ctx.ops.headers(ctx.ops.get(opId)!, req.baseUrl, req.apiVersion, ctx.config.retryAfterSeconds, false);
  if (existing && (isActive(existing) || ctx.ops.get(existing.pendingOpId ?? "")?.status === "InProgress")) {
    if (existing.requestHash === hash && existing.pendingOpId) return { status: 200, body: view(existing, false), headers: headers(existing.pendingOpId) };
    throw new ArmError(409, "Conflict", `Run command '${req.m.name}' is still running on VM '${req.m.vm}'; wait for it to finish or delete it first.`);
  }
  if (existing && existing.requestHash === hash) return { status: 200, body: view(existing, false) };
  requireRunningVm(ctx, vm);
  if (!existing) {
    const current = Object.values(ctx.store.state.runCommands).filter((r) => key(r.vmId) === key(vm.id)).length;
    if (current >= MAX_RUN_COMMANDS_PER_VM) {
      throw new ArmError(409, "OperationNotAllowed",
        `The maximum number of managed Run commands (max=${MAX_RUN_COMMANDS_PER_VM}, current=${current}) has been exceeded. Use fewer Run commands and retry the request. To list Run commands, refer: https://aka.ms/RunCommandManaged#list-all-deployed-runcommand-resources-on-a-vm-1 and then delete a Run command: https://aka.ms/RunCommandManaged#delete-runcommand-resource-from-the-vm-1`);
    }
  }
  const vmPending = vm.pendingOp ? ctx.ops.get(vm.pendingOp.id) : undefined;
  if (vmPending?.status === "InProgress") {
    throw new ArmError(409, "Conflict", `The request failed due to conflict with a concurrent request: operation '${vmPending.kind}' is in progress on virtual machine '${req.m.vm}'.`);
  }
  const props = structuredClone(requireObj(raw.properties, "properties"));
  delete props.protectedParameters;
  delete props.runAsPassword;
  delete props.instanceView;
  const body: JsonObject = {
    id, name: req.m.name, type: TYPE, location,
    ...(obj(raw.tags) ? { tags: raw.tags } : {}),
    properties: { asyncExecution: spec.asyncExecution, timeoutInSeconds: Number(props.timeoutInSeconds ?? 0), treatFailureAsDeploymentFailure: spec.treatFailureAsDeploymentFailure, ...props },
  };
  const op = ctx.ops.beginManual("runCommand", "Microsoft.Compute", id);
  const rc: RunCommandRecord = {
    id, vmId: vm.id, body, requestHash: hash, provisioningState: existing ? "Updating" : "Creating",
    view: { executionState: "Pending", executionMessage: "", output: "", error: "" }, pendingOpId: op.id,
  };
  ctx.store.state.runCommands[key(id)] = rc;
  ctx.store.save();
  scheduleStart(ctx, rc, vm, spec, op.id);
  return { status: existing ? 200 : 201, body: view(rc, false), headers: headers(op.id) };
}

function scheduleStart(ctx: Ctx, rc: RunCommandRecord, vm: VmRecord, spec: RunSpec, opId: string): void {
  const rcKey = key(rc.id);
  const endPending = (state: "TimedOut" | "Canceled" | "Failed", message: string) => {
    clearTimeout(timer);
    ctx.runs.delete(rcKey);
    rc.view = { ...rc.view, executionState: state, executionMessage: message, endTime: nowIso() };
    if (state !== "Canceled") rc.provisioningState = spec.treatFailureAsDeploymentFailure ? "Failed" : "Succeeded";
    ctx.ops.finish(opId, state === "Canceled" || !spec.treatFailureAsDeploymentFailure ? undefined : { code: "VMExtensionProvisioningError", message }, state === "Canceled" ? "Canceled" : undefined);
    ctx.store.save();
  };
  const timer = setTimeout(() => {
    ctx.runs.delete(rcKey);
    if (ctx.stopped) return;
    const current = ctx.store.state.vms[key(vm.id)];
    if (!current || current.powerState !== "running") return endPending("Failed", "The VM stopped before the script started.");
    const injected = decideOutcome(ctx.config, "runCommandStart");
    if (injected) {
      // Azure: the extension never reports back; provisioning Failed, executionState Unknown.
      ctx.runs.delete(rcKey);
      rc.view = { ...rc.view, executionState: "Unknown", executionMessage: injected.message };
      rc.provisioningState = "Failed";
      ctx.ops.finish(opId, injected);
      ctx.store.save();
      return;
    }
    try {
      startRun(ctx, rc, current, spec, ctx.sandbox.homeDir(vmName(current), adminUser(current)), adminUser(current), opId);
    } catch (err) {
      endPending("Failed", `The script could not be started: ${(err as Error).message}`);
    }
  }, ctx.config.latencyMs.runCommandStart);
  // Not started yet: no process to wait for once it is interrupted.
  ctx.runs.set(rcKey, { vmKey: key(vm.id), interrupt: endPending, ended: Promise.resolve() });
}

export function getRunCommand(ctx: Ctx, req: ArmRequest): ArmResult {
  parentVm(ctx, req);
  const rc = ctx.store.state.runCommands[key(rcId(req))];
  if (!rc) throw new ArmError(404, "ResourceNotFound", `The Resource '${TYPE.replace("/runCommands", "")}/${req.m.vm}/runCommands/${req.m.name}' under resource group '${req.m.rg}' was not found.`);
  return { status: 200, body: view(rc, req.query.get("$expand") === "instanceView") };
}

export function listRunCommands(ctx: Ctx, req: ArmRequest): ArmResult {
  const vm = parentVm(ctx, req);
  const withIv = req.query.get("$expand") === "instanceView";
  const value = Object.values(ctx.store.state.runCommands).filter((rc) => key(rc.vmId) === key(vm.id)).map((rc) => view(rc, withIv));
  return { status: 200, body: { value } };
}

export function deleteRunCommand(ctx: Ctx, req: ArmRequest): ArmResult {
  const vm = parentVm(ctx, req);
  const id = rcId(req);
  const rc = ctx.store.state.runCommands[key(id)];
  if (!rc) return { status: 204 };
  const deleting = Object.values(ctx.store.state.operations).find((o) => o.kind === "runCommandDelete" && o.status === "InProgress" && key(o.resourceId) === key(id));
  if (deleting) return { status: 202, headers: ctx.ops.headers(deleting, req.baseUrl, req.apiVersion, ctx.config.retryAfterSeconds, true) };
  requireRunningVm(ctx, vm);
  ctx.runs.get(key(id))?.interrupt("Canceled", "The run command was canceled by a DELETE request.");
  const op = ctx.ops.begin("runCommandDelete", "Microsoft.Compute", id, ctx.config.latencyMs.runCommandDelete);
  return { status: 202, headers: ctx.ops.headers(op, req.baseUrl, req.apiVersion, ctx.config.retryAfterSeconds, true) };
}

export function registerRunCommandCompleters(ctx: Ctx): void {
  ctx.ops.register("runCommandDelete", async (op) => {
    // A canceled run's process must be gone before the DELETE reports success.
    await runsEnded(ctx, (runKey) => runKey === key(op.resourceId));
    delete ctx.store.state.runCommands[key(op.resourceId)];
    ctx.store.save();
  });
}

/** After a restart no process of ours survives: runs that were in flight end as Failed. */
export function recoverRunCommands(ctx: Ctx): void {
  const markers = new Set<string>();
  for (const rc of Object.values(ctx.store.state.runCommands)) {
    if (!isActive(rc)) continue;
    if (rc.marker) markers.add(rc.marker);
    rc.view = { ...rc.view, executionState: "Failed", executionMessage: "The emulator restarted while the script was running; its process was lost.", endTime: nowIso() };
    rc.provisioningState = "Failed";
    delete rc.pid;
  }
  const killed = killOrphans(markers);
  if (killed) ctx.log(`killed ${killed} orphaned run-command process(es) from a previous run`);
  ctx.store.save();
}
