// Security-rule validation with the checks ARM applies: priority 100-4096 and unique per
// direction, access/direction/protocol enums, port ranges 0-65535 or *, address prefixes.
// `*` and service tags are accepted only in the singular fields (sourceAddressPrefix,
// destinationPortRange, ...); in the plural lists ARM refuses them (400
// SecurityRuleParameterContainsUnsupportedValue / SecurityRuleInvalidPortRange, as quoted in
// hashicorp/terraform-provider-azurerm#5617 and ansible-collections/azure#639).
import ipaddr from "ipaddr.js";
import { ArmError, arr, obj, str, type Json, type JsonObject } from "./http";
import { isServiceTag } from "./serviceTags";

const PROTOCOLS = ["Tcp", "Udp", "Icmp", "Esp", "Ah", "*"];

const bad = (code: string, field: string, message: string) => new ArmError(400, code, message, field);

type Check = (v: string, field: string, inList: boolean) => void;

const invalidPort = (v: string, field: string) =>
  bad("SecurityRuleInvalidPortRange", field, `Security rule has invalid Port range. Value provided: ${v}. Value should be an integer OR integer range with '-' delimiter. Valid range 0-65535. (${field})`);

function portRange(v: string, field: string, inList: boolean): void {
  if (v === "*") {
    if (inList) throw invalidPort(v, field);
    return;
  }
  const m = /^(\d{1,5})(?:-(\d{1,5}))?$/.exec(v);
  const lo = m ? Number(m[1]) : NaN;
  const hi = m?.[2] !== undefined ? Number(m[2]) : lo;
  if (!m || lo > 65535 || hi > 65535 || lo > hi) {
    throw invalidPort(v, field);
  }
}

function addressPrefix(v: string, field: string, inList: boolean): void {
  if (v === "*" || isServiceTag(v)) {
    if (!inList) return;
    const name = field.split(".").pop()!.replace(/\[\d+\]$/, "").replace(/es$/, "");
    throw bad("SecurityRuleParameterContainsUnsupportedValue", field,
      `Security rule parameter ${name[0]!.toUpperCase()}${name.slice(1)} cannot specify existing VIRTUALNETWORK, INTERNET, AZURELOADBALANCER, '*' or system tags. Unsupported value used: ${v}.`);
  }
  const ok = v.includes("/") ? safe(() => ipaddr.parseCIDR(v)) : ipaddr.isValid(v);
  if (!ok) throw bad("SecurityRuleInvalidAddressPrefix", field, `Security rule has invalid Address prefix. Value provided: ${v}. (${field})`);
}

const safe = (f: () => unknown) => {
  try {
    f();
    return true;
  } catch {
    return false;
  }
};

function oneOrMany(p: JsonObject, single: string, many: string, field: string, check: Check, required: boolean): void {
  const s = str(p[single]);
  const list = arr(p[many]);
  if (s !== undefined && list && list.length) throw bad("SecurityRuleParameterContainsUnsupportedValue", `${field}.${many}`, `Security rule ${field} has both ${single} and ${many}; use one.`);
  if (s !== undefined) return check(s, `${field}.${single}`, false);
  if (list && list.length) {
    list.forEach((v, i) => {
      if (typeof v !== "string") throw bad("InvalidRequestFormat", `${field}.${many}[${i}]`, `${field}.${many}[${i}] must be a string.`);
      check(v, `${field}.${many}[${i}]`, true);
    });
    return;
  }
  if (required) throw bad("SecurityRuleParameterContainsUnsupportedValue", `${field}.${single}`, `Security rule ${field} requires ${single} or ${many}.`);
}

/** Validates `properties.securityRules` and returns them normalized (id/type/provisioningState added). */
export function validateSecurityRules(rules: Json | undefined, nsgId: string): JsonObject[] {
  if (rules === undefined || rules === null) return [];
  const list = arr(rules);
  if (!list) throw bad("InvalidRequestFormat", "properties.securityRules", "properties.securityRules must be an array.");
  const seen = new Map<string, string>();
  const names = new Set<string>();
  return list.map((raw, i) => {
    const field = `properties.securityRules[${i}]`;
    const rule = obj(raw);
    if (!rule) throw bad("InvalidRequestFormat", field, `${field} must be an object.`);
    const name = str(rule.name);
    if (!name) throw bad("InvalidRequestFormat", `${field}.name`, `${field}.name is required.`);
    if (names.has(name.toLowerCase())) throw bad("InvalidRequestFormat", `${field}.name`, `Security rule name '${name}' is used more than once.`);
    names.add(name.toLowerCase());
    const p = obj(rule.properties);
    if (!p) throw bad("InvalidRequestFormat", `${field}.properties`, `${field}.properties is required.`);
    const priority = p.priority;
    if (typeof priority !== "number" || !Number.isInteger(priority) || priority < 100 || priority > 4096) {
      throw bad("SecurityRuleInvalidPriority", `${field}.properties.priority`, `Security rule ${name} has invalid priority ${JSON.stringify(priority)}. Value provided: ${JSON.stringify(priority)}. Allowed range 100-4096.`);
    }
    const direction = str(p.direction);
    if (direction !== "Inbound" && direction !== "Outbound") throw bad("SecurityRuleParameterContainsUnsupportedValue", `${field}.properties.direction`, `Security rule ${name}: direction must be Inbound or Outbound.`);
    const access = str(p.access);
    if (access !== "Allow" && access !== "Deny") throw bad("SecurityRuleParameterContainsUnsupportedValue", `${field}.properties.access`, `Security rule ${name}: access must be Allow or Deny.`);
    const protocol = str(p.protocol);
    if (!protocol || !PROTOCOLS.includes(protocol)) throw bad("SecurityRuleParameterContainsUnsupportedValue", `${field}.properties.protocol`, `Security rule ${name}: protocol must be one of ${PROTOCOLS.join(", ")}.`);
    const dupKey = `${direction}:${priority}`;
    const other = seen.get(dupKey);
    if (other) throw bad("SecurityRulesInvalidPriorityDuplicate"/* ARM: rules conflict */, `${field}.properties.priority`, `Security rules ${other} and ${name} have the same priority ${priority} and direction ${direction}.`);
    seen.set(dupKey, name);
    oneOrMany(p, "sourcePortRange", "sourcePortRanges", `${field}.properties`, portRange, true);
    oneOrMany(p, "destinationPortRange", "destinationPortRanges", `${field}.properties`, portRange, true);
    oneOrMany(p, "sourceAddressPrefix", "sourceAddressPrefixes", `${field}.properties`, addressPrefix, true);
    oneOrMany(p, "destinationAddressPrefix", "destinationAddressPrefixes", `${field}.properties`, addressPrefix, true);
    return {
      id: `${nsgId}/securityRules/${name}`,
      name,
      type: "Microsoft.Network/networkSecurityGroups/securityRules",
      properties: { ...p, provisioningState: "Succeeded" },
    };
  });
}

export function defaultSecurityRules(nsgId: string): JsonObject[] {
  const r = (name: string, priority: number, direction: string, access: string, src: string, dst: string, description: string): JsonObject => ({
    id: `${nsgId}/defaultSecurityRules/${name}`, name, type: "Microsoft.Network/networkSecurityGroups/defaultSecurityRules",
    properties: {
      provisioningState: "Succeeded", description, protocol: "*", sourcePortRange: "*", destinationPortRange: "*",
      sourceAddressPrefix: src, destinationAddressPrefix: dst, access, priority, direction,
      sourcePortRanges: [], destinationPortRanges: [], sourceAddressPrefixes: [], destinationAddressPrefixes: [],
    },
  });
  return [
    r("AllowVnetInBound", 65000, "Inbound", "Allow", "VirtualNetwork", "VirtualNetwork", "Allow inbound traffic from all VMs in VNET"),
    r("AllowAzureLoadBalancerInBound", 65001, "Inbound", "Allow", "AzureLoadBalancer", "*", "Allow inbound traffic from azure load balancer"),
    r("DenyAllInBound", 65500, "Inbound", "Deny", "*", "*", "Deny all inbound traffic"),
    r("AllowVnetOutBound", 65000, "Outbound", "Allow", "VirtualNetwork", "VirtualNetwork", "Allow outbound traffic from all VMs to all VMs in VNET"),
    r("AllowInternetOutBound", 65001, "Outbound", "Allow", "*", "Internet", "Allow outbound traffic from all VMs to Internet"),
    r("DenyAllOutBound", 65500, "Outbound", "Deny", "*", "*", "Deny all outbound traffic"),
  ];
}
