// Admin surface for tests and operators: GET /admin/state, GET|POST /admin/config.
import type { Ctx } from "./context";
import { applyPatch, parseConfigPatch, type RuntimeConfig } from "./config";
import { parseJsonObject, type JsonObject } from "./http";
import { asJson } from "./store";

export type AdminState = {
  vms: Array<{ id: string; name: string; size: string; powerState: string; provisioningState: string; pendingOp?: string; dir: string; processes: number }>;
  runCommands: Array<{ id: string; vmId: string; provisioningState: string; executionState: string; exitCode?: number; output: string; error: string; executionMessage: string }>;
  nsgs: string[];
  publicIps: string[];
  nics: string[];
  subnets: string[];
  shares: Array<{ account: string; name: string; quotaGiB: number; dir: string }>;
  operationsInProgress: Array<{ id: string; kind: string; resourceId: string }>;
  config: RuntimeConfig;
};

export function adminState(ctx: Ctx): AdminState {
  const s = ctx.store.state;
  return {
    vms: Object.values(s.vms).map((v) => ({
      id: v.id, name: String(v.body.name), size: v.size, powerState: v.powerState, provisioningState: v.provisioningState,
      pendingOp: v.pendingOp?.kind, dir: ctx.sandbox.vmDir(String(v.body.name)), processes: ctx.sandbox.running(String(v.body.name)),
    })),
    runCommands: Object.values(s.runCommands).map((r) => ({
      id: r.id, vmId: r.vmId, provisioningState: r.provisioningState, executionState: r.view.executionState, exitCode: r.view.exitCode,
      output: r.view.output, error: r.view.error, executionMessage: r.view.executionMessage,
    })),
    nsgs: Object.values(s.nsgs).map((r) => r.id),
    publicIps: Object.values(s.publicIps).map((r) => r.id),
    nics: Object.values(s.nics).map((r) => r.id),
    subnets: Object.values(s.vnets).flatMap((v) => ((v.body.properties as JsonObject).subnets as JsonObject[]).map((x) => String(x.id))),
    shares: Object.values(s.shares).map((x) => ({ account: x.account, name: x.name, quotaGiB: x.quotaGiB, dir: ctx.sandbox.shareDir(x.account, x.name) })),
    operationsInProgress: Object.values(s.operations).filter((o) => o.status === "InProgress").map((o) => ({ id: o.id, kind: o.kind, resourceId: o.resourceId })),
    config: ctx.config,
  };
}

export function setConfig(ctx: Ctx, patch: unknown, source = "config"): RuntimeConfig {
  ctx.config = applyPatch(ctx.config, parseConfigPatch(patch, source));
  return ctx.config;
}

/** Returns [status, body] for an /admin request. */
export function handleAdmin(ctx: Ctx, method: string, path: string, raw: Buffer): [number, JsonObject] {
  if (path === "/admin/state" && method === "GET") return [200, asJson(adminState(ctx)) as JsonObject];
  if (path === "/admin/config" && method === "GET") return [200, asJson(ctx.config) as JsonObject];
  if (path === "/admin/config" && method === "POST") {
    const body = parseJsonObject(raw);
    try {
      return [200, asJson(setConfig(ctx, body, "body")) as JsonObject];
    } catch (err) {
      return [400, { error: { code: "InvalidParameter", message: (err as Error).message } }];
    }
  }
  return [404, { error: { code: "NotFound", message: `No admin endpoint ${method} ${path}.` } }];
}
