import { QuotaExceededError } from "../errors";
import type { InstanceState } from "../instances/states";

// vCPU quota per VM family, checked at two levels before create or start:
//  - workspace policy (QUOTA_VCPUS_PER_FAMILY) against the vCPUs this workspace's instances hold;
//  - the subscription's regional limit, from the provider's usages (`usage.list`).
// Deallocated VMs hold no cores in Azure, so Stopped instances do not count.

/** ARM `Microsoft.Compute/locations/usages` item, as @azure/arm-compute returns it. */
export interface ProviderUsage {
  name?: { value?: string; localizedValue?: string };
  currentValue: number;
  limit: number;
  unit?: string;
}

export interface InstanceUsage {
  state: InstanceState;
  family: string;
  vCpus: number;
}

const NOT_HOLDING_CORES: readonly InstanceState[] = ["Stopped", "CreateFailed"];

export function holdsCores(state: InstanceState): boolean {
  return !NOT_HOLDING_CORES.includes(state);
}

/** vCPUs per family held by the workspace's instances (excluding `exceptName`, e.g. the one being started). */
export function workspaceUsage(instances: Iterable<InstanceUsage & { name?: string }>, exceptName?: string): Record<string, number> {
  const used: Record<string, number> = {};
  for (const i of instances) {
    if (!holdsCores(i.state)) continue;
    if (exceptName !== undefined && i.name?.toLowerCase() === exceptName.toLowerCase()) continue;
    used[i.family] = (used[i.family] ?? 0) + i.vCpus;
  }
  return used;
}

export interface QuotaRequest {
  family: string;
  vCpus: number;
  workspaceUsed: Record<string, number>;
  workspaceLimits: Record<string, number>;
  providerUsages?: readonly ProviderUsage[];
}

export type QuotaResult = { ok: true } | { ok: false; error: QuotaExceededError };

export function checkQuota(req: QuotaRequest): QuotaResult {
  const policyLimit = findCaseInsensitive(req.workspaceLimits, req.family);
  if (policyLimit !== undefined) {
    const used = findCaseInsensitive(req.workspaceUsed, req.family) ?? 0;
    if (used + req.vCpus > policyLimit) {
      return fail({ family: req.family, used, limit: policyLimit, requested: req.vCpus, scope: "workspace" });
    }
  }
  for (const usage of req.providerUsages ?? []) {
    const name = usage.name?.value;
    if (name === undefined) continue; // an unnamed usage limits nothing
    // "cores" is the regional total across families; the family entry is the family's limit.
    if (name.toLowerCase() === req.family.toLowerCase() || name.toLowerCase() === "cores") {
      if (usage.currentValue + req.vCpus > usage.limit) {
        return fail({
          family: name.toLowerCase() === "cores" ? "regional total (cores)" : req.family,
          used: usage.currentValue,
          limit: usage.limit,
          requested: req.vCpus,
          scope: "subscription",
        });
      }
    }
  }
  return { ok: true };
}

/** For GET /api/sizes: per family, what the workspace uses and the tighter of the two limits. */
export function quotaSummary(
  families: Iterable<string>,
  workspaceUsed: Record<string, number>,
  workspaceLimits: Record<string, number>,
  providerUsages: readonly ProviderUsage[] = [],
): { family: string; used: number; limit?: number }[] {
  const out: { family: string; used: number; limit?: number }[] = [];
  for (const family of new Set(families)) {
    const provider = providerUsages.find((u) => u.name?.value?.toLowerCase() === family.toLowerCase());
    const limits = [findCaseInsensitive(workspaceLimits, family), provider?.limit].filter((x): x is number => x !== undefined);
    const entry: { family: string; used: number; limit?: number } = { family, used: findCaseInsensitive(workspaceUsed, family) ?? 0 };
    if (limits.length > 0) entry.limit = Math.min(...limits);
    out.push(entry);
  }
  return out;
}

function fail(info: ConstructorParameters<typeof QuotaExceededError>[0]): QuotaResult {
  return { ok: false, error: new QuotaExceededError(info) };
}

function findCaseInsensitive(map: Record<string, number>, key: string): number | undefined {
  const lower = key.toLowerCase();
  for (const [k, v] of Object.entries(map)) if (k.toLowerCase() === lower) return v;
  return undefined;
}
