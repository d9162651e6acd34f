// The VM size catalog and the quota check, for triggers. The provider's SKU list changes
// rarely and is large, so it is cached (10 min); usages change with every create, so they
// are read fresh when a create or start is checked.
import { listVmSkus, listVmUsages, type VmSku } from "../shared/azure/compute";
import { TtlCache } from "../shared/cache";
import { AppError, ValidationError } from "../shared/errors";
import type { InstanceRecord } from "../shared/instances/record";
import { checkQuota, workspaceUsage, type ProviderUsage } from "../shared/policies/quota";
import { buildSizeCatalog, findSize, type ResourceSkuLike, type SizeCatalog } from "../shared/sizes";
import type { VmSizeInfo } from "../shared/schemas/sizes";
import { getClients, getSettings, stores } from "./root";

const CATALOG_TTL_MS = 10 * 60_000;
const cache = new TtlCache<string, SizeCatalog>(CATALOG_TTL_MS, () => Date.now());

/** listVmSkus already normalised the SKUs; put them back in ARM's shape for buildSizeCatalog's rules. */
function asResourceSku(sku: VmSku, location: string): ResourceSkuLike {
  return {
    resourceType: "virtualMachines",
    name: sku.name,
    family: sku.family,
    locations: [location],
    capabilities: [
      { name: "vCPUs", value: String(sku.vCpus) },
      { name: "GPUs", value: String(sku.gpus) },
      { name: "MemoryGB", value: String(sku.memoryGb) },
    ],
    restrictions: sku.available ? [] : [{ type: "Location", values: [location], reasonCode: sku.restriction ?? "NotAvailableForSubscription" }],
  };
}

export async function getSizeCatalog(): Promise<SizeCatalog> {
  const settings = getSettings();
  const key = `${settings.location}|${settings.allowedVmSizes.join(",")}`;
  return cache.getOrLoad(key, async () => {
    const skus = await listVmSkus(getClients().arm);
    return buildSizeCatalog(skus.map((s) => asResourceSku(s, settings.location)), settings.allowedVmSizes, settings.location);
  });
}

/**
 * The catalog entry of an allowed size; a 409 SkuNotAvailable when Azure restricts it for this
 * subscription (ARM would refuse the VM PUT with that code), a 400 naming vmSize when the region
 * does not offer it at all.
 */
export async function sizeInfo(vmSize: string): Promise<VmSizeInfo> {
  const catalog = await getSizeCatalog();
  const info = findSize(catalog, vmSize);
  if (info) return info;
  const entry = catalog.unavailable.find((u) => u.name.toLowerCase() === vmSize.toLowerCase());
  if (entry?.restricted) {
    const message = `vmSize: ${entry.name} is restricted for this subscription in ${getSettings().location} (${entry.reason}); choose another size.`;
    throw new AppError("SkuNotAvailable", message, 409, { target: "vmSize", details: [{ code: entry.reason, target: "vmSize", message }] });
  }
  const why = entry?.reason ?? "not offered";
  throw ValidationError.field("vmSize", `is allowed by policy but not available in ${getSettings().location} (${why})`, "VmSizeNotAvailable");
}

export async function providerUsages(): Promise<ProviderUsage[]> {
  const usages = await listVmUsages(getClients().arm);
  return usages.map((u) => ({ name: { value: u.family, localizedValue: u.name }, currentValue: u.currentValue, limit: u.limit }));
}

export async function workspaceInstances(): Promise<InstanceRecord[]> {
  return (await stores().instances.listAll()).map((s) => s.record);
}

/** QuotaExceeded (409) when `vCpus` more of `family` would pass the workspace policy or the subscription's limit. */
export async function assertQuota(req: { name: string; family: string; vCpus: number }): Promise<void> {
  const [instances, usages] = await Promise.all([workspaceInstances(), providerUsages()]);
  const result = checkQuota({
    family: req.family,
    vCpus: req.vCpus,
    workspaceUsed: workspaceUsage(instances, req.name),
    workspaceLimits: getSettings().quotaVcpusPerFamily,
    providerUsages: usages,
  });
  if (!result.ok) throw result.error;
}
