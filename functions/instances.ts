// HTTP API: instances (api.md "Instances"). Triggers only: parse, authorize, call the instance
// service (services/instances.ts) or start an operation, answer. Reading is not activity.
import * as df from "durable-functions";
import { ValidationError } from "../shared/errors";
import type { InstanceRecord } from "../shared/instances/record";
import { validateCreateInstance } from "../shared/instances/validate";
import { assertAuthorized, listScope, type Action, type Principal } from "../shared/rbac";
import { listInstancesQuery } from "../shared/schemas/instance";
import type { Stored } from "../shared/store/recordTable";
import { parseWith } from "../shared/validation";
import { PAGE_SIZE, ROUTES } from "../shared/api/routes";
import { accepted, apiRoute, idempotencyKey, ifMatch, operationHeaders, type ApiRequest, type ApiResult } from "./http/api";
import type { LifecycleOperation } from "../services/instanceOperations";
import { toInstanceResponse } from "./instanceView";
import { toOperationResponse } from "./operations";
import { getSettings, services, stores } from "../services/root";

const durable = [df.input.durableClient()];

function view(rec: InstanceRecord) {
  return toInstanceResponse(rec, new Date(), getSettings());
}

function withEtag(status: number, stored: Stored<InstanceRecord>, extra: Record<string, string> = {}): ApiResult {
  return { status, body: view(stored.record), headers: { ETag: stored.etag, ...extra } };
}

/** The instance the caller may see, or 404 (also for another user's instance). */
export function loadInstance(principal: Principal, name: string | undefined, action: Action): Promise<Stored<InstanceRecord>> {
  return services().instances.instanceFor(principal, name, action);
}

async function create(r: ApiRequest): Promise<ApiResult> {
  const v = validateCreateInstance(r.params.name, r.body, getSettings());
  if (!v.ok) throw v.error;
  const assignedUser = v.value.assignedUser ?? r.principal.userId;
  assertAuthorized(r.principal, "instance:create", { assignedUser });
  const out = await services().instances.createInstance({ request: v.value, assignedUser, principal: r.principal, ifMatch: ifMatch(r.req), orchestrations: df.getClient(r.ctx) });
  if (!out.created) return withEtag(200, out.stored);
  const name = out.stored.record.name;
  return withEtag(201, out.stored, { ...operationHeaders(r.req, out.operationId), Location: new URL(`/api/instances/${encodeURIComponent(name)}`, r.req.url).toString() });
}

async function patch(r: ApiRequest): Promise<ApiResult> {
  const stored = await services().instances.updateInstance({ principal: r.principal, name: r.params.name, body: r.body, ifMatch: ifMatch(r.req), orchestrations: df.getClient(r.ctx) });
  return withEtag(200, stored);
}

async function list(r: ApiRequest): Promise<ApiResult> {
  const q = r.req.query;
  const token = q.get("continuationToken") ?? undefined;
  const topText = q.get("top") ?? q.get("$top");
  const top = topText === null ? PAGE_SIZE.default : Number(topText);
  if (!Number.isInteger(top) || top < 1 || top > PAGE_SIZE.max) throw ValidationError.field("top", `must be an integer 1..${PAGE_SIZE.max}`);
  const filters: Record<string, string> = {};
  for (const [k, val] of q.entries()) if (k !== "continuationToken" && k !== "top" && k !== "$top") filters[k] = val;
  const parsed = parseWith(listInstancesQuery, filters);
  if (!parsed.ok) throw parsed.error;
  const scope = listScope(r.principal);
  const assignedUser = scope.assignedUser ?? parsed.value.assignedUser;
  if (scope.assignedUser && parsed.value.assignedUser && parsed.value.assignedUser !== scope.assignedUser) return { status: 200, body: { value: [] } };
  const page = await stores().instances.list({
    filter: { ...(parsed.value.state ? { state: parsed.value.state } : {}), ...(assignedUser ? { assignedUser } : {}) },
    pageSize: top,
    ...(token ? { continuationToken: token } : {}),
  });
  const body: { value: unknown[]; nextLink?: string } = { value: page.items.map((s) => view(s.record)) };
  if (page.continuationToken) {
    const next = new URL(r.req.url);
    next.searchParams.set("continuationToken", page.continuationToken);
    body.nextLink = next.toString();
  }
  return { status: 200, body };
}

async function lifecycle(r: ApiRequest, operation: LifecycleOperation): Promise<ApiResult> {
  const got = await loadInstance(r.principal, r.params.name, `instance:${operation}`);
  return services().operations.requestOperation({
    instance: got.record,
    operation,
    principal: r.principal,
    idempotencyKey: r.req.method === "POST" ? idempotencyKey(r.req) : undefined,
    ifMatch: ifMatch(r.req),
    orchestrations: df.getClient(r.ctx),
    answer: (op) => {
      const a = accepted(r.req, op.id, toOperationResponse(op));
      return { status: a.status, body: a.body, headers: a.headers ?? {} };
    },
  });
}

apiRoute(ROUTES.listInstances, list);
apiRoute(ROUTES.createInstance, create, { extraInputs: durable, audit: { action: "instance.create", startsOperation: true } });
apiRoute(ROUTES.updateInstance, patch, { extraInputs: durable, audit: { action: "instance.update" } });
apiRoute(ROUTES.getInstance, async (r) => withEtag(200, await loadInstance(r.principal, r.params.name, "instance:read")));
apiRoute(ROUTES.deleteInstance, (r) => lifecycle(r, "delete"), { extraInputs: durable, audit: { action: "instance.delete", startsOperation: true } });
apiRoute(ROUTES.startInstance, (r) => lifecycle(r, "start"), { extraInputs: durable, audit: { action: "instance.start", startsOperation: true } });
apiRoute(ROUTES.stopInstance, (r) => lifecycle(r, "stop"), { extraInputs: durable, audit: { action: "instance.stop", startsOperation: true } });
apiRoute(ROUTES.restartInstance, (r) => lifecycle(r, "restart"), { extraInputs: durable, audit: { action: "instance.restart", startsOperation: true } });
