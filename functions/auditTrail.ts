// Audit entries for API calls (the routes that say `audit` in apiRoute). A call that starts a
// long operation is on the trail through its operation (services/instanceOperations.ts writes
// that entry before the orchestration starts, the orchestration sets its result), so such a
// route records only what was refused or failed. Every other audited call gets one entry with
// the status the caller got.
import type { HttpResponseInit } from "@azure/functions";
import type { AuditEntry } from "../shared/schemas/audit";
import { newAuditId } from "../shared/store/audit";
import { stores } from "../services/root";

export type AuditedAction = {
  /** `instance.stop`, `job.submit`, ... */
  action: string;
  /** Success starts a long operation, whose own entry records it. */
  startsOperation?: boolean;
  /** The route's `{id}` is a job id. */
  jobRoute?: boolean;
};

/** What a handler knows that the route does not say. */
export type AuditNote = { instance?: string; jobId?: string };

export async function recordCall(
  audited: AuditedAction,
  call: { at: string; actor: string; params: Record<string, string>; response: HttpResponseInit; note: AuditNote },
): Promise<void> {
  const status = call.response.status ?? 200;
  if (audited.startsOperation && status < 400) return;
  const body = call.response.jsonBody as { id?: unknown; error?: { code?: unknown; message?: unknown } } | undefined;
  const instance = (call.note.instance ?? call.params.name)?.toLowerCase();
  const jobId = call.note.jobId ?? (audited.jobRoute ? call.params.id : undefined) ?? (audited.action === "job.submit" && status < 400 && typeof body?.id === "string" ? body.id : undefined);
  const { instances, audit } = stores();
  // Whose instance it is decides who may read the entry (users: their own instances').
  const owner = instance ? (await instances.get(instance))?.record : undefined;
  const entry: AuditEntry = {
    id: newAuditId(call.at),
    at: call.at,
    actor: call.actor,
    action: audited.action,
    ...(instance ? { instance } : {}),
    ...(owner?.instanceId ? { instanceId: owner.instanceId } : {}),
    ...(owner ? { assignedUser: owner.assignedUser } : {}),
    ...(jobId ? { jobId } : {}),
    result: status < 400 ? "Succeeded" : status < 500 ? "Refused" : "Failed",
    httpStatus: status,
    ...(status >= 400 && typeof body?.error?.code === "string" ? { error: { code: body.error.code, message: String(body.error.message ?? "") } } : {}),
  };
  await audit.record(entry);
}
