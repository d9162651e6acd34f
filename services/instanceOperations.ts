// Starting a lifecycle operation on an existing instance (start, stop, restart, delete), for
// the HTTP routes and the auto-stop timer alike: check the state machine, move the record
// into the busy state with its ETag (the concurrency gate: of two racing requests one gets
// 409/412), write the operation record, start the orchestration.
import { NotFoundError, PreconditionFailedError } from "../shared/errors";
import { newId, orchestrationIds } from "../shared/ids";
import type { InstanceRecord } from "../shared/instances/record";
import { canStart } from "../shared/instances/stateMachine";
import { DEFAULT_POLL, ORCHESTRATIONS, type LifecycleInput, type OperationRecord, type PollOptions } from "../orchestrations/instances/types";
import type { SizeService } from "./sizes";
import type { AuditEntry } from "../shared/schemas/audit";
import { operationAuditId } from "../shared/store/audit";
import { traceField } from "../shared/telemetry/tracing";
import type { Principal } from "../shared/rbac";
import type { ActivityService } from "./activity";
import type { OrchestrationStarter } from "./instances";
import type { RememberedResponse, Stores } from "./root";
import { withDeps } from "./withDeps";

export type LifecycleOperation = "start" | "stop" | "restart" | "delete";

export type BeginOptions = {
  name: string;
  operation: LifecycleOperation;
  requestedBy: string;
  client: OrchestrationStarter;
  /** Default: orchestrationIds[operation](name, operationId). The auto-stop timer passes its own. */
  orchestrationId?: string;
  reason?: string;
  /** Who, on the audit trail: default `requestedBy`; automatic actions name their system actor. */
  actor?: string;
  /** The caller's If-Match: the write fails with 412 unless the record still has this ETag. */
  ifMatch?: string;
};

/** Poll tuning for the monitor loops (optional knobs: INSTANCE_POLL_INITIAL_MS, INSTANCE_POLL_MAX_MS). */
export function pollOptions(env: NodeJS.ProcessEnv = process.env): PollOptions {
  const num = (v: string | undefined, d: number) => (v && /^\d+$/.test(v) ? Math.max(10, Number(v)) : d);
  return { initialMs: num(env.INSTANCE_POLL_INITIAL_MS, DEFAULT_POLL.initialMs), maxMs: num(env.INSTANCE_POLL_MAX_MS, DEFAULT_POLL.maxMs), factor: DEFAULT_POLL.factor };
}

export function lifecycleInput(name: string, operationId: string, requestedBy: string): LifecycleInput {
  return { instance: name.toLowerCase(), operationId, requestedBy, poll: pollOptions(), ...traceField() };
}

export type OperationServiceDeps = {
  stores: Pick<Stores, "instances" | "operations" | "audit" | "idempotency">;
  sizes: Pick<SizeService, "assertQuota">;
  activity: Pick<ActivityService, "recordActivity">;
};

async function beginInstanceOperation(deps: OperationServiceDeps, o: BeginOptions): Promise<OperationRecord> {
  const { instances, operations, audit } = deps.stores;
  const operationId = newId();
  const startedAt = new Date().toISOString();
  const orchestrationId = o.orchestrationId ?? orchestrationIds[o.operation](o.name, operationId);

  // Gate: move into the busy state. Without If-Match, a concurrent unrelated write (job
  // counters, activity) is re-read and the rules checked again.
  let previous: { record: InstanceRecord; etag: string } | undefined;
  let updated: { record: InstanceRecord; etag: string } | undefined;
  for (let attempt = 1; !updated; attempt++) {
    const got = await instances.get(o.name);
    if (!got) throw NotFoundError.resource("Instance", o.name);
    if (o.ifMatch !== undefined && o.ifMatch !== got.etag) throw new PreconditionFailedError();
    const decision = canStart(o.operation, got.record.state);
    if (!decision.ok) throw decision.error;
    if (o.operation === "start") await deps.sizes.assertQuota(got.record);
    const next: InstanceRecord = {
      ...got.record,
      state: decision.enters,
      updatedAt: startedAt,
      lastOperation: { id: operationId, name: o.operation, status: "Running", startedAt, orchestrationId },
    };
    try {
      updated = await instances.update(next, got.etag);
      previous = got;
    } catch (err) {
      if (!(err instanceof PreconditionFailedError) || o.ifMatch !== undefined || attempt >= 5) throw err;
    }
  }

  const op: OperationRecord = {
    id: operationId,
    name: o.operation,
    instance: updated.record.name,
    ...(updated.record.instanceId ? { instanceId: updated.record.instanceId } : {}),
    status: "Running",
    startedAt,
    steps: [],
    requestedBy: o.requestedBy,
    assignedUser: updated.record.assignedUser,
    ...(o.reason ? { reason: o.reason } : {}),
  };
  const entry = operationAuditEntry(op, o.actor ?? o.requestedBy, `instance.${o.operation}`);
  try {
    await operations.create(op);
    // On the trail before it starts: an operation never runs without its entry.
    await audit.record(entry);
    await o.client.startNew(ORCHESTRATIONS[o.operation], {
      instanceId: orchestrationId,
      input: lifecycleInput(o.name, operationId, o.requestedBy),
    });
  } catch (err) {
    // Nothing will run: give the instance its state back (only if nobody wrote since).
    await instances.update({ ...previous!.record, updatedAt: new Date().toISOString() }, updated.etag).catch(() => undefined);
    await operations.delete(operationId).catch(() => undefined);
    await audit.finish(entry.id, { result: "Failed", endedAt: new Date().toISOString(), error: { code: "NotStarted", message: "the operation could not be started" } }).catch(() => undefined);
    throw err;
  }
  return op;
}

/**
 * An operation a user asked for (its route authorized it on `instance`): an Idempotency-Key
 * replays the answer the first request got; otherwise the operation begins and `answer` says
 * what the caller is told (and what the key remembers).
 */
async function requestOperation(
  deps: OperationServiceDeps,
  r: {
    instance: InstanceRecord;
    operation: LifecycleOperation;
    principal: Principal;
    idempotencyKey: string | undefined;
    ifMatch: string | undefined;
    orchestrations: OrchestrationStarter;
    answer: (op: OperationRecord) => RememberedResponse;
  },
): Promise<RememberedResponse> {
  const { idempotency } = deps.stores;
  const key = r.idempotencyKey;
  // Keyed by the incarnation, not the name: a key used on an earlier instance of this name
  // must not replay that instance's operation.
  const scope = `instances:${r.principal.userId}:${r.instance.instanceId ?? r.instance.name.toLowerCase()}:${r.operation}`;
  if (key) {
    const seen = await idempotency.get(scope, key);
    if (seen) return seen.record.result;
  }
  const op = await beginInstanceOperation(deps, {
    name: r.instance.name,
    operation: r.operation,
    requestedBy: r.principal.userId,
    client: r.orchestrations,
    ...(r.ifMatch !== undefined ? { ifMatch: r.ifMatch } : {}),
  });
  if (r.operation === "start") await deps.activity.recordActivity(r.instance.name).catch(() => undefined);
  const result = r.answer(op);
  if (key) return (await idempotency.remember(scope, key, result)).result;
  return result;
}

/** The lifecycle operation service over its dependencies (wired once, in services/root.ts). */
export function createOperationService(deps: OperationServiceDeps) {
  return withDeps(deps, { beginInstanceOperation, requestOperation });
}

export type OperationService = ReturnType<typeof createOperationService>;

/** The audit entry of a long operation: Running until its orchestration records the end. */
export function operationAuditEntry(op: OperationRecord, actor: string, action: string): AuditEntry {
  return {
    id: operationAuditId(op.startedAt, op.id),
    at: op.startedAt,
    actor,
    action,
    ...(op.instance ? { instance: op.instance.toLowerCase() } : {}),
    ...(op.instanceId ? { instanceId: op.instanceId } : {}),
    ...(op.assignedUser ? { assignedUser: op.assignedUser } : {}),
    operationId: op.id,
    result: "Running",
    ...(op.reason ? { reason: op.reason } : {}),
  };
}
