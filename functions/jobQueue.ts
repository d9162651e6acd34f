// Queue trigger on `job-submissions` (api.md): the message is JSON, as plain text or base64
// (host.json messageEncoding is "none", so both arrive as the raw text). Nothing is dropped:
// - valid and allowed → a Queued job (idempotencyKey honoured; the job id derives from the
//   message id, so a redelivered message repeats the same submission);
// - malformed or not allowed, with an identifiable instance and submitter → a Failed job
//   record carrying the reason;
// - unidentifiable → the raw message goes to `job-submissions-poison` at once;
// - transient failures throw, so the host retries (and poisons after maxDequeueCount).
import { createHash } from "node:crypto";
import { app, output, type InvocationContext } from "@azure/functions";
import * as df from "durable-functions";
import { AppError } from "../shared/errors";
import { instanceKey } from "../shared/ids";
import { parseJsonBody } from "../shared/jsonBody";
import { jobQueueMessage } from "../shared/schemas/job";
import { instanceName, userId } from "../shared/schemas/common";
import { logger } from "../shared/telemetry/log";
import { parseWith } from "../shared/validation";
import { durablePort } from "../orchestrations/jobs/durablePort";
import { services, stores } from "../services/root";

export const JOB_QUEUE = "job-submissions";
export const JOB_POISON_QUEUE = `${JOB_QUEUE}-poison`;
const poison = output.storageQueue({ queueName: JOB_POISON_QUEUE, connection: "AzureWebJobsStorage" });

/** Plain JSON, or base64 of JSON; undefined when it is neither (or breaks the JSON body limits). */
export function decodeQueueText(text: string): unknown {
  const trimmed = text.trim();
  const parse = (json: string): unknown => {
    try {
      return parseJsonBody(json);
    } catch {
      return undefined;
    }
  };
  if (trimmed.startsWith("{")) return parse(trimmed);
  if (/^[A-Za-z0-9+/_-]+={0,2}$/.test(trimmed)) return parse(Buffer.from(trimmed, "base64").toString("utf8"));
  return undefined;
}

/** 20 base-32 chars from the queue message id: the same message always names the same job. */
export function jobIdForMessage(messageId: string): string {
  const alphabet = "0123456789abcdefghjkmnpqrstvwxyz";
  const digest = createHash("sha256").update(`job-submissions:${messageId}`).digest();
  let out = "";
  for (let i = 0; i < 20; i++) out += alphabet[digest[i]! & 31];
  return out;
}

export async function handleJobMessage(message: unknown, ctx: InvocationContext): Promise<void> {
  const text = typeof message === "string" ? message : JSON.stringify(message);
  const messageId = String(ctx.triggerMetadata?.id ?? ctx.triggerMetadata?.Id ?? ctx.invocationId);
  const jobId = jobIdForMessage(messageId);
  const decoded = typeof message === "object" && message !== null ? message : decodeQueueText(text);
  const toPoison = (why: string) => {
    logger(ctx).warn(`job-submissions message ${messageId} moved to ${JOB_POISON_QUEUE}: ${why}`, { messageId });
    ctx.extraOutputs.set(poison, text);
  };
  if (decoded === undefined || typeof decoded !== "object" || decoded === null || Array.isArray(decoded)) {
    return toPoison("the message is not a JSON object (plain or base64)");
  }
  // Whom and where, if identifiable: enough to record a Failed job the submitter can see.
  const raw = decoded as Record<string, unknown>;
  const inst = instanceName.safeParse(raw.instance);
  const who = userId.safeParse(raw.submittedBy);
  const rawJob = (typeof raw.job === "object" && raw.job !== null ? raw.job : {}) as Record<string, unknown>;
  const identity = inst.success && who.success ? { instance: inst.data, submittedBy: who.data } : undefined;
  const fail = async (code: string, message: string) => {
    if (!identity) return toPoison(`${code}: ${message}`);
    const stored = await stores().instances.get(identity.instance);
    await services().jobs.recordFailedSubmission({
      jobId,
      instance: stored?.record.name ?? identity.instance,
      ...(stored?.record.instanceId ? { instanceId: stored.record.instanceId } : {}),
      submittedBy: identity.submittedBy,
      ...(typeof rawJob.name === "string" ? { name: rawJob.name.slice(0, 128) } : {}),
      ...(typeof rawJob.command === "string" ? { command: rawJob.command.slice(0, 32 * 1024) } : {}),
      reason: { code, message },
    });
    logger(ctx, { job: jobId, instance: identity.instance, user: identity.submittedBy }).warn(`job-submissions message ${messageId} recorded as Failed job ${jobId}: ${code}`, { messageId });
  };

  const parsed = parseWith(jobQueueMessage, decoded);
  if (!parsed.ok) return fail("InvalidRequest", parsed.error.message);
  const m = parsed.value;
  // Queue submitters act as themselves: allowed only on their own instance.
  const stored = await stores().instances.get(m.instance);
  if (!stored) return fail("NotFound", `Instance '${m.instance}' was not found.`);
  if (stored.record.assignedUser !== m.submittedBy) {
    return fail("Forbidden", `User '${m.submittedBy}' may not submit jobs to instance '${stored.record.name}'.`);
  }
  try {
    await services().jobs.submitJob(durablePort(df.getClient(ctx)), {
      principal: { userId: m.submittedBy, name: m.submittedBy, roles: ["user"] },
      instance: instanceKey(m.instance),
      body: m.job,
      source: "queue",
      jobId,
      ...(m.idempotencyKey ? { idempotencyKey: m.idempotencyKey } : {}),
    });
  } catch (err) {
    // Business refusals are final (recorded); anything else is retried by the host.
    if (err instanceof AppError && !err.retryable) return fail(err.code, err.message);
    throw err;
  }
}

app.storageQueue("jobQueue", {
  queueName: JOB_QUEUE,
  connection: "AzureWebJobsStorage",
  extraInputs: [df.input.durableClient()],
  extraOutputs: [poison],
  handler: handleJobMessage,
});
