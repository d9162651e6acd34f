// Job routes (api.md "Jobs"): submit, list, read, logs, cancel. Parsing here; authorization and
// the records in the job service (services/jobs.ts); the job's orchestration does the rest.
import * as df from "durable-functions";
import { ValidationError } from "../shared/errors";
import { JOB_STATES, type JobState } from "../shared/instances/states";
import { JOB_LOGS_CONTAINER, jobLogBlobs, toJobResponse } from "../shared/jobs/record";
import { readBlobFrom, readBlobText } from "../shared/azure/blobs";
import { jobSubmissionBody } from "../shared/schemas/job";
import { parseWith } from "../shared/validation";
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

apiRoute(ROUTES.getJob, async ({ principal, params }) => {
  const got = await services().jobs.jobFor(principal, params.id!, "job:read");
  return { status: 200, body: toJobResponse(got.record), headers: { ETag: got.etag } };
});

apiRoute(ROUTES.getJobLogs, async ({ principal, params, req }) => {
  const got = await services().jobs.jobFor(principal, params.id!, "job:read");
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
  const { jobs } = services();
  const got = await jobs.jobFor(principal, params.id!, "job:cancel");
  audit.instance = got.record.instance;
  const job = await jobs.cancelJob(got, durablePort(df.getClient(ctx)));
  return { status: 202, body: toJobResponse(job), headers: { Location: new URL(`/api/jobs/${job.id}`, req.url).toString() } };
}, { extraInputs: client, audit: { action: "job.cancel", jobRoute: true } });
