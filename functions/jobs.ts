// Job routes (api.md "Jobs"): submit, list, read, logs, cancel. Validation and authorization
// happen here, before anything starts; the dispatcher orchestration does the rest.
import * as df from "durable-functions";
import { ConflictError, NotFoundError, ValidationError } from "../shared/errors";
import { isTerminalJobState, JOB_STATES, type JobState } from "../shared/instances/states";
import { JOB_LOGS_CONTAINER, jobLogBlobs, toJobResponse, type JobRecord } from "../shared/jobs/record";
import { readBlobFrom, readBlobText } from "../shared/azure/blobs";
import { sameIncarnation } from "../shared/instances/record";
import { assertAuthorized, type Principal } from "../shared/rbac";
import { jobSubmissionBody } from "../shared/schemas/job";
import { parseWith } from "../shared/validation";
import { orchestrationIds } from "../shared/ids";
import { JOB_EVENT, type JobEventPayload } from "../orchestrations/jobs/types";
import { durablePort } from "../orchestrations/jobs/durablePort";
import { PAGE_SIZE, ROUTES } from "../shared/api/routes";
import { apiRoute, idempotencyKey } from "./http/api";
import { getClients, services, stores } from "../services/root";

const client = [df.input.durableClient()];

apiRoute(ROUTES.submitJob, async ({ ctx, principal, params, body, req }) => {
  if (body === undefined) throw ValidationError.field("body", "A JSON body with at least `command` is required.");
  const parsed = parseWith(jobSubmissionBody, body);
  if (!parsed.ok) throw parsed.error;
  const key = idempotencyKey(req);
  const { job } = await services().jobs.submitJob(durablePort(df.getClient(ctx)), {
    principal,
    instance: params.name!,
    body: parsed.value,
    source: "http",
    ...(key ? { idempotencyKey: key } : {}),
  });
  return { status: 202, body: toJobResponse(job), headers: { Location: new URL(`/api/jobs/${job.id}`, req.url).toString() } };
}, { extraInputs: client, audit: { action: "job.submit" } });

apiRoute(ROUTES.listJobs, async ({ principal, params, req }) => {
  const inst = await services().jobs.instanceFor(principal, params.name!, "job:read");
  const state = req.query.get("state") ?? undefined;
  if (state !== undefined && !(JOB_STATES as readonly string[]).includes(state)) {
    throw ValidationError.field("state", `must be one of ${JOB_STATES.join(", ")}`);
  }
  const pageSize = Number(req.query.get("top") ?? PAGE_SIZE.default);
  if (!Number.isInteger(pageSize) || pageSize < 1 || pageSize > PAGE_SIZE.max) throw ValidationError.field("top", `must be an integer in 1..${PAGE_SIZE.max}`);
  const token = req.query.get("continuationToken") ?? undefined;
  // Only this incarnation's jobs: the partition is the name, which an earlier instance may have had.
  const page = await stores().jobs.list(inst.record.name, {
    filter: { instanceId: inst.record.instanceId, ...(state ? { state: state as JobState } : {}) },
    pageSize,
    ...(token ? { continuationToken: token } : {}),
  });
  const out: { value: unknown[]; nextLink?: string } = { value: page.items.map((i) => toJobResponse(i.record)) };
  if (page.continuationToken) {
    const q = new URLSearchParams({ ...(state ? { state } : {}), top: String(pageSize), continuationToken: page.continuationToken });
    out.nextLink = `/api/instances/${encodeURIComponent(inst.record.name)}/jobs?${q}`;
  }
  return { status: 200, body: out };
});

/**
 * The job, if the caller may do `action` on it, and whether its instance still exists. Access
 * follows the instance only while it is the same incarnation (instance id) the job was submitted
 * to; a job whose instance was deleted — even if the name has been taken again since — stays
 * readable by its submitter, admins and readers, and by no one else.
 */
async function jobFor(principal: Principal, id: string, action: "job:read" | "job:cancel") {
  const got = await stores().jobs.get(id);
  if (!got) throw NotFoundError.resource("Job", id);
  const found = await stores().instances.get(got.record.instance);
  const inst = found && sameIncarnation(found.record, got.record) ? found : undefined;
  if (inst) {
    try {
      assertAuthorized(principal, action, { instance: { name: inst.record.name, assignedUser: inst.record.assignedUser } });
    } catch (err) {
      if (err instanceof NotFoundError) throw NotFoundError.resource("Job", id);
      throw err;
    }
  } else if (!(principal.roles.includes("admin") || (action === "job:read" && principal.roles.includes("reader")) || got.record.submittedBy === principal.userId)) {
    throw NotFoundError.resource("Job", id);
  }
  return { ...got, instanceLives: inst !== undefined };
}

apiRoute(ROUTES.getJob, async ({ principal, params }) => {
  const got = await jobFor(principal, params.id!, "job:read");
  return { status: 200, body: toJobResponse(got.record), headers: { ETag: got.etag } };
});

apiRoute(ROUTES.getJobLogs, async ({ principal, params, req }) => {
  const got = await jobFor(principal, params.id!, "job:read");
  const storage = getClients().storage;
  const stream = req.query.get("stream");
  if (stream === null) {
    const [out, err] = await Promise.all([
      readBlobText(storage, JOB_LOGS_CONTAINER, jobLogBlobs.stdout(got.record.id)),
      readBlobText(storage, JOB_LOGS_CONTAINER, jobLogBlobs.stderr(got.record.id)),
    ]);
    return { status: 200, body: (out ?? "") + (err ?? ""), headers: { "Content-Type": "text/plain; charset=utf-8" } };
  }
  // One stream from a byte offset: what a follower (cix job logs --follow, the portal) polls
  // while the job writes. Bytes, not text, so an offset never splits a character for the client.
  if (stream !== "stdout" && stream !== "stderr") throw ValidationError.field("stream", "must be stdout or stderr");
  const offsetText = req.query.get("offset") ?? "0";
  const offset = Number(offsetText);
  if (!/^\d{1,15}$/.test(offsetText) || !Number.isSafeInteger(offset)) throw ValidationError.field("offset", "must be a whole number of bytes");
  const bytes = await readBlobFrom(storage, JOB_LOGS_CONTAINER, jobLogBlobs[stream](got.record.id), offset);
  return { status: 200, body: bytes, headers: { "Content-Type": "text/plain; charset=utf-8" } };
});

apiRoute(ROUTES.cancelJob, async ({ ctx, principal, params, req, audit }) => {
  const got = await jobFor(principal, params.id!, "job:cancel");
  audit.instance = got.record.instance;
  if (isTerminalJobState(got.record.state)) {
    throw new ConflictError(`Job '${got.record.id}' already ended (${got.record.state}).`, { retryable: false });
  }
  const now = new Date();
  let job: JobRecord = got.record;
  if (!job.cancelRequestedAt) {
    // Recorded first: the start of a job that was just handed a slot sees it and does not run it.
    job = (await stores().jobs.update({ ...job, cancelRequestedAt: now.toISOString() }, got.etag)).record;
  }
  // The job's orchestration takes it from here: off the queue, or to the agent if it runs.
  await durablePort(df.getClient(ctx)).raise(orchestrationIds.job(job.id), JOB_EVENT, { type: "Cancel", reason: "canceled by request" } satisfies JobEventPayload);
  // Activity only on the instance that ran it, not a later one that took its name.
  if (got.instanceLives) await services().activity.recordActivity(job.instance, now).catch(() => undefined);
  return { status: 202, body: toJobResponse(job), headers: { Location: new URL(`/api/jobs/${job.id}`, req.url).toString() } };
}, { extraInputs: client, audit: { action: "job.cancel", jobRoute: true } });
