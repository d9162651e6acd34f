// GET /api/operations/{id}: the status of a long operation (api.md conventions). Readable by
// admins and readers, and by the instance's user — also after a delete removed the instance.
import { NotFoundError } from "../shared/errors";
import { assertAuthorized } from "../shared/rbac";
import type { OperationResponse } from "../shared/schemas/operation";
import type { OperationRecord } from "../orchestrations/instances/types";
import { OPERATION_RETRY_AFTER_SECONDS, ROUTES } from "../shared/api/routes";
import { apiRoute } from "./http/api";
import { stores } from "../services/root";

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

apiRoute(ROUTES.getOperation, async (r) => {
  const id = r.params.id ?? "";
  const got = /^[a-z0-9]{1,64}$/.test(id) ? await stores().operations.get(id) : undefined;
  if (!got) throw NotFoundError.resource("Operation", id);
  assertAuthorized(r.principal, "operation:read", { instance: { name: got.record.instance ?? "", assignedUser: got.record.assignedUser } });
  // A status monitor that is still running says when to look again (REST guidelines).
  const running = got.record.status === "Running" || got.record.status === "NotStarted";
  return { status: 200, body: toOperationResponse(got.record), ...(running ? { headers: { "Retry-After": String(OPERATION_RETRY_AFTER_SECONDS) } } : {}) };
});
