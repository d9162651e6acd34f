// GET /api/sizes: the VM sizes the workspace policy allows (from the provider's SKU list,
// cached), the create policy a form needs, and, per family, the vCPUs in use against the tighter of policy and subscription limits.
import { assertAuthorized } from "../shared/rbac";
import { quotaSummary, workspaceUsage } from "../shared/policies/quota";
import { IDLE_SHUTDOWN_LIMIT_MINUTES } from "../shared/schemas/instance";
import type { SizesResponse } from "../shared/schemas/sizes";
import { ROUTES } from "../shared/api/routes";
import { apiRoute } from "./http/api";
import { getSettings, services } from "../services/root";

apiRoute(ROUTES.listSizes, async (r) => {
  assertAuthorized(r.principal, "sizes:read");
  const { sizes } = services();
  const [catalog, instances, usages] = await Promise.all([sizes.catalog(), sizes.workspaceInstances(), sizes.providerUsages()]);
  const settings = getSettings();
  const body: SizesResponse = {
    value: catalog.sizes,
    quota: quotaSummary(
      catalog.sizes.map((s) => s.family),
      workspaceUsage(instances),
      settings.quotaVcpusPerFamily,
      usages,
    ),
    policy: {
      sshPublicAccess: settings.allowSshPublicAccess,
      publicIp: settings.allowPublicIp,
      subnetIds: settings.allowedSubnetIds,
      idleShutdownMinMinutes: settings.idleShutdownMinMinutes,
      idleShutdownMaxMinutes: IDLE_SHUTDOWN_LIMIT_MINUTES,
    },
  };
  return { status: 200, body };
});
