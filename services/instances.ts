// The instance service: create and update an instance's record and start what follows (the
// provision orchestration, the job queue's reconfiguration). Triggers parse the request,
// authorize what they can before reading anything, call one of these, and turn the answer into
// HTTP; the answers here are records, never responses.
import { createHash, randomUUID } from "node:crypto";
import { ConflictError, NotFoundError, PreconditionFailedError } from "../shared/errors";
import { newId, orchestrationIds } from "../shared/ids";
import { traceField } from "../shared/telemetry/tracing";
import type { InstanceRecord } from "../shared/instances/record";
import { validatePatchInstance, type CreateInstanceRequest, type InstancePolicySettings } from "../shared/instances/validate";
import { assertAuthorized, type Action, type Principal } from "../shared/rbac";
import { INSTANCE_NAME_PATTERN } from "../shared/schemas/common";
import type { Settings } from "../shared/settings";
import type { Stored } from "../shared/store/recordTable";
import { ORCHESTRATIONS, type OperationRecord } from "../orchestrations/instances/types";
import { ORCHESTRATIONS as JOB_ORCHESTRATIONS } from "../orchestrations/jobs/types";
import { lifecycleInput, operationAuditEntry } from "./instanceOperations";
import type { Stores } from "./root";
import type { SizeService } from "./sizes";
import { withDeps } from "./withDeps";

/** Starting orchestrations: what the service needs of the invocation's DurableClient (which has it). */
export type OrchestrationStarter = { startNew(name: string, options: { instanceId?: string; input?: unknown }): Promise<string> };

export type InstanceServiceDeps = {
  settings: Pick<Settings, "workspaceName"> & InstancePolicySettings;
  stores: Pick<Stores, "instances" | "operations" | "audit">;
  sizes: Pick<SizeService, "sizeInfo" | "assertQuota">;
};

/** Attempts of a PATCH without If-Match when background writes (job counts, activity) change the record meanwhile. */
const PATCH_ATTEMPTS = 5;

function stableJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(stableJson).join(",")}]`;
  if (value && typeof value === "object") {
    const entries = Object.entries(value as Record<string, unknown>).filter(([, v]) => v !== undefined).sort(([a], [b]) => (a < b ? -1 : 1));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${stableJson(v)}`).join(",")}}`;
  }
  return JSON.stringify(value);
}

/** The instance the caller may see, or 404 (also for another user's instance). */
async function instanceFor(deps: InstanceServiceDeps, principal: Principal, name: string | undefined, action: Action): Promise<Stored<InstanceRecord>> {
  const { instances } = deps.stores;
  if (!name || !INSTANCE_NAME_PATTERN.test(name)) throw NotFoundError.resource("Instance", name ?? "");
  const got = await instances.get(name);
  if (!got) throw NotFoundError.resource("Instance", name);
  assertAuthorized(principal, action, { instance: { name: got.record.name, assignedUser: got.record.assignedUser } });
  return got;
}

/** PUT of an existing name: the same request again is the instance as it is; anything else 409. */
function repeatOrConflict(deps: InstanceServiceDeps, existing: Stored<InstanceRecord>, hash: string, principal: Principal): { created: false; stored: Stored<InstanceRecord> } {
  if (existing.record.requestHash === hash) {
    assertAuthorized(principal, "instance:read", { instance: existing.record });
    return { created: false, stored: existing };
  }
  throw new ConflictError(`An instance named '${existing.record.name}' already exists with different settings; PATCH it or choose another name.`, {
    retryable: false,
    target: "name",
  });
}

/**
 * Writes the Creating record and its operation, and starts the provision orchestration; a
 * repeat of the same request answers the instance as it is (`created: false`). Nothing is left
 * behind when the orchestration cannot be started.
 */
async function createInstance(deps: InstanceServiceDeps, c: {
  request: CreateInstanceRequest;
  assignedUser: string;
  principal: Principal;
  /** The caller's If-Match, if any (a create has nothing to match: 412). */
  ifMatch: string | undefined;
  orchestrations: OrchestrationStarter;
}): Promise<{ created: true; stored: Stored<InstanceRecord>; operationId: string } | { created: false; stored: Stored<InstanceRecord> }> {
  const { instances, operations, audit } = deps.stores;
  const req = c.request;
  const hash = createHash("sha256").update(stableJson({ ...req, name: req.name.toLowerCase(), assignedUser: c.assignedUser })).digest("hex");
  const existing = await instances.get(req.name);
  if (existing) {
    if (c.ifMatch !== undefined && c.ifMatch !== existing.etag) throw new PreconditionFailedError();
    return repeatOrConflict(deps, existing, hash, c.principal);
  }
  if (c.ifMatch !== undefined) throw new PreconditionFailedError("The instance does not exist (If-Match).");
  const size = await deps.sizes.sizeInfo(req.vmSize);
  await deps.sizes.assertQuota({ name: req.name, family: size.family, vCpus: size.vCpus });

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
    assignedUser: c.assignedUser,
    createdBy: c.principal.userId,
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
    return repeatOrConflict(deps, raced, hash, c.principal);
  }
  const op: OperationRecord = {
    id: operationId, name: "create", instance: req.name, instanceId: record.instanceId, status: "Running", startedAt: now, steps: [],
    requestedBy: c.principal.userId, assignedUser: c.assignedUser,
  };
  const entry = operationAuditEntry(op, c.principal.userId, "instance.create");
  try {
    await operations.create(op);
    await audit.record(entry);
    await c.orchestrations.startNew(ORCHESTRATIONS.provision, {
      instanceId: orchestrationIds.provision(deps.settings.workspaceName, req.name),
      input: lifecycleInput(req.name, operationId, c.principal.userId),
    });
  } catch (err) {
    // Nothing was provisioned: leave no record behind.
    await instances.delete(req.name).catch(() => undefined);
    await operations.delete(operationId).catch(() => undefined);
    await audit.finish(entry.id, { result: "Failed", endedAt: new Date().toISOString(), error: { code: "NotStarted", message: "the operation could not be started" } }).catch(() => undefined);
    throw err;
  }
  return { created: true, stored, operationId };
}

type Update = { principal: Principal; name: string | undefined; body: unknown; ifMatch: string | undefined; orchestrations: OrchestrationStarter };

/** PATCH: the changeable settings; a new jobs-per-core reaches the job queue. */
async function updateInstance(deps: InstanceServiceDeps, u: Update): Promise<Stored<InstanceRecord>> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await updateOnce(deps, u);
    } catch (err) {
      // With If-Match the caller asked for exactly that version: a 412 is the answer. Without it,
      // a write by the platform in between (the job queue's counts) is no reason to refuse.
      if (!(err instanceof PreconditionFailedError) || u.ifMatch !== undefined || attempt >= PATCH_ATTEMPTS) throw err;
    }
  }
}

async function updateOnce(deps: InstanceServiceDeps, u: Update): Promise<Stored<InstanceRecord>> {
  const { instances } = deps.stores;
  const got = await instanceFor(deps, u.principal, u.name, "instance:update");
  if (u.ifMatch !== undefined && u.ifMatch !== got.etag) throw new PreconditionFailedError();
  const rec = got.record;
  const v = validatePatchInstance(
    u.body ?? {},
    { vmSize: rec.vmSize, assignedUser: rec.assignedUser, sshPublicAccess: rec.sshPublicAccess, subnetId: rec.subnetId, enablePublicIp: rec.enablePublicIp, setupScripts: rec.setupScripts },
    deps.settings,
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
  const stored = await instances.update(next, got.etag);
  if (p.jobsPerCore !== undefined && p.jobsPerCore !== rec.jobsPerCore) {
    // The job queue takes the new cap (and starts what now fits); a queue not made yet reads it when it is.
    await u.orchestrations.startNew(JOB_ORCHESTRATIONS.reconfigureQueue, { input: { instance: rec.name, ...traceField() } });
  }
  return stored;
}

/** The instance service over its dependencies (wired once, in services/root.ts). */
export function createInstanceService(deps: InstanceServiceDeps) {
  return withDeps(deps, { instanceFor, createInstance, updateInstance });
}

export type InstanceService = ReturnType<typeof createInstanceService>;
