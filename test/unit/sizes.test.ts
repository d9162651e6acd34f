import { describe, expect, it } from "vitest";
import { TtlCache } from "../../shared/cache";
import { buildSizeCatalog, findSize, type ResourceSkuLike } from "../../shared/sizes";

const sku = (name: string, family: string, caps: Record<string, string>, extra: Partial<ResourceSkuLike> = {}): ResourceSkuLike => ({
  resourceType: "virtualMachines",
  name,
  family,
  locations: ["westeurope"],
  capabilities: Object.entries(caps).map(([n, value]) => ({ name: n, value })),
  restrictions: [],
  ...extra,
});

const skus: ResourceSkuLike[] = [
  sku("Standard_D4s_v5", "standardDSv5Family", { vCPUs: "4", MemoryGB: "16" }),
  sku("Standard_NC4as_T4_v3", "standardNCASv3_T4Family", { vCPUs: "4", GPUs: "1", MemoryGB: "28" }),
  sku("Standard_NC4as_T4_v3", "standardNCASv3_T4Family", { vCPUs: "4", GPUs: "1", MemoryGB: "28" }, { locations: ["eastus"] }),
  sku("Standard_E4s_v5", "standardESv5Family", { vCPUs: "4", MemoryGB: "32" }, {
    restrictions: [{ type: "Location", values: ["westeurope"], reasonCode: "NotAvailableForSubscription" }],
  }),
  sku("Standard_M128", "standardMFamily", { vCPUs: "128", MemoryGB: "2048" }),
  { resourceType: "disks", name: "Premium_LRS", locations: ["westeurope"] },
];

describe("size catalog", () => {
  const catalog = buildSizeCatalog(skus, ["Standard_NC4as_T4_v3", "standard_d4s_v5", "Standard_E4s_v5", "Standard_D2s_v5"], "West Europe");

  it("keeps allowed sizes offered in the location, in policy order", () => {
    expect(catalog.sizes).toEqual([
      { name: "Standard_NC4as_T4_v3", family: "standardNCASv3_T4Family", vCpus: 4, gpus: 1, memoryGb: 28 },
      { name: "Standard_D4s_v5", family: "standardDSv5Family", vCpus: 4, gpus: 0, memoryGb: 16 },
    ]);
  });

  it("explains allowed sizes that are not available", () => {
    expect(catalog.unavailable).toEqual([
      { name: "Standard_E4s_v5", reason: "NotAvailableForSubscription", restricted: true },
      { name: "Standard_D2s_v5", reason: "not offered in West Europe" },
    ]);
  });

  it("finds sizes case-insensitively", () => {
    expect(findSize(catalog, "STANDARD_NC4AS_T4_V3")?.gpus).toBe(1);
    expect(findSize(catalog, "Standard_M128")).toBeUndefined();
  });
});

describe("TTL cache", () => {
  it("expires by the injected clock and shares concurrent loads", async () => {
    let now = 0;
    const cache = new TtlCache<string, number>(1000, () => now);
    let loads = 0;
    const load = async () => ++loads;
    const [a, b] = await Promise.all([cache.getOrLoad("k", load), cache.getOrLoad("k", load)]);
    expect([a, b, loads]).toEqual([1, 1, 1]);
    now = 999;
    expect(await cache.getOrLoad("k", load)).toBe(1);
    now = 1000;
    expect(cache.get("k")).toBeUndefined();
    expect(await cache.getOrLoad("k", load)).toBe(2);
  });

  it("does not cache failures and evicts beyond its size", async () => {
    const cache = new TtlCache<string, number>(1000, () => 0, 2);
    await expect(cache.getOrLoad("k", async () => Promise.reject(new Error("boom")))).rejects.toThrow("boom");
    expect(await cache.getOrLoad("k", async () => 5)).toBe(5);
    cache.set("a", 1);
    cache.set("b", 2);
    expect(cache.get("k")).toBeUndefined();
    expect(cache.get("b")).toBe(2);
  });
});
