// Network resources of an instance: NSG, public IP, NIC. Every operation is idempotent:
// ensure = PUT of the full desired state (repeating it is a no-op), delete treats 404 as done.
// Network operations finish in seconds, so these wait for their LRO inside the activity.
import type { NetworkSecurityGroup, SecurityRule } from "@azure/arm-network";
import type { ArmClients } from "./clients";
import { azureCall, azureCallOr404 } from "./errors";

export type NsgRuleSpec = {
  name: string;
  priority: number;
  direction: "Inbound" | "Outbound";
  access: "Allow" | "Deny";
  protocol: "Tcp" | "Udp" | "Icmp" | "*";
  sourceAddressPrefixes: string[];
  destinationPortRanges: string[];
  description?: string;
};

export type NsgInfo = { id: string; name: string; provisioningState?: string; rules: NsgRuleSpec[] };
export type PublicIpInfo = { id: string; name: string; ipAddress?: string; provisioningState?: string };
export type NicInfo = {
  id: string;
  name: string;
  privateIp?: string;
  subnetId?: string;
  nsgId?: string;
  publicIpId?: string;
  provisioningState?: string;
};

type Tags = Record<string, string>;

/**
 * ARM accepts `*` and service tags (Internet, VirtualNetwork, ...) only in the singular fields and
 * refuses them inside the plural lists (400 SecurityRuleParameterContainsUnsupportedValue /
 * SecurityRuleInvalidPortRange), so one value goes in the singular field, several in the list.
 */
export function toArmRule(r: NsgRuleSpec): SecurityRule {
  const [source, ...moreSources] = r.sourceAddressPrefixes;
  const [port, ...morePorts] = r.destinationPortRanges;
  return {
    name: r.name,
    priority: r.priority,
    direction: r.direction,
    access: r.access,
    protocol: r.protocol,
    ...(moreSources.length === 0 ? { sourceAddressPrefix: source ?? "*" } : { sourceAddressPrefixes: r.sourceAddressPrefixes }),
    sourcePortRange: "*",
    destinationAddressPrefix: "*",
    ...(morePorts.length === 0 ? { destinationPortRange: port ?? "*" } : { destinationPortRanges: r.destinationPortRanges }),
    description: r.description,
  };
}

function fromArmRule(r: SecurityRule): NsgRuleSpec {
  const one = (list: string[] | undefined, single: string | undefined) =>
    list && list.length > 0 ? list : single !== undefined ? [single] : [];
  return {
    name: r.name ?? "",
    priority: r.priority ?? 0,
    direction: r.direction === "Outbound" ? "Outbound" : "Inbound",
    access: r.access === "Allow" ? "Allow" : "Deny",
    protocol: (["Tcp", "Udp", "Icmp"].includes(r.protocol ?? "") ? r.protocol : "*") as NsgRuleSpec["protocol"],
    sourceAddressPrefixes: one(r.sourceAddressPrefixes, r.sourceAddressPrefix),
    destinationPortRanges: one(r.destinationPortRanges, r.destinationPortRange),
    ...(r.description ? { description: r.description } : {}),
  };
}

function nsgInfo(nsg: NetworkSecurityGroup, fallbackName: string): NsgInfo {
  return {
    id: nsg.id ?? "",
    name: nsg.name ?? fallbackName,
    provisioningState: nsg.provisioningState,
    rules: (nsg.securityRules ?? []).map(fromArmRule),
  };
}

export async function ensureNsg(arm: ArmClients, input: { name: string; rules: NsgRuleSpec[]; tags?: Tags }): Promise<NsgInfo> {
  const nsg = await azureCall(`create network security group ${input.name}`, () =>
    arm.network.networkSecurityGroups.beginCreateOrUpdateAndWait(
      arm.resourceGroup,
      input.name,
      { location: arm.location, tags: input.tags, securityRules: input.rules.map(toArmRule) },
      { updateIntervalInMs: arm.pollIntervalMs },
    ),
  );
  return nsgInfo(nsg, input.name);
}

export async function getNsg(arm: ArmClients, name: string): Promise<NsgInfo | undefined> {
  const nsg = await azureCallOr404(`read network security group ${name}`, () =>
    arm.network.networkSecurityGroups.get(arm.resourceGroup, name),
  );
  return nsg && nsgInfo(nsg, name);
}

export async function deleteNsg(arm: ArmClients, name: string): Promise<void> {
  await azureCallOr404(`delete network security group ${name}`, () =>
    arm.network.networkSecurityGroups.beginDeleteAndWait(arm.resourceGroup, name, { updateIntervalInMs: arm.pollIntervalMs }),
  );
}

export async function ensurePublicIp(arm: ArmClients, input: { name: string; tags?: Tags }): Promise<PublicIpInfo> {
  const ip = await azureCall(`create public IP ${input.name}`, () =>
    arm.network.publicIPAddresses.beginCreateOrUpdateAndWait(
      arm.resourceGroup,
      input.name,
      {
        location: arm.location,
        tags: input.tags,
        sku: { name: "Standard", tier: "Regional" },
        publicIPAllocationMethod: "Static",
        publicIPAddressVersion: "IPv4",
      },
      { updateIntervalInMs: arm.pollIntervalMs },
    ),
  );
  return { id: ip.id ?? "", name: ip.name ?? input.name, ipAddress: ip.ipAddress, provisioningState: ip.provisioningState };
}

export async function getPublicIp(arm: ArmClients, name: string): Promise<PublicIpInfo | undefined> {
  const ip = await azureCallOr404(`read public IP ${name}`, () => arm.network.publicIPAddresses.get(arm.resourceGroup, name));
  return ip && { id: ip.id ?? "", name: ip.name ?? name, ipAddress: ip.ipAddress, provisioningState: ip.provisioningState };
}

export async function deletePublicIp(arm: ArmClients, name: string): Promise<void> {
  await azureCallOr404(`delete public IP ${name}`, () =>
    arm.network.publicIPAddresses.beginDeleteAndWait(arm.resourceGroup, name, { updateIntervalInMs: arm.pollIntervalMs }),
  );
}

export async function ensureNic(
  arm: ArmClients,
  input: { name: string; subnetId: string; nsgId: string; publicIpId?: string; tags?: Tags },
): Promise<NicInfo> {
  const nic = await azureCall(`create network interface ${input.name}`, () =>
    arm.network.networkInterfaces.beginCreateOrUpdateAndWait(
      arm.resourceGroup,
      input.name,
      {
        location: arm.location,
        tags: input.tags,
        networkSecurityGroup: { id: input.nsgId },
        ipConfigurations: [
          {
            name: "ipconfig1",
            primary: true,
            privateIPAllocationMethod: "Dynamic",
            subnet: { id: input.subnetId },
            ...(input.publicIpId ? { publicIPAddress: { id: input.publicIpId } } : {}),
          },
        ],
      },
      { updateIntervalInMs: arm.pollIntervalMs },
    ),
  );
  return nicInfo(nic, input.name);
}

type ArmNic = Awaited<ReturnType<ArmClients["network"]["networkInterfaces"]["get"]>>;

function nicInfo(nic: ArmNic, fallbackName: string): NicInfo {
  const ipc = nic.ipConfigurations?.[0];
  return {
    id: nic.id ?? "",
    name: nic.name ?? fallbackName,
    privateIp: ipc?.privateIPAddress,
    subnetId: ipc?.subnet?.id,
    nsgId: nic.networkSecurityGroup?.id,
    publicIpId: ipc?.publicIPAddress?.id,
    provisioningState: nic.provisioningState,
  };
}

export async function getNic(arm: ArmClients, name: string): Promise<NicInfo | undefined> {
  const nic = await azureCallOr404(`read network interface ${name}`, () =>
    arm.network.networkInterfaces.get(arm.resourceGroup, name),
  );
  return nic && nicInfo(nic, name);
}

export async function deleteNic(arm: ArmClients, name: string): Promise<void> {
  await azureCallOr404(`delete network interface ${name}`, () =>
    arm.network.networkInterfaces.beginDeleteAndWait(arm.resourceGroup, name, { updateIntervalInMs: arm.pollIntervalMs }),
  );
}

/** Reads a subnet by its full resource id (policy checks that it exists before placing a NIC). */
export async function getSubnet(arm: ArmClients, subnetId: string): Promise<{ id: string; addressPrefix?: string } | undefined> {
  const m = /\/resourceGroups\/([^/]+)\/providers\/Microsoft\.Network\/virtualNetworks\/([^/]+)\/subnets\/([^/]+)$/i.exec(subnetId);
  if (!m) return undefined;
  const [, rg, vnet, subnet] = m as unknown as [string, string, string, string];
  const s = await azureCallOr404(`read subnet ${subnet}`, () => arm.network.subnets.get(rg, vnet, subnet));
  return s && { id: s.id ?? subnetId, addressPrefix: s.addressPrefix };
}
