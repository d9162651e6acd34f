// HTTP API: instances (api.md "Instances"). Triggers only: validate, authorize, check quota,
// write the record, start the orchestration, answer. Reading is not activity.
import { createHash, randomUUID } from "node:crypto";
import type { HttpRequest } from "@azure/functions";
import * as df from "durable-functions";
import { ConflictError, NotFoundError, PreconditionFailedError, ValidationError } from "../shared/errors";
import { newId, orchestrationIds } from "../shared/ids";
import type { InstanceRecord } from "../shared/instances/record";
import { validateCreateInstance, validatePatchInstance } from "../shared/instances/validate";
import { assertAuthorized, listScope, type Action, type Principal } from "../shared/rbac";
import { INSTANCE_NAME_PATTERN } from "../shared/schemas/common";
import { listInstancesQuery } from "../shared/schemas/instance";
import type { Stored } from "../shared/store/recordTable";
import { parseWith } from "../shared/validation";
import { ORCHESTRATIONS, type OperationRecord } from "../orchestrations/instances/types";
import { ORCHESTRATIONS as JOB_ORCHESTRATIONS } from "../orchestrations/jobs/types";
import { PAGE_SIZE, ROUTES } from "../shared/api/routes";
import { traceField } from "../shared/telemetry/tracing";
import { accepted, apiRoute, idempotencyKey, ifMatch, operationHeaders, type ApiRequest, type ApiResult } from "./http/api";
import { recordActivity } from "./instanceActivity";
import { beginInstanceOperation, lifecycleInput, operationAuditEntry, type LifecycleOperation } from "./instanceOperations";
import { instanceStores } from "./instanceStores";
import { toInstanceResponse } from "./instanceView";
import { toOperationResponse } from "./operations";
import { getSettings } from "./runtime";
import { assertQuota, sizeInfo } from "./sizeCatalog";

const durable = [df.input.durableClient()];

function view(rec: InstanceRecord) {
  return toInstanceResponse(rec, new Date(), getSettings());
}

function withEtag(status: number, stored: Stored<InstanceRecord>, extra: Record<string, string> = {}): ApiResult {
  return { status, body: view(stored.record), headers: { ETag: stored.etag, ...extra } };
}

/** The instance the caller may see, or 404 (also for another user's instance). */
export async function loadInstance(principal: Principal, name: string | undefined, action: Action): Promise<Stored<InstanceRecord>> {
  if (!name || !INSTANCE_NAME_PATTERN.test(name)) throw NotFoundError.resource("Instance", name ?? "");
  const got = await instanceStores().instances.get(name);
  if (!got) throw NotFoundError.resource("Instance", name);
  assertAuthorized(principal, action, { instance: { name: got.record.name, assignedUser: got.record.assignedUser } });
  return got;
}

function checkIfMatch(req: HttpRequest, etag: string | undefined): void {
  const wanted = ifMatch(req);
  if (wanted !== undefined && wanted !== etag) throw new PreconditionFailedError();
}

function stableJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(stableJson).join(",")}]`;
  if (value && typeof value === "object") {
    const entries = Object.entries(value as Record<string, unknown>).filter(([, v]) => v !== undefined).sort(([a], [b]) => (a < b ? -1 : 1));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${stableJson(v)}`).join(",")}}`;
  }
  return JSON.stringify(value);
}

/** PUT of an existing name: the same request again is 200 with the instance; anything else 409. */
function repeatOrConflict(existing: Stored<InstanceRecord>, hash: string, principal: Principal): ApiResult {
  if (existing.record.requestHash === hash) {
    assertAuthorized(principal, "instance:read", { instance: existing.record });
    return withEtag(200, existing);
  }
  throw new ConflictError(`An instance named '${existing.record.name}' already exists with different settings; PATCH it or choose another name.`, {
    retryable: false,
    target: "name",
  });
}

async function create(r: ApiRequest): Promise<ApiResult> {
  const settings = getSettings();
  const v = validateCreateInstance(r.params.name, r.body, settings);
  if (!v.ok) throw v.error;
  const req = v.value;
  const assignedUser = req.assignedUser ?? r.principal.userId;
  assertAuthorized(r.principal, "instance:create", { assignedUser });
  const hash = createHash("sha256").update(stableJson({ ...req, name: req.name.toLowerCase(), assignedUser })).digest("hex");
  const { instances, operations, audit } = instanceStores();

  const existing = await instances.get(req.name);
  if (existing) {
    checkIfMatch(r.req, existing.etag);
    return repeatOrConflict(existing, hash, r.principal);
  }
  if (ifMatch(r.req) !== undefined) throw new PreconditionFailedError("The instance does not exist (If-Match).");
  const size = await sizeInfo(req.vmSize);
  await assertQuota({ name: req.name, family: size.family, vCpus: size.vCpus });

  const now = new Date().toISOString();
  const operationId = newId();
  const record: InstanceRecord = {
    name: req.name,
    instanceId: randomUUID(),
    state: "Creating",
    vmSize: size.name,
    family: size.family,
    vCpus: size.vCpus,
    gpus: size.gpus,
    memoryGb: size.memoryGb,
    assignedUser,
    createdBy: r.principal.userId,
    createdAt: now,
    updatedAt: now,
    ...(req.description !== undefined ? { description: req.description } : {}),
    sshPublicAccess: req.sshPublicAccess,
    ...(req.sshPublicKey !== undefined ? { sshPublicKey: req.sshPublicKey } : {}),
    subnetId: req.subnetId,
    enablePublicIp: req.enablePublicIp,
    idleShutdownMinutes: req.idleShutdownMinutes,
    schedules: req.schedules,
    ...(req.setupScripts ? { setupScripts: req.setupScripts } : {}),
    jobsPerCore: req.jobsPerCore,
    tags: req.tags,
    jobs: { queued: 0, running: 0, cap: req.jobsPerCore * size.vCpus },
    lastOperation: { id: operationId, name: "create", status: "Running", startedAt: now },
    requestHash: hash,
  };
  let stored: Stored<InstanceRecord>;
  try {
    stored = await instances.create(record);
  } catch (err) {
    if (!(err instanceof ConflictError)) throw err;
    const raced = await instances.get(req.name);
    if (!raced) throw err;
    return repeatOrConflict(raced, hash, r.principal);
  }
  const op: OperationRecord = {
    id: operationId, name: "create", instance: req.name, instanceId: record.instanceId, status: "Running", startedAt: now, steps: [],
    requestedBy: r.principal.userId, assignedUser,
  };
  const entry = operationAuditEntry(op, r.principal.userId, "instance.create");
  try {
    await operations.create(op);
    await audit.record(entry);
    await df.getClient(r.ctx).startNew(ORCHESTRATIONS.provision, {
      instanceId: orchestrationIds.provision(settings.workspaceName, req.name),
      input: lifecycleInput(req.name, operationId, r.principal.userId),
    });
  } catch (err) {
    // Nothing was provisioned: leave no record behind.
    await instances.delete(req.name).catch(() => undefined);
    await operations.delete(operationId).catch(() => undefined);
    await audit.finish(entry.id, { result: "Failed", endedAt: new Date().toISOString(), error: { code: "NotStarted", message: "the operation could not be started" } }).catch(() => undefined);
    throw err;
  }
  return withEtag(201, stored, { ...operationHeaders(r.req, operationId), Location: new URL(`/api/instances/${encodeURIComponent(req.name)}`, r.req.url).toString() });
}

/** Attempts of a PATCH without If-Match when background writes (job counts, activity) change the record meanwhile. */
const PATCH_ATTEMPTS = 5;

async function patch(r: ApiRequest): Promise<ApiResult> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await patchOnce(r);
    } catch (err) {
      // With If-Match the caller asked for exactly that version: a 412 is the answer. Without it,
      // a write by the platform in between (the job queue's counts) is no reason to refuse.
      if (!(err instanceof PreconditionFailedError) || ifMatch(r.req) !== undefined || attempt >= PATCH_ATTEMPTS) throw err;
    }
  }
}

async function patchOnce(r: ApiRequest): Promise<ApiResult> {
  const got = await loadInstance(r.principal, r.params.name, "instance:update");
  checkIfMatch(r.req, got.etag);
  const rec = got.record;
  const v = validatePatchInstance(
    r.body ?? {},
    { vmSize: rec.vmSize, assignedUser: rec.assignedUser, sshPublicAccess: rec.sshPublicAccess, subnetId: rec.subnetId, enablePublicIp: rec.enablePublicIp, setupScripts: rec.setupScripts },
    getSettings(),
  );
  if (!v.ok) throw v.error;
  const p = v.value;
  const next: InstanceRecord = { ...rec, updatedAt: new Date().toISOString() };
  if (p.description !== undefined) next.description = p.description;
  if (p.idleShutdownMinutes !== undefined) next.idleShutdownMinutes = p.idleShutdownMinutes;
  if (p.schedules !== undefined) next.schedules = p.schedules;
  if (p.tags !== undefined) next.tags = p.tags;
  if (p.sshPublicKey !== undefined) next.sshPublicKey = p.sshPublicKey;
  if (p.jobsPerCore !== undefined) {
    next.jobsPerCore = p.jobsPerCore;
    next.jobs = { ...rec.jobs, cap: p.jobsPerCore * rec.vCpus };
  }
  // The stored ETag (or the caller's If-Match, equal to it) makes a concurrent write a 412.
  const stored = await instanceStores().instances.update(next, got.etag);
  if (p.jobsPerCore !== undefined && p.jobsPerCore !== rec.jobsPerCore) {
    // The job queue takes the new cap (and starts what now fits); a queue not made yet reads it when it is.
    await df.getClient(r.ctx).startNew(JOB_ORCHESTRATIONS.reconfigureQueue, { input: { instance: rec.name, ...traceField() } });
  }
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
  const page = await instanceStores().instances.list({
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
  const key = r.req.method === "POST" ? idempotencyKey(r.req) : undefined;
  const { idempotency } = instanceStores();
  // Keyed by the incarnation, not the name: a key used on an earlier instance of this name
  // must not replay that instance's operation.
  const scope = `instances:${r.principal.userId}:${got.record.instanceId ?? got.record.name.toLowerCase()}:${operation}`;
  if (key) {
    const seen = await idempotency.get(scope, key);
    if (seen) return seen.record.result;
  }
  const op = await beginInstanceOperation({
    name: got.record.name,
    operation,
    requestedBy: r.principal.userId,
    client: df.getClient(r.ctx),
    ...(ifMatch(r.req) !== undefined ? { ifMatch: ifMatch(r.req) } : {}),
  });
  if (operation === "start") await recordActivity(got.record.name).catch(() => undefined);
  const result = accepted(r.req, op.id, toOperationResponse(op));
  if (key) {
    const remembered = await idempotency.remember(scope, key, { status: result.status, body: result.body, headers: result.headers ?? {} });
    return remembered.result;
  }
  return result;
}

apiRoute(ROUTES.listInstances, list);
apiRoute(ROUTES.createInstance, create, { extraInputs: durable, audit: { action: "instance.create", startsOperation: true } });
apiRoute(ROUTES.updateInstance, patch, { extraInputs: durable, audit: { action: "instance.update" } });
apiRoute(ROUTES.getInstance, async (r) => withEtag(200, await loadInstance(r.principal, r.params.name, "instance:read")));
apiRoute(ROUTES.deleteInstance, (r) => lifecycle(r, "delete"), { extraInputs: durable, audit: { action: "instance.delete", startsOperation: true } });
apiRoute(ROUTES.startInstance, (r) => lifecycle(r, "start"), { extraInputs: durable, audit: { action: "instance.start", startsOperation: true } });
apiRoute(ROUTES.stopInstance, (r) => lifecycle(r, "stop"), { extraInputs: durable, audit: { action: "instance.stop", startsOperation: true } });
apiRoute(ROUTES.restartInstance, (r) => lifecycle(r, "restart"), { extraInputs: durable, audit: { action: "instance.restart", startsOperation: true } });
