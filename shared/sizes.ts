import type { VmSizeInfo } from "./schemas/sizes";

// The VM size catalog: the provider's SKU list (`resourceSkus.list`) filtered to the sizes the
// policy allows in the workspace's location, in the policy's order.

/** The parts of an ARM ResourceSku we read (as @azure/arm-compute returns them). */
export interface ResourceSkuLike {
  resourceType?: string;
  name?: string;
  family?: string;
  locations?: string[];
  capabilities?: { name?: string; value?: string }[];
  restrictions?: { type?: string; values?: string[]; reasonCode?: string }[];
}

export interface SizeCatalog {
  sizes: VmSizeInfo[];
  /** Allowed sizes the location does not offer (or restricts for this subscription), with why. */
  unavailable: { name: string; reason: string; restricted?: true }[];
}

export function buildSizeCatalog(skus: Iterable<ResourceSkuLike>, allowedVmSizes: readonly string[], location: string): SizeCatalog {
  const loc = normaliseLocation(location);
  const found = new Map<string, VmSizeInfo>();
  const restricted = new Map<string, string>();
  const wanted = new Set(allowedVmSizes.map((s) => s.toLowerCase()));
  for (const sku of skus) {
    if (sku.resourceType !== "virtualMachines" || !sku.name) continue;
    const key = sku.name.toLowerCase();
    if (!wanted.has(key)) continue;
    if (!(sku.locations ?? []).some((l) => normaliseLocation(l) === loc)) continue;
    const restriction = (sku.restrictions ?? []).find(
      (r) => r.type === "Location" && (r.values ?? []).some((v) => normaliseLocation(v) === loc),
    );
    if (restriction) {
      restricted.set(key, restriction.reasonCode ?? "restricted");
      continue;
    }
    const cap = (name: string) => Number(sku.capabilities?.find((c) => c.name === name)?.value ?? NaN);
    const vCpus = cap("vCPUs");
    if (!Number.isFinite(vCpus)) continue;
    const gpus = cap("GPUs");
    const memoryGb = cap("MemoryGB");
    found.set(key, {
      name: sku.name,
      family: sku.family ?? "unknown",
      vCpus,
      gpus: Number.isFinite(gpus) ? gpus : 0,
      memoryGb: Number.isFinite(memoryGb) ? memoryGb : 0,
    });
  }
  const sizes: VmSizeInfo[] = [];
  const unavailable: SizeCatalog["unavailable"] = [];
  for (const name of allowedVmSizes) {
    const info = found.get(name.toLowerCase());
    const restriction = restricted.get(name.toLowerCase());
    if (info) sizes.push(info);
    else unavailable.push(restriction ? { name, reason: restriction, restricted: true } : { name, reason: `not offered in ${location}` });
  }
  return { sizes, unavailable };
}

export function findSize(catalog: SizeCatalog, vmSize: string): VmSizeInfo | undefined {
  return catalog.sizes.find((s) => s.name.toLowerCase() === vmSize.toLowerCase());
}

function normaliseLocation(l: string): string {
  return l.toLowerCase().replace(/\s+/g, "");
}
