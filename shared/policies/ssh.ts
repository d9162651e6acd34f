import type { SourcePrefix } from "../cidr";
import type { ErrorDetail } from "../errors";
import { ADMIN_USER_NAME } from "../ids";
import type { Settings } from "../settings";

// SSH policy. Inbound is closed by default; port 22 opens only when the request asks for it,
// the workspace allows it, and only from SSH_ALLOWED_SOURCE_PREFIXES. "Any source" appears
// only when that list says so explicitly ("*", "Internet" or a /0). Every NSG ends with an
// explicit deny-all inbound rule, so no platform default (e.g. AllowVnetInBound) lets traffic in.

export type SshPolicy = Pick<Settings, "allowSshPublicAccess" | "sshAllowedSourcePrefixes">;
export type SshPublicAccess = "Enabled" | "Disabled";

/** ARM shape of `Microsoft.Network/networkSecurityGroups` securityRules items. */
export interface SecurityRule {
  name: string;
  properties: {
    description?: string;
    priority: number;
    direction: "Inbound" | "Outbound";
    access: "Allow" | "Deny";
    protocol: "Tcp" | "Udp" | "Icmp" | "*";
    sourceAddressPrefix?: string;
    sourceAddressPrefixes?: string[];
    sourcePortRange: string;
    destinationAddressPrefix: string;
    destinationPortRange: string;
  };
}

export const SSH_PORT = 22;
export const SSH_RULE_PRIORITY = 1000;
export const DENY_ALL_PRIORITY = 4096; // the lowest precedence a custom rule can have

/** Policy check of a create request; errors name `sshPublicAccess`. */
export function checkSshRequest(access: SshPublicAccess, policy: SshPolicy): ErrorDetail[] {
  if (access === "Disabled") return [];
  if (!policy.allowSshPublicAccess) {
    return [{ code: "SshNotAllowed", target: "sshPublicAccess", message: "SSH public access is not allowed by the workspace policy" }];
  }
  if (policy.sshAllowedSourcePrefixes.length === 0) {
    return [{ code: "SshNotAllowed", target: "sshPublicAccess", message: "the workspace policy lists no SSH source prefixes (SSH_ALLOWED_SOURCE_PREFIXES)" }];
  }
  return [];
}

export function nsgSecurityRules(access: SshPublicAccess, policy: SshPolicy): SecurityRule[] {
  const rules: SecurityRule[] = [];
  if (access === "Enabled" && checkSshRequest(access, policy).length === 0) {
    rules.push(sshAllowRule(policy.sshAllowedSourcePrefixes));
  }
  rules.push({
    name: "DenyAllInbound",
    properties: {
      description: "Inbound is closed unless a rule above opens it.",
      priority: DENY_ALL_PRIORITY,
      direction: "Inbound",
      access: "Deny",
      protocol: "*",
      sourceAddressPrefix: "*",
      sourcePortRange: "*",
      destinationAddressPrefix: "*",
      destinationPortRange: "*",
    },
  });
  return rules;
}

function sshAllowRule(prefixes: readonly SourcePrefix[]): SecurityRule {
  const any = prefixes.find((p) => p.kind === "any");
  const source: Pick<SecurityRule["properties"], "sourceAddressPrefix" | "sourceAddressPrefixes"> = any
    ? { sourceAddressPrefix: any.prefix === "*" ? "*" : "Internet" }
    : prefixes.length === 1
      ? { sourceAddressPrefix: (prefixes[0] as SourcePrefix).prefix }
      : { sourceAddressPrefixes: prefixes.map((p) => p.prefix) };
  return {
    name: "AllowSshFromAllowedPrefixes",
    properties: {
      description: "SSH (key-only) from SSH_ALLOWED_SOURCE_PREFIXES.",
      priority: SSH_RULE_PRIORITY,
      direction: "Inbound",
      access: "Allow",
      protocol: "Tcp",
      ...source,
      sourcePortRange: "*",
      destinationAddressPrefix: "*",
      destinationPortRange: String(SSH_PORT),
    },
  };
}

/** Key-only login for azureuser (ARM `osProfile.linuxConfiguration`). */
export function linuxConfiguration(sshPublicKey: string | undefined) {
  return {
    disablePasswordAuthentication: true,
    ssh: {
      publicKeys: sshPublicKey
        ? [{ path: `/home/${ADMIN_USER_NAME}/.ssh/authorized_keys`, keyData: sshPublicKey }]
        : [],
    },
  };
}
