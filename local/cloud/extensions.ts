// VM extensions (`virtualMachines/{vm}/extensions/{name}`), as far as the app uses them: the
// NVIDIA GPU Driver Extension for Linux on N-series VMs whose image lacks drivers. As in Azure:
// the VM must be running (409 as for run commands), publisher/type/typeHandlerVersion are
// required, an extension the repository does not have is 404 ArtifactNotFound, and the driver
// extension fails on a size without an NVIDIA GPU (the driver installer finds none).
import { ArmError, requireObj, requireStr, type JsonObject } from "./http";
import { vmId, type ArmRequest, type ArmResult, type Ctx } from "./context";
import { requireLocation } from "./network";
import { parentVm, requireRunningVm } from "./runCommands";
import { findSize } from "./skus";
import { key } from "./store";

/** Extensions this emulator's "repository" has: publisher/type → major handler versions. */
const KNOWN: Record<string, { majors: number[]; needsGpu: boolean }> = {
  "microsoft.hpccompute/nvidiagpudriverlinux": { majors: [1], needsGpu: true },
};

const TYPE = "Microsoft.Compute/virtualMachines/extensions";

export function putExtension(ctx: Ctx, req: ArmRequest): ArmResult {
  const vm = parentVm(ctx, req);
  const raw = req.body();
  const location = requireLocation(ctx, raw);
  const props = requireObj(raw.properties, "properties");
  const publisher = requireStr(props.publisher, "properties.publisher");
  const type = requireStr(props.type, "properties.type");
  const version = requireStr(props.typeHandlerVersion, "properties.typeHandlerVersion");
  const known = KNOWN[`${publisher}/${type}`.toLowerCase()];
  const major = Number(version.split(".")[0]);
  if (!known || !known.majors.includes(major)) {
    throw new ArmError(404, "ArtifactNotFound", `The VM extension with publisher '${publisher}' and type '${type}' (version ${version}) could not be found.`);
  }
  requireRunningVm(ctx, vm);
  const name = req.m.name!;
  const id = `${vmId(req.m, req.m.vm!)}/extensions/${name}`;
  const op = ctx.ops.begin("extensionPut", "Microsoft.Compute", id, ctx.config.latencyMs.extensionPut);
  const body: JsonObject = {
    id, name, type: TYPE, location,
    properties: { ...structuredClone(props), provisioningState: "Creating" },
  };
  vm.extensions = { ...(vm.extensions ?? {}), [name.toLowerCase()]: body };
  ctx.store.save();
  return { status: 201, body, headers: ctx.ops.headers(op, req.baseUrl, req.apiVersion, ctx.config.retryAfterSeconds, false) };
}

/** The extension's outcome when its operation completes (the driver needs a GPU). */
export function registerExtensionCompleters(ctx: Ctx): void {
  ctx.ops.register("extensionPut", async (op) => {
    const vm = Object.values(ctx.store.state.vms).find((v) => op.resourceId.toLowerCase().startsWith(`${key(v.id)}/extensions/`));
    const ext = vm?.extensions?.[op.resourceId.split("/").pop()!.toLowerCase()];
    if (!vm || !ext) return;
    const p = ext.properties as JsonObject;
    const gpuMissing = KNOWN[`${String(p.publisher)}/${String(p.type)}`.toLowerCase()]?.needsGpu && !(findSize(vm.size)?.gpus ?? 0);
    p.provisioningState = gpuMissing ? "Failed" : "Succeeded";
    if (gpuMissing) p.instanceView = { statuses: [{ code: "ProvisioningState/failed", level: "Error", message: `No NVIDIA GPU was found on this VM (size ${vm.size}).` }] };
    ctx.store.save();
  });
}

export function getExtension(ctx: Ctx, req: ArmRequest): ArmResult {
  const vm = parentVm(ctx, req);
  const ext = vm.extensions?.[req.m.name!.toLowerCase()];
  if (!ext) throw new ArmError(404, "NotFound", `The entity was not found in this Azure location.`);
  return { status: 200, body: structuredClone(ext) };
}

export function deleteExtension(ctx: Ctx, req: ArmRequest): ArmResult {
  const vm = parentVm(ctx, req);
  if (!vm.extensions?.[req.m.name!.toLowerCase()]) return { status: 204 };
  requireRunningVm(ctx, vm);
  delete vm.extensions[req.m.name!.toLowerCase()];
  ctx.store.save();
  return { status: 200 };
}
