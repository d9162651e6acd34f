// GET /api/audit[?instance=&user=&from=&to=] and GET /api/audit/{id}: the audit trail, newest
// first, paged like the other lists (top + signed continuation tokens). Admins and readers see
// every entry, users the entries of their instances. A daily timer deletes entries older than
// AUDIT_RETENTION_DAYS.
import { app, type InvocationContext } from "@azure/functions";
import { NotFoundError, ValidationError } from "../shared/errors";
import { assertAuthorized, listScope } from "../shared/rbac";
import { listAuditQuery } from "../shared/schemas/audit";
import { logger } from "../shared/telemetry/log";
import { parseWith } from "../shared/validation";
import { apiRoute } from "./http/api";
import { ROUTES } from "../shared/api/routes";
import { getSettings, stores } from "../services/root";

apiRoute(ROUTES.listAudit, async ({ principal, req }) => {
  assertAuthorized(principal, "audit:read");
  const q = req.query;
  const token = q.get("continuationToken") ?? undefined;
  const topText = q.get("top") ?? q.get("$top");
  const top = topText === null ? 100 : Number(topText);
  if (!Number.isInteger(top) || top < 1 || top > 1000) throw ValidationError.field("top", "must be an integer 1..1000");
  const filters: Record<string, string> = {};
  for (const [k, v] of q.entries()) if (k !== "continuationToken" && k !== "top" && k !== "$top") filters[k] = v;
  const parsed = parseWith(listAuditQuery, filters);
  if (!parsed.ok) throw parsed.error;
  const { instance, user, from, to } = parsed.value;
  if (from && to && Date.parse(from) > Date.parse(to)) throw ValidationError.field("from", "must not be after `to`");
  const page = await stores().audit.list({
    ...(instance ? { instance: instance.toLowerCase() } : {}),
    ...(user ? { actor: user } : {}),
    ...listScope(principal),
    ...(from ? { from } : {}),
    ...(to ? { to } : {}),
    pageSize: top,
    ...(token ? { continuationToken: token } : {}),
  });
  const body: { value: unknown[]; nextLink?: string } = { value: page.items.map((i) => i.record) };
  if (page.continuationToken) {
    const next = new URL(req.url);
    next.searchParams.set("continuationToken", page.continuationToken);
    body.nextLink = next.toString();
  }
  return { status: 200, body };
});

apiRoute(ROUTES.getAuditEntry, async ({ principal, params }) => {
  const id = params.id ?? "";
  const entry = /^\d{13}-[a-z0-9-]{1,80}$/.test(id) ? await stores().audit.get(id) : undefined;
  if (!entry) throw NotFoundError.resource("Audit entry", id);
  assertAuthorized(principal, "audit:read");
  // As for instances: an entry of another user's instance is a 404, not a 403.
  const scope = listScope(principal).assignedUser;
  if (scope !== undefined && scope !== entry.assignedUser) throw NotFoundError.resource("Audit entry", id);
  return { status: 200, body: entry };
});

export async function purgeAudit(_timer: unknown, ctx: InvocationContext): Promise<void> {
  const days = getSettings().auditRetentionDays;
  const before = new Date(Date.now() - days * 86_400_000).toISOString();
  const removed = await stores().audit.purge(before);
  if (removed > 0) logger(ctx).info(`audit: deleted ${removed} entries older than ${days} days`, { removed, before });
}

// Daily, at an odd minute so it does not meet the hour's schedules.
app.timer("auditRetention", { schedule: "0 17 3 * * *", handler: purgeAudit });
