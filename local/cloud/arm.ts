// ARM request routing: scope checks (subscription, resource group), api-version, the route
// table of the resources the emulator serves, and operation-status resources.
import type { ArmRequest, ArmResult, Ctx } from "./context";
import { deleteExtension, getExtension, putExtension } from "./extensions";
import { deleteRunCommand, getRunCommand, listRunCommands, putRunCommand } from "./runCommands";
import { getInstanceView, getVm, listVms, putVm, vmAction } from "./compute";
import { deleteNic, deleteNsg, deletePublicIp, getNic, getNsg, getPublicIp, getSubnet, getVnet, listSubnets, putNic, putNsg, putPublicIp } from "./network";
import { ArmError } from "./http";
import { deleteRoleAssignment, getRoleAssignment, putRoleAssignment, ROLE_ASSIGNMENTS_ROUTE } from "./roleAssignments";
import { diskSkus, skuResource, usagesBody, VM_SIZES } from "./skus";

type Handler = (ctx: Ctx, req: ArmRequest) => ArmResult;
type Route = { pattern: RegExp; methods: Record<string, Handler> };

const SUB = "^/subscriptions/(?<sub>[^/]+)";
const RG = `${SUB}/resourceGroups/(?<rg>[^/]+)/providers`;
const NET = `${RG}/Microsoft\\.Network`;
const VM = `${RG}/Microsoft\\.Compute/virtualMachines`;
const r = (src: string, methods: Record<string, Handler>): Route => ({ pattern: new RegExp(`${src}$`, "i"), methods });

const ROUTES: Route[] = [
  r(`${SUB}/providers/Microsoft\\.Compute/skus`, { GET: listSkus }),
  r(`${SUB}/providers/Microsoft\\.Compute/locations/(?<loc>[^/]+)/usages`, { GET: listUsages }),
  r(`${SUB}/providers/Microsoft\\.(?<ns>Compute|Network)/locations/(?<loc>[^/]+)/operations/(?<id>[^/]+)`, { GET: operationStatus }),
  r(`${NET}/virtualNetworks/(?<vnet>[^/]+)`, { GET: getVnet }),
  r(`${NET}/virtualNetworks/(?<vnet>[^/]+)/subnets`, { GET: listSubnets }),
  r(`${NET}/virtualNetworks/(?<vnet>[^/]+)/subnets/(?<subnet>[^/]+)`, { GET: getSubnet }),
  r(`${NET}/networkSecurityGroups/(?<name>[^/]+)`, { PUT: putNsg, GET: getNsg, DELETE: deleteNsg }),
  r(`${NET}/publicIPAddresses/(?<name>[^/]+)`, { PUT: putPublicIp, GET: getPublicIp, DELETE: deletePublicIp }),
  r(`${NET}/networkInterfaces/(?<name>[^/]+)`, { PUT: putNic, GET: getNic, DELETE: deleteNic }),
  r(VM, { GET: listVms }),
  r(`${VM}/(?<name>[^/]+)`, { PUT: putVm, GET: getVm, DELETE: (c, q) => vmAction(c, q, "delete") }),
  r(`${VM}/(?<name>[^/]+)/start`, { POST: (c, q) => vmAction(c, q, "start") }),
  r(`${VM}/(?<name>[^/]+)/deallocate`, { POST: (c, q) => vmAction(c, q, "deallocate") }),
  r(`${VM}/(?<name>[^/]+)/powerOff`, { POST: (c, q) => vmAction(c, q, "powerOff") }),
  r(`${VM}/(?<name>[^/]+)/restart`, { POST: (c, q) => vmAction(c, q, "restart") }),
  r(`${VM}/(?<name>[^/]+)/instanceView`, { GET: getInstanceView }),
  r(`${VM}/(?<vm>[^/]+)/runCommands`, { GET: listRunCommands }),
  r(`${VM}/(?<vm>[^/]+)/runCommands/(?<name>[^/]+)`, { PUT: putRunCommand, GET: getRunCommand, DELETE: deleteRunCommand }),
  r(`${VM}/(?<vm>[^/]+)/extensions/(?<name>[^/]+)`, { PUT: putExtension, GET: getExtension, DELETE: deleteExtension }),
  r(ROLE_ASSIGNMENTS_ROUTE, { PUT: putRoleAssignment, GET: getRoleAssignment, DELETE: deleteRoleAssignment }),
];

export function dispatchArm(ctx: Ctx, req: Omit<ArmRequest, "m">): ArmResult {
  if (!req.query.get("api-version")) {
    throw new ArmError(400, "MissingApiVersionParameter", "The api-version query parameter (?api-version=) is required for all requests.");
  }
  for (const route of ROUTES) {
    const match = route.pattern.exec(req.path);
    if (!match) continue;
    const m = Object.fromEntries(Object.entries(match.groups ?? {}).map(([k, v]) => [k, decodeURIComponent(v)]));
    checkScope(ctx, m);
    const handler = route.methods[req.method];
    if (!handler) throw new ArmError(405, "HttpMethodNotAllowed", `The HTTP method '${req.method}' is not supported for this resource.`);
    return handler(ctx, { ...req, m });
  }
  const type = /providers\/([^/]+\/[^/]+)/i.exec(req.path)?.[1] ?? req.path;
  throw new ArmError(404, "InvalidResourceType", `The resource type '${type}' could not be found in the emulator for api version '${req.apiVersion}'.`);
}

function checkScope(ctx: Ctx, m: Record<string, string>): void {
  if (m.sub && m.sub.toLowerCase() !== ctx.opts.subscriptionId.toLowerCase()) {
    throw new ArmError(404, "SubscriptionNotFound", `The subscription '${m.sub}' could not be found.`);
  }
  if (m.rg && !resourceGroups(ctx).has(m.rg.toLowerCase())) {
    throw new ArmError(404, "ResourceGroupNotFound", `Resource group '${m.rg}' could not be found.`);
  }
}

/** The configured resource group plus those that hold the seeded subnets. */
function resourceGroups(ctx: Ctx): Set<string> {
  const set = new Set([ctx.opts.resourceGroup.toLowerCase()]);
  for (const id of ctx.opts.allowedSubnetIds) {
    const rg = /\/resourceGroups\/([^/]+)\//i.exec(id)?.[1];
    if (rg) set.add(rg.toLowerCase());
  }
  return set;
}

function listSkus(ctx: Ctx, req: ArmRequest): ArmResult {
  const filter = req.query.get("$filter");
  const loc = filter ? /location\s+eq\s+'([^']+)'/i.exec(filter)?.[1] : undefined;
  if (filter && !loc) throw new ArmError(400, "InvalidFilter", `Unsupported $filter '${filter}': only "location eq '<location>'" is supported.`);
  if (loc && loc.toLowerCase() !== ctx.opts.location.toLowerCase()) return { status: 200, body: { value: [] } };
  const restriction = (name: string) => ctx.config.skuRestrictions[name] ?? Object.entries(ctx.config.skuRestrictions).find(([k]) => k.toLowerCase() === name.toLowerCase())?.[1];
  return { status: 200, body: { value: [...VM_SIZES.map((s) => skuResource(s, ctx.opts.location, restriction(s.name))), ...diskSkus(ctx.opts.location)] } };
}

function listUsages(ctx: Ctx, req: ArmRequest): ArmResult {
  if (req.m.loc.toLowerCase() !== ctx.opts.location.toLowerCase()) return { status: 200, body: { value: [] } };
  return { status: 200, body: usagesBody(ctx.store.state, ctx.opts.quota) };
}

function operationStatus(ctx: Ctx, req: ArmRequest): ArmResult {
  const op = ctx.ops.get(req.m.id);
  if (!op) throw new ArmError(404, "ResourceNotFound", `Operation '${req.m.id}' was not found.`);
  const retry: Record<string, string> = ctx.config.retryAfterSeconds > 0 ? { "retry-after": String(ctx.config.retryAfterSeconds) } : {};
  if (req.query.get("monitor") === "true") {
    // The Location URL: 202 while running; when done, the action's (empty) result.
    if (op.status === "InProgress") return { status: 202, headers: { location: `${req.baseUrl}${req.path}?monitor=true&api-version=${encodeURIComponent(req.apiVersion)}`, ...retry } };
    if (op.status === "Failed" && op.error) throw new ArmError(400, op.error.code, op.error.message);
    return { status: 200 };
  }
  return { status: 200, body: ctx.ops.statusBody(op), headers: op.status === "InProgress" ? retry : {} };
}
