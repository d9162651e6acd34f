import { z } from "zod";
import { instanceName, isoDateTime, userId } from "./common";

/** What an audit entry ends as: a call or operation that changed something, or one that was refused. */
export const AUDIT_RESULTS = ["Running", "Succeeded", "Failed", "Canceled", "Refused"] as const;
export const auditResult = z.enum(AUDIT_RESULTS);

export const auditEntry = z.object({
  id: z.string().meta({ description: "Newest first in lists; stable, so `GET /api/audit/{id}` reads it again." }),
  at: isoDateTime.meta({ description: "When it was asked for (for operations: when the operation started)." }),
  actor: z.string().meta({ description: "Who: the user id, or `system:schedule`, `system:idle`, `system:recovery` for automatic actions.", example: "alice" }),
  action: z.string().meta({ description: "What: `instance.create`, `instance.stop`, `instance.update`, `job.submit`, `job.cancel`, `job.fail`, ...", example: "instance.stop" }),
  instance: z.string().optional(),
  instanceId: z.string().optional(),
  assignedUser: z.string().optional().meta({ description: "The instance's user at the time (whose entries users see)." }),
  operationId: z.string().optional().meta({ description: "The long operation it started (`GET /api/operations/{id}`)." }),
  jobId: z.string().optional(),
  result: auditResult,
  httpStatus: z.number().int().optional().meta({ description: "For API calls: the status the caller got." }),
  reason: z.string().optional().meta({ description: "Why an automatic action acted." }),
  error: z.object({ code: z.string(), message: z.string() }).optional(),
  endedAt: isoDateTime.optional(),
});
export type AuditEntry = z.infer<typeof auditEntry>;

export const auditList = z.object({ value: z.array(auditEntry), nextLink: z.string().optional() });

export const listAuditQuery = z.strictObject({
  instance: instanceName.optional(),
  user: z
    .union([userId, z.string().regex(/^system:[a-z-]{1,32}$/)])
    .optional()
    .meta({ description: "Entries whose actor is this user (or a system actor such as `system:idle`)." }),
  from: isoDateTime.optional(),
  to: isoDateTime.optional(),
});
