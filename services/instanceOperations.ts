// Starting a lifecycle operation on an existing instance (start, stop, restart, delete), for
// the HTTP routes and the auto-stop timer alike: check the state machine, move the record
// into the busy state with its ETag (the concurrency gate: of two racing requests one gets
// 409/412), write the operation record, start the orchestration.
import type { DurableClient } from "durable-functions";
import { NotFoundError, PreconditionFailedError } from "../shared/errors";
import { newId, orchestrationIds } from "../shared/ids";
import type { InstanceRecord } from "../shared/instances/record";
import { canStart } from "../shared/instances/stateMachine";
import { DEFAULT_POLL, ORCHESTRATIONS, type LifecycleInput, type OperationRecord, type PollOptions } from "../orchestrations/instances/types";
import type { SizeService } from "./sizes";
import type { AuditEntry } from "../shared/schemas/audit";
import { operationAuditId } from "../shared/store/audit";
import { traceField } from "../shared/telemetry/tracing";
import type { Stores } from "./root";

export type LifecycleOperation = "start" | "stop" | "restart" | "delete";

export type BeginOptions = {
  name: string;
  operation: LifecycleOperation;
  requestedBy: string;
  client: DurableClient;
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

export function createOperationService(deps: { stores: Pick<Stores, "instances" | "operations" | "audit">; sizes: Pick<SizeService, "assertQuota"> }) {
  const { instances, operations, audit } = deps.stores;

  async function beginInstanceOperation(o: BeginOptions): Promise<OperationRecord> {
    const operationId = newId();
    const startedAt = new Date().toISOString();

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
        lastOperation: { id: operationId, name: o.operation, status: "Running", startedAt },
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
        instanceId: o.orchestrationId ?? orchestrationIds[o.operation](o.name, operationId),
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

  return { beginInstanceOperation };
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
