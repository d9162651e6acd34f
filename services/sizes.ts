// The VM size catalog and the quota check, for triggers. The provider's SKU list changes
// rarely and is large, so it is cached (10 min); usages change with every create, so they
// are read fresh when a create or start is checked.
import type { ArmClients } from "../shared/azure/clients";
import { listVmSkus, listVmUsages, type VmSku } from "../shared/azure/compute";
import { TtlCache } from "../shared/cache";
import { AppError, ValidationError } from "../shared/errors";
import type { InstanceRecord } from "../shared/instances/record";
import { checkQuota, workspaceUsage, type ProviderUsage } from "../shared/policies/quota";
import { buildSizeCatalog, findSize, type ResourceSkuLike, type SizeCatalog } from "../shared/sizes";
import type { VmSizeInfo } from "../shared/schemas/sizes";
import type { Settings } from "../shared/settings";
import type { InstanceStore } from "../shared/store/instances";

const CATALOG_TTL_MS = 10 * 60_000;

export type SizeServiceDeps = {
  settings: Pick<Settings, "location" | "allowedVmSizes" | "quotaVcpusPerFamily">;
  arm: ArmClients;
  instances: InstanceStore<InstanceRecord>;
};

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

export function createSizeService(deps: SizeServiceDeps) {
  const { settings, arm, instances } = deps;
  const cache = new TtlCache<string, SizeCatalog>(CATALOG_TTL_MS, () => Date.now());

  async function catalog(): Promise<SizeCatalog> {
    const key = `${settings.location}|${settings.allowedVmSizes.join(",")}`;
    return cache.getOrLoad(key, async () => {
      const skus = await listVmSkus(arm);
      return buildSizeCatalog(skus.map((s) => asResourceSku(s, settings.location)), settings.allowedVmSizes, settings.location);
    });
  }

  /**
   * The catalog entry of an allowed size; a 409 SkuNotAvailable when Azure restricts it for this
   * subscription (ARM would refuse the VM PUT with that code), a 400 naming vmSize when the region
   * does not offer it at all.
   */
  async function sizeInfo(vmSize: string): Promise<VmSizeInfo> {
    const all = await catalog();
    const info = findSize(all, vmSize);
    if (info) return info;
    const entry = all.unavailable.find((u) => u.name.toLowerCase() === vmSize.toLowerCase());
    if (entry?.restricted) {
      const message = `vmSize: ${entry.name} is restricted for this subscription in ${settings.location} (${entry.reason}); choose another size.`;
      throw new AppError("SkuNotAvailable", message, 409, { target: "vmSize", details: [{ code: entry.reason, target: "vmSize", message }] });
    }
    const why = entry?.reason ?? "not offered";
    throw ValidationError.field("vmSize", `is allowed by policy but not available in ${settings.location} (${why})`, "VmSizeNotAvailable");
  }

  async function providerUsages(): Promise<ProviderUsage[]> {
    const usages = await listVmUsages(arm);
    return usages.map((u) => ({ name: { value: u.family, localizedValue: u.name }, currentValue: u.currentValue, limit: u.limit }));
  }

  async function workspaceInstances(): Promise<InstanceRecord[]> {
    return (await instances.listAll()).map((s) => s.record);
  }

  /** QuotaExceeded (409) when `vCpus` more of `family` would pass the workspace policy or the subscription's limit. */
  async function assertQuota(req: { name: string; family: string; vCpus: number }): Promise<void> {
    const [inUse, usages] = await Promise.all([workspaceInstances(), providerUsages()]);
    const result = checkQuota({
      family: req.family,
      vCpus: req.vCpus,
      workspaceUsed: workspaceUsage(inUse, req.name),
      workspaceLimits: settings.quotaVcpusPerFamily,
      providerUsages: usages,
    });
    if (!result.ok) throw result.error;
  }

  return { catalog, sizeInfo, providerUsages, workspaceInstances, assertQuota };
}

export type SizeService = ReturnType<typeof createSizeService>;
