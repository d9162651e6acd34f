// Network policy of the workstation's applications: the agent's authenticating proxy is
// reachable from the workspace's VNet (where the portal's users are, e.g. over VPN or a
// jump host), on APPS_PROXY_PORT only; nothing else opens. The rule sits above the NSG's
// explicit deny-all (shared/policies/ssh.ts).
import type { SecurityRule } from "./ssh";

export const APPLICATIONS_RULE_PRIORITY = 1010;

export function applicationsNsgRules(proxyPort: number): SecurityRule[] {
  // Port 0 ("any free port") is the local emulator's setting, which filters no traffic: no rule.
  if (proxyPort === 0) return [];
  return [
    {
      name: "AllowApplicationsProxyFromVNet",
      properties: {
        description: "The agent's authenticating application proxy (APPS_PROXY_PORT), from the virtual network only.",
        priority: APPLICATIONS_RULE_PRIORITY,
        direction: "Inbound",
        access: "Allow",
        protocol: "Tcp",
        sourceAddressPrefix: "VirtualNetwork",
        sourcePortRange: "*",
        destinationAddressPrefix: "*",
        destinationPortRange: String(proxyPort),
      },
    },
  ];
}
