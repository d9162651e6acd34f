// The VM size catalog (common CPU and NVIDIA GPU sizes, with the figures Azure publishes)
// and the per-family vCPU usage/quota view derived from the VMs that exist.
import type { JsonObject } from "./http";
import type { State } from "./store";

export type VmSize = { name: string; family: string; vCPUs: number; memoryGB: number; gpus: number; gpuModel?: string; maxDataDisks: number };

const S = (name: string, family: string, vCPUs: number, memoryGB: number, gpus = 0, gpuModel?: string, maxDataDisks = 8): VmSize =>
  ({ name, family, vCPUs, memoryGB, gpus, gpuModel, maxDataDisks });

export const VM_SIZES: VmSize[] = [
  S("Standard_D2s_v5", "standardDSv5Family", 2, 8, 0, undefined, 4),
  S("Standard_D4s_v5", "standardDSv5Family", 4, 16),
  S("Standard_D8s_v5", "standardDSv5Family", 8, 32, 0, undefined, 16),
  S("Standard_D16s_v5", "standardDSv5Family", 16, 64, 0, undefined, 32),
  S("Standard_D32s_v5", "standardDSv5Family", 32, 128, 0, undefined, 32),
  S("Standard_D2_v5", "standardDv5Family", 2, 8, 0, undefined, 4),
  S("Standard_D4_v5", "standardDv5Family", 4, 16),
  S("Standard_DS2_v2", "standardDSv2Family", 2, 7),
  S("Standard_DS3_v2", "standardDSv2Family", 4, 14, 0, undefined, 16),
  S("Standard_DS4_v2", "standardDSv2Family", 8, 28, 0, undefined, 32),
  S("Standard_E4s_v5", "standardESv5Family", 4, 32),
  S("Standard_E8s_v5", "standardESv5Family", 8, 64, 0, undefined, 16),
  S("Standard_E16s_v5", "standardESv5Family", 16, 128, 0, undefined, 32),
  S("Standard_F4s_v2", "standardFSv2Family", 4, 8),
  // No NCv3 (V100): retired on 2025-09-30 (learn.microsoft.com/azure/virtual-machines/sizes/retirement/ncv3-series-retirement).
  S("Standard_NC4as_T4_v3", "standardNCASv3_T4Family", 4, 28, 1, "T4"),
  S("Standard_NC8as_T4_v3", "standardNCASv3_T4Family", 8, 56, 1, "T4", 16),
  S("Standard_NC16as_T4_v3", "standardNCASv3_T4Family", 16, 110, 1, "T4", 32),
  S("Standard_NC64as_T4_v3", "standardNCASv3_T4Family", 64, 440, 4, "T4", 32),
  S("Standard_NC24ads_A100_v4", "standardNCADSA100v4Family", 24, 220, 1, "A100", 8),
  S("Standard_NC48ads_A100_v4", "standardNCADSA100v4Family", 48, 440, 2, "A100", 16),
  S("Standard_NC96ads_A100_v4", "standardNCADSA100v4Family", 96, 880, 4, "A100", 32),
  S("Standard_NC40ads_H100_v5", "standardNCadsH100v5Family", 40, 320, 1, "H100", 12),
  S("Standard_NC80adis_H100_v5", "standardNCadsH100v5Family", 80, 640, 2, "H100", 24),
  S("Standard_ND96asr_v4", "standardNDASv4_A100Family", 96, 900, 8, "A100", 32),
  S("Standard_NV36ads_A10_v5", "standardNVADSA10v5Family", 36, 440, 1, "A10", 24),
];

const byName = new Map(VM_SIZES.map((s) => [s.name.toLowerCase(), s]));
export const findSize = (name: string): VmSize | undefined => byName.get(name.toLowerCase());

const familyLabel = (family: string) =>
  family.replace(/^standard/, "Standard ").replace(/Family$/, " Family vCPUs");

export type SkuRestriction = { type: "Location" | "Zone"; reasonCode: "NotAvailableForSubscription" | "QuotaId"; zones?: string[] };

/**
 * ARM's per-size `restrictions` (Resource Skus - List, Azure/azure-rest-api-specs
 * compute/ResourceManager skus.json: ResourceSkuRestrictions): a Location restriction means the
 * subscription cannot deploy the size in the location at all; a Zone one, not in those zones.
 */
function restrictionsOf(restriction: SkuRestriction | undefined, location: string): JsonObject[] {
  if (!restriction) return [];
  const zone = restriction.type === "Zone";
  return [{
    type: restriction.type, values: [location],
    restrictionInfo: { locations: [location], ...(zone ? { zones: restriction.zones ?? ["1"] } : {}) },
    reasonCode: restriction.reasonCode,
  }];
}

/** A Microsoft.Compute/skus entry shaped like ARM's (capabilities are name/value strings). */
export function skuResource(s: VmSize, location: string, restriction?: SkuRestriction): JsonObject {
  const caps: Array<[string, string]> = [
    ["MaxResourceVolumeMB", String(s.vCPUs * 16384)],
    ["OSVhdSizeMB", "1047552"],
    ["vCPUs", String(s.vCPUs)],
    ["MemoryPreservingMaintenanceSupported", s.gpus ? "False" : "True"],
    ["HyperVGenerations", "V1,V2"],
    ["MemoryGB", String(s.memoryGB)],
    ["MaxDataDiskCount", String(s.maxDataDisks)],
    ["CpuArchitectureType", "x64"],
    ["LowPriorityCapable", "True"],
    ["PremiumIO", "True"],
    ["VMDeploymentTypes", "IaaS"],
    ["vCPUsAvailable", String(s.vCPUs)],
    ...(s.gpus ? ([["GPUs", String(s.gpus)]] as Array<[string, string]>) : []),
    ["vCPUsPerCore", s.gpus ? "1" : "2"],
    ["EphemeralOSDiskSupported", "True"],
    ["AcceleratedNetworkingEnabled", "True"],
    ["MaxNetworkInterfaces", String(Math.min(8, Math.max(2, s.vCPUs / 2)))],
  ];
  return {
    resourceType: "virtualMachines",
    name: s.name,
    tier: "Standard",
    size: s.name.replace(/^Standard_/, ""),
    family: s.family,
    locations: [location],
    locationInfo: [{ location, zones: ["1", "2", "3"], zoneDetails: [] }],
    capabilities: caps.map(([name, value]) => ({ name, value })),
    restrictions: restrictionsOf(restriction, location),
  };
}

/** Disk SKUs too, as in ARM's list, so callers must filter by resourceType like they do on Azure. */
export function diskSkus(location: string): JsonObject[] {
  return ["Premium_LRS", "StandardSSD_LRS", "Standard_LRS"].map((name) => ({
    resourceType: "disks", name, tier: name.split("_")[0], size: "P10", family: null as unknown as string,
    locations: [location], locationInfo: [{ location, zones: ["1", "2", "3"] }], capabilities: [], restrictions: [],
  })) as JsonObject[];
}

export type Quota = { perFamily: Record<string, number>; defaultFamily: number; regional: number };

/** Azure counts the vCPUs of every VM that is not deallocated (stopped VMs still hold cores). */
export function vcpuUsage(state: State): { perFamily: Map<string, number>; total: number; vms: number } {
  const perFamily = new Map<string, number>();
  let total = 0;
  let vms = 0;
  for (const vm of Object.values(state.vms)) {
    vms++;
    if (vm.powerState === "deallocated") continue;
    const s = findSize(vm.size);
    if (!s) continue;
    perFamily.set(s.family, (perFamily.get(s.family) ?? 0) + s.vCPUs);
    total += s.vCPUs;
  }
  return { perFamily, total, vms };
}

export const familyLimit = (q: Quota, family: string) => q.perFamily[family] ?? q.defaultFamily;

export function usagesBody(state: State, q: Quota): JsonObject {
  const u = vcpuUsage(state);
  const families = [...new Set(VM_SIZES.map((s) => s.family))];
  const entry = (value: string, localized: string, current: number, limit: number): JsonObject => ({
    unit: "Count", currentValue: current, limit, name: { value, localizedValue: localized },
  });
  return {
    value: [
      entry("availabilitySets", "Availability Sets", 0, 2500),
      entry("cores", "Total Regional vCPUs", u.total, q.regional),
      entry("virtualMachines", "Virtual Machines", u.vms, 25000),
      ...families.map((f) => entry(f, familyLabel(f), u.perFamily.get(f) ?? 0, familyLimit(q, f))),
    ],
  };
}
