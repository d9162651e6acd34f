// Azure RBAC for the emulator: role definitions (built-in ones with their real action lists,
// plus the custom roles of infra/roles.json), role assignments at subscription, resource group
// or resource scope, and the check ARM makes before it runs a request: the action derived
// from method + path, then the "join" actions on every resource the body links to. A caller
// without them gets ARM's 403 (AuthorizationFailed / LinkedAuthorizationFailed).
import rolesFile from "../../infra/roles.json";
import { ArmError, type Json } from "./http";
import { BUILT_IN_ROLES, type RoleDefinition } from "./identity/builtinRoles";
import { stableGuid, type TokenCaller } from "./identity/issuer";

export type RoleAssignment = { principalId: string; roleDefinitionId: string; scope: string; condition?: string };

/** The scope names infra/roles.json uses, resolved to resource ids of one deployment. */
export type TemplateScopes = Record<"subscription" | "instancesResourceGroup" | "instancesSubnet" | "functionStorage" | "workspaceStorage" | "workspaceRegistry" | "appInsights", string[]>;

type RolesFile = {
  roleDefinitions: Record<string, Omit<RoleDefinition, "id">>;
  assignments: Array<{ name: string; role?: string; builtInRoleId?: string; scope: keyof TemplateScopes; condition?: string }>;
};
const ROLES = rolesFile as RolesFile;

/** Custom role ids: Bicep names them guid(subscription, key); locally any stable id will do. */
export const customRoleId = (key: string) => stableGuid(`custom-role:${key}`);

export class Rbac {
  private readonly definitions = new Map<string, RoleDefinition>();
  readonly assignments: RoleAssignment[] = [];

  constructor() {
    for (const r of BUILT_IN_ROLES) this.definitions.set(r.id, r);
    for (const [key, r] of Object.entries(ROLES.roleDefinitions)) this.definitions.set(customRoleId(key), { ...r, id: customRoleId(key) });
  }

  definition(id: string): RoleDefinition | undefined {
    return this.definitions.get(id.toLowerCase());
  }

  assign(a: RoleAssignment): void {
    if (!this.definitions.has(a.roleDefinitionId)) throw new Error(`unknown role definition ${a.roleDefinitionId}`);
    this.assignments.push(a);
  }

  /** Grants `principalId` exactly the assignments of infra/roles.json, at this deployment's scopes. */
  assignTemplateRoles(principalId: string, scopes: TemplateScopes, omit: string[] = []): void {
    for (const a of ROLES.assignments.filter((x) => !omit.includes(x.name))) {
      const roleDefinitionId = a.builtInRoleId ?? customRoleId(a.role ?? "");
      for (const scope of scopes[a.scope]) this.assign({ principalId, roleDefinitionId, scope, ...(a.condition ? { condition: a.condition } : {}) });
    }
  }

  /**
   * Whether an assignment at `scope` or above grants `action` (or data action). Within one
   * role, notActions subtract from actions; across roles, grants add up — as Azure computes it.
   * Conditions only constrain role-assignment writes, which the emulator does not serve yet.
   */
  allows(principalId: string, action: string, scope: string, kind: "action" | "dataAction" = "action"): boolean {
    return this.assignments.some((a) => {
      if (a.principalId !== principalId || !scopeCovers(a.scope, scope)) return false;
      const def = this.definitions.get(a.roleDefinitionId);
      if (!def) return false;
      const [allow, deny] = kind === "action" ? [def.actions, def.notActions] : [def.dataActions, def.notDataActions];
      return allow.some((p) => actionMatches(p, action)) && !deny.some((p) => actionMatches(p, action));
    });
  }
}

/** `/subscriptions/s/resourceGroups/rg` covers itself and everything below it (whole segments, any case). */
export function scopeCovers(assigned: string, target: string): boolean {
  const a = assigned.replace(/\/+$/, "").toLowerCase();
  const t = target.replace(/\/+$/, "").toLowerCase();
  return t === a || t.startsWith(`${a}/`);
}

// Azure's action wildcards: a star matches any run of characters ("*/read", "Microsoft.Network/*").
const patterns = new Map<string, RegExp>();
export function actionMatches(pattern: string, action: string): boolean {
  let re = patterns.get(pattern);
  if (!re) {
    re = new RegExp(`^${pattern.split("*").map((s) => s.replace(/[.+?^${}()|[\]\\]/g, "\\$&")).join(".*")}$`, "i");
    patterns.set(pattern, re);
  }
  return re.test(action);
}

/**
 * The action and scope ARM checks for a request. Resource paths alternate type/name after the
 * provider namespace: an even count names a resource (GET read, PUT/PATCH write, DELETE
 * delete); an odd count ends in a collection (GET: `<type>/read` on the parent) or, for POST,
 * an action (`<type>/<action>/action` on the resource).
 */
export function requiredArmAction(method: string, path: string): { action: string; scope: string } | undefined {
  // An extension resource (a role assignment on a queue): the action is the extension's, over its own id.
  const ext = /^(\/subscriptions\/.+)\/providers\/(Microsoft\.Authorization)\/(roleAssignments)\/[^/]+\/?$/i.exec(path);
  if (ext) {
    const verb = method === "GET" || method === "HEAD" ? "read" : method === "DELETE" ? "delete" : "write";
    return { action: `Microsoft.Authorization/roleAssignments/${verb}`, scope: path.replace(/\/+$/, "") };
  }
  const m = /^(\/subscriptions\/[^/]+(?:\/resourceGroups\/[^/]+)?)\/providers\/([^/]+)\/(.+?)\/?$/i.exec(path);
  if (!m) return undefined;
  const [, parent, namespace, rest] = m as unknown as [string, string, string, string];
  const segs = rest.split("/");
  const types = segs.filter((_, i) => i % 2 === 0);
  const odd = segs.length % 2 === 1;
  if (odd && method === "POST") {
    const action = types.pop()!;
    return { action: `${namespace}/${types.join("/")}/${action}/action`, scope: `${parent}/providers/${namespace}/${segs.slice(0, -1).join("/")}` };
  }
  const verb = method === "GET" || method === "HEAD" ? "read" : method === "DELETE" ? "delete" : "write";
  const scope = odd ? (segs.length === 1 ? parent : `${parent}/providers/${namespace}/${segs.slice(0, -1).join("/")}`) : path.replace(/\/+$/, "");
  return { action: `${namespace}/${types.join("/")}/${verb}`, scope };
}

const JOINS: Array<[RegExp, string]> = [
  [/\/providers\/Microsoft\.Network\/virtualNetworks\/[^/]+\/subnets\/[^/]+$/i, "Microsoft.Network/virtualNetworks/subnets/join/action"],
  [/\/providers\/Microsoft\.Network\/networkSecurityGroups\/[^/]+$/i, "Microsoft.Network/networkSecurityGroups/join/action"],
  [/\/providers\/Microsoft\.Network\/publicIPAddresses\/[^/]+$/i, "Microsoft.Network/publicIPAddresses/join/action"],
  [/\/providers\/Microsoft\.Network\/networkInterfaces\/[^/]+$/i, "Microsoft.Network/networkInterfaces/join/action"],
];

/** The join actions a PUT body needs: one per linked subnet, NSG, public IP or NIC it references by id. */
export function linkedActions(body: Json | undefined, self: string): Array<{ action: string; scope: string }> {
  const out = new Map<string, { action: string; scope: string }>();
  const walk = (v: Json | undefined) => {
    if (Array.isArray(v)) v.forEach(walk);
    else if (v !== null && typeof v === "object") {
      for (const [k, x] of Object.entries(v)) {
        if (k === "id" && typeof x === "string" && x.toLowerCase() !== self.toLowerCase()) {
          const join = JOINS.find(([re]) => re.test(x));
          if (join) out.set(`${join[1]}|${x.toLowerCase()}`, { action: join[1], scope: x });
        } else walk(x);
      }
    }
  };
  walk(body);
  return [...out.values()];
}

/** Throws ARM's 403 unless `caller` may make this request (the request's action, then linked joins). */
export function authorizeArm(rbac: Rbac, caller: TokenCaller, method: string, path: string, body: () => Json | undefined): void {
  const required = requiredArmAction(method, path);
  if (!required) return;
  if (!rbac.allows(caller.principalId, required.action, required.scope)) {
    throw new ArmError(403, "AuthorizationFailed",
      `The client '${caller.clientId}' with object id '${caller.principalId}' does not have authorization to perform action '${required.action}' over scope '${required.scope}' or the scope is invalid. If access was recently granted, please refresh your credentials.`);
  }
  if (method !== "PUT" && method !== "PATCH") return;
  let parsed: Json | undefined;
  try {
    parsed = body();
  } catch {
    return; // a malformed body is the handler's 400, not an authorization question
  }
  const denied = linkedActions(parsed, required.scope).filter((l) => !rbac.allows(caller.principalId, l.action, l.scope));
  if (denied.length > 0) {
    throw new ArmError(403, "LinkedAuthorizationFailed",
      `The client '${caller.clientId}' with object id '${caller.principalId}' has permission to perform action '${required.action}' on scope '${required.scope}'; however, it does not have permission to perform action(s) '${[...new Set(denied.map((d) => d.action))].join(",")}' on the linked scope(s) '${denied.map((d) => d.scope).join(",")}' (respectively) or the linked scope(s) are invalid.`);
  }
}
