// GET /api/sizes: the VM sizes the workspace policy allows (from the provider's SKU list,
// cached) and, per family, the vCPUs in use against the tighter of policy and subscription limits.
import { assertAuthorized } from "../shared/rbac";
import { quotaSummary, workspaceUsage } from "../shared/policies/quota";
import type { SizesResponse } from "../shared/schemas/sizes";
import { ROUTES } from "../shared/api/routes";
import { apiRoute } from "./http/api";
import { getSettings } from "./runtime";
import { getSizeCatalog, providerUsages, workspaceInstances } from "./sizeCatalog";

apiRoute(ROUTES.listSizes, async (r) => {
  assertAuthorized(r.principal, "sizes:read");
  const [catalog, instances, usages] = await Promise.all([getSizeCatalog(), workspaceInstances(), providerUsages()]);
  const body: SizesResponse = {
    value: catalog.sizes,
    quota: quotaSummary(
      catalog.sizes.map((s) => s.family),
      workspaceUsage(instances),
      getSettings().quotaVcpusPerFamily,
      usages,
    ),
  };
  return { status: 200, body };
});
