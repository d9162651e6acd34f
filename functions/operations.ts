// GET /api/operations/{id}: the status of a long operation (api.md conventions). Readable by
// admins and readers, and by the instance's user — also after a delete removed the instance.
import { NotFoundError } from "../shared/errors";
import { assertAuthorized } from "../shared/rbac";
import type { OperationResponse } from "../shared/schemas/operation";
import type { OperationRecord } from "../orchestrations/instances/types";
import { apiRoute } from "./http/api";
import { instanceStores } from "./instanceStores";

export function toOperationResponse(op: OperationRecord): OperationResponse & { requestedBy: string } {
  return {
    id: op.id,
    name: op.name,
    ...(op.instance ? { instance: op.instance } : {}),
    status: op.status,
    startedAt: op.startedAt,
    ...(op.endedAt ? { endedAt: op.endedAt } : {}),
    ...(op.steps ? { steps: op.steps } : {}),
    ...(op.error ? { error: op.error } : {}),
    requestedBy: op.requestedBy,
  };
}

apiRoute("operationsGet", { route: "operations/{id}", methods: ["GET"] }, async (r) => {
  const id = r.params.id ?? "";
  const got = /^[a-z0-9]{1,64}$/.test(id) ? await instanceStores().operations.get(id) : undefined;
  if (!got) throw NotFoundError.resource("Operation", id);
  assertAuthorized(r.principal, "operation:read", { instance: { name: got.record.instance ?? "", assignedUser: got.record.assignedUser } });
  return { status: 200, body: toOperationResponse(got.record) };
});
