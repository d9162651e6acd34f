// ARM resource ids are case-insensitive in every segment; compare them through these helpers.

export interface SubnetRef {
  subscriptionId: string;
  resourceGroup: string;
  virtualNetwork: string;
  subnet: string;
}

const SUBNET_ID =
  /^\/subscriptions\/([0-9a-f]{8}-(?:[0-9a-f]{4}-){3}[0-9a-f]{12})\/resourceGroups\/([-\w.()]{1,90})\/providers\/Microsoft\.Network\/virtualNetworks\/([A-Za-z0-9][-\w.]{0,63})\/subnets\/([A-Za-z0-9][-\w.]{0,79})$/i;

export function parseSubnetId(id: string): SubnetRef | undefined {
  const m = SUBNET_ID.exec(id);
  if (!m) return undefined;
  const [, subscriptionId, resourceGroup, virtualNetwork, subnet] = m as unknown as [string, string, string, string, string];
  // Names may not end with '.' (ARM rule for vnets and subnets).
  if (virtualNetwork.endsWith(".") || subnet.endsWith(".") || resourceGroup.endsWith(".")) return undefined;
  return { subscriptionId, resourceGroup, virtualNetwork, subnet };
}

export function sameResourceId(a: string, b: string): boolean {
  return a.replace(/\/+$/, "").toLowerCase() === b.replace(/\/+$/, "").toLowerCase();
}

export function resourceGroupId(subscriptionId: string, resourceGroup: string): string {
  return `/subscriptions/${subscriptionId}/resourceGroups/${resourceGroup}`;
}

export function armResourceId(
  subscriptionId: string,
  resourceGroup: string,
  provider: string,
  type: string,
  name: string,
): string {
  return `${resourceGroupId(subscriptionId, resourceGroup)}/providers/${provider}/${type}/${name}`;
}
