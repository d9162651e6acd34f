// Microsoft.Authorization/roleAssignments at any scope (PUT / GET / DELETE), as far as the
// emulator needs them: data-plane roles on storage queues and AcrPull on the registry, for VM
// identities. Checked like ARM:
// the name is a GUID, the principal must exist (here: a VM's system-assigned identity), one
// assignment per (principal, role, scope), an existing one cannot be changed.
import type { ArmRequest, ArmResult, Ctx } from "./context";
import { ACR_PULL_ACTION, ACR_PULL_ROLE } from "./registryAuth";
import { ArmError, obj, requireObj, requireStr, str, type JsonObject } from "./http";
import { key } from "./store";

export type RoleAssignmentRecord = { id: string; name: string; scope: string; roleDefinitionId: string; principalId: string; principalType: string };

export const ROLE_ASSIGNMENTS_ROUTE = "^(?<scope>/subscriptions/[^/]+(?:/.+?)?)/providers/Microsoft\\.Authorization/roleAssignments/(?<name>[^/]+)";

/** Built-in queue data roles (learn.microsoft.com: "Azure built-in roles", Storage) and their data actions. */
export const QUEUE_ROLES: Record<string, string[]> = {
  // Storage Queue Data Contributor
  "974c5e8b-45b9-4653-ba55-5f855dd0fb88": ["messages/read", "messages/write", "messages/delete", "messages/add/action", "messages/process/action"],
  // Storage Queue Data Message Processor
  "8a0f0c08-91a1-4084-bc3d-661d67233fed": ["messages/read", "messages/process/action"],
  // Storage Queue Data Message Sender
  "c6a89b2d-59bc-44d0-9896-0f6e12d7b80a": ["messages/add/action"],
  // Storage Queue Data Reader
  "19e7f393-937e-4f77-808e-94535e297925": ["messages/read"],
};

/** Built-in roles with control-plane actions the emulator checks on assignments it stores: AcrPull (the registry's token service asks). */
export const REGISTRY_ROLES: Record<string, string[]> = { [ACR_PULL_ROLE]: [ACR_PULL_ACTION] };

const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

function assignments(ctx: Ctx): Record<string, RoleAssignmentRecord> {
  return (ctx.store.state.roleAssignments ??= {});
}

function view(r: RoleAssignmentRecord): JsonObject {
  return {
    id: r.id,
    name: r.name,
    type: "Microsoft.Authorization/roleAssignments",
    properties: { scope: r.scope, roleDefinitionId: r.roleDefinitionId, principalId: r.principalId, principalType: r.principalType },
  };
}

function checkScope(ctx: Ctx, scope: string): void {
  const sub = /^\/subscriptions\/([^/]+)/i.exec(scope)?.[1];
  if (sub?.toLowerCase() !== ctx.opts.subscriptionId.toLowerCase()) throw new ArmError(404, "SubscriptionNotFound", `The subscription '${sub}' could not be found.`);
}

/** Principal ids the emulator knows: the system-assigned identities of its VMs. */
function principalExists(ctx: Ctx, principalId: string): boolean {
  return Object.values(ctx.store.state.vms).some((vm) => str(obj(vm.body.identity)?.principalId)?.toLowerCase() === principalId.toLowerCase());
}

export function putRoleAssignment(ctx: Ctx, req: ArmRequest): ArmResult {
  const { scope, name } = req.m as { scope: string; name: string };
  checkScope(ctx, scope);
  if (!GUID.test(name)) throw new ArmError(400, "InvalidRoleAssignmentId", `The role assignment ID '${name}' is not valid. The role assignment ID must be a GUID.`);
  const props = requireObj(req.body().properties, "properties");
  const roleDefinitionId = requireStr(props.roleDefinitionId, "properties.roleDefinitionId");
  const principalId = requireStr(props.principalId, "properties.principalId");
  const roleGuid = /roleDefinitions\/([^/]+)$/i.exec(roleDefinitionId)?.[1]?.toLowerCase();
  if (!roleGuid || !(roleGuid in QUEUE_ROLES || roleGuid in REGISTRY_ROLES)) throw new ArmError(400, "RoleDefinitionDoesNotExist", `The specified role definition with ID '${roleGuid ?? roleDefinitionId}' does not exist.`);
  if (!principalExists(ctx, principalId)) {
    throw new ArmError(400, "PrincipalNotFound", `Principal ${principalId.replace(/-/g, "")} does not exist in the directory ${ctx.opts.subscriptionId}.`);
  }
  const id = `${scope}/providers/Microsoft.Authorization/roleAssignments/${name}`;
  const all = assignments(ctx);
  const existing = all[key(id)];
  const same = (r: RoleAssignmentRecord) => r.principalId.toLowerCase() === principalId.toLowerCase() && r.roleDefinitionId.toLowerCase().endsWith(roleGuid) && key(r.scope) === key(scope);
  if (existing) {
    if (same(existing)) return { status: 201, body: view(existing) };
    throw new ArmError(400, "RoleAssignmentUpdateNotPermitted", "Tenant ID, application ID, principal ID, and scope are not allowed to be updated.");
  }
  if (Object.values(all).some(same)) throw new ArmError(409, "RoleAssignmentExists", "The role assignment already exists.");
  const rec: RoleAssignmentRecord = { id, name, scope, roleDefinitionId, principalId, principalType: str(props.principalType) ?? "ServicePrincipal" };
  all[key(id)] = rec;
  ctx.store.save();
  ctx.log(`role assignment ${name}: ${roleGuid} for ${principalId} at ${scope}`);
  return { status: 201, body: view(rec) };
}

export function getRoleAssignment(ctx: Ctx, req: ArmRequest): ArmResult {
  const rec = assignments(ctx)[key(`${req.m.scope}/providers/Microsoft.Authorization/roleAssignments/${req.m.name}`)];
  if (!rec) throw new ArmError(404, "RoleAssignmentNotFound", "The role assignment does not exist.");
  return { status: 200, body: view(rec) };
}

export function deleteRoleAssignment(ctx: Ctx, req: ArmRequest): ArmResult {
  const k = key(`${req.m.scope}/providers/Microsoft.Authorization/roleAssignments/${req.m.name}`);
  const rec = assignments(ctx)[k];
  if (!rec) return { status: 204 };
  delete assignments(ctx)[k];
  ctx.store.save();
  return { status: 200, body: view(rec) };
}

/** Whether `principalId` may perform `dataAction` (relative to .../queueServices/queues/) on the resource `resourceId`. */
export function allowedQueueAction(ctx: Ctx, principalId: string, resourceId: string, dataAction: string): boolean {
  return granted(ctx, principalId, resourceId, QUEUE_ROLES, dataAction);
}

/** Whether a stored assignment gives `principalId` the registry action `action` (AcrPull's) on `resourceId`. */
export function allowedRegistryAction(ctx: Ctx, principalId: string, resourceId: string, action: string): boolean {
  return granted(ctx, principalId, resourceId, REGISTRY_ROLES, action);
}

function granted(ctx: Ctx, principalId: string, resourceId: string, roles: Record<string, string[]>, action: string): boolean {
  const target = key(resourceId);
  return Object.values(assignments(ctx)).some((r) => {
    if (r.principalId.toLowerCase() !== principalId.toLowerCase()) return false;
    const scope = key(r.scope);
    if (target !== scope && !target.startsWith(`${scope}/`)) return false;
    const role = /roleDefinitions\/([^/]+)$/i.exec(r.roleDefinitionId)?.[1]?.toLowerCase() ?? "";
    return (roles[role] ?? []).includes(action);
  });
}
