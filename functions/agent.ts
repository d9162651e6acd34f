// The job agent's side of the API (agent/): the agent file cloud-init downloads, and the
// reports an agent sends about a job (started / heartbeat / exited). A report is accepted only
// from the managed identity of the VM of the instance that owns the job (App Service
// Authentication passes the token's `xms_mirid`); anything else is 403 and logged.
import fs from "node:fs";
import path from "node:path";
import * as df from "durable-functions";
import { blobSasUrl } from "../shared/azure/blobs";
import { AppError, ForbiddenError, NotFoundError, PreconditionFailedError } from "../shared/errors";
import { orchestrationIds } from "../shared/ids";
import { isTerminalJobState } from "../shared/instances/states";
import { callerResourceId, instanceVmResourceId } from "../shared/jobs/agent";
import { agentSettingsOf } from "../shared/jobs/agentConfig";
import { agentReport, toJobOutcome } from "../shared/jobs/agentReport";
import { JOB_LOGS_CONTAINER, jobLogBlobs, type JobRecord } from "../shared/jobs/record";
import { logger } from "../shared/telemetry/log";
import { recordJobStarted } from "../shared/telemetry/metrics";
import { parseWith } from "../shared/validation";
import { durablePort } from "../orchestrations/jobs/durablePort";
import { JOB_EVENT, type JobEventPayload } from "../orchestrations/jobs/types";
import { ROUTES } from "../shared/api/routes";
import { apiRoute, httpRoute } from "./http/api";
import { getClients, getSettings, stores } from "../services/root";

/** The bundled agent (npm run build writes it next to the app). */
const AGENT_FILE = path.join(__dirname, "..", "agent", "agent.bundle.js");
/** Log URLs outlive the job's timeout by this much (the agent ships the tail after the end). */
const LOG_SAS_MARGIN_MINUTES = 10;

// Public: the same file for every VM, no secret in it.
httpRoute(ROUTES.getAgent, async () => {
  try {
    return { status: 200, body: await fs.promises.readFile(AGENT_FILE), headers: { "Content-Type": "text/javascript; charset=utf-8" } };
  } catch {
    return { status: 404, jsonBody: { error: { code: "NotFound", message: "The agent is not built (npm run build)." } } };
  }
});

apiRoute(ROUTES.reportJob, async ({ ctx, req, params, body }) => {
  const parsed = parseWith(agentReport, body);
  if (!parsed.ok) throw parsed.error;
  const report = parsed.value;
  const got = await stores().jobs.get(params.id!);
  if (!got) throw NotFoundError.resource("Job", params.id!);
  const settings = getSettings();
  const expected = instanceVmResourceId(settings.subscriptionId, settings.resourceGroup, got.record.instance);
  const caller = callerResourceId(req.headers.get("x-ms-client-principal"));
  if (!caller || caller.toLowerCase() !== expected.toLowerCase()) {
    logger(ctx, { job: got.record.id, instance: got.record.instance }).warn(
      `agent report refused: job ${got.record.id} of instance ${got.record.instance} reported by ${caller ?? "a caller without a managed identity"}`,
    );
    throw new ForbiddenError("Only the agent of the instance that owns this job may report on it.");
  }
  switch (report.kind) {
    case "started":
      return { status: 200, body: await started(got.record, got.etag, report.claim) };
    case "running":
      return { status: 200, body: await running(got.record, got.etag) };
    case "heartbeat":
      return { status: 200, body: await heartbeat(got.record, got.etag) };
    case "exited": {
      const times = { ...(got.record.startedAt ? { startTime: got.record.startedAt } : {}), endTime: new Date().toISOString() };
      const outcome = toJobOutcome(report.outcome, times);
      // Kept on the record first: the orchestration's periodic check finds it should the event be lost.
      await keepExitReport(got.record.id, outcome);
      const event: JobEventPayload = { type: "Exited", outcome };
      await durablePort(df.getClient(ctx)).raise(orchestrationIds.job(got.record.id), JOB_EVENT, event);
      return { status: 202, body: { accepted: true } };
    }
  }
}, { extraInputs: [df.input.durableClient()] });

/**
 * Starting → Running, once: the answer carries what the job needs (command, environment with
 * the user's variables, write-only log URLs). A second "started" for the same job is refused
 * (409), so a job is never handed out twice — unless it repeats the first one's claim: that agent
 * never got the answer (the host died before sending it) and has not run the job; it gets the
 * same answer. The variables stay on the record until the agent's next report (see atRest).
 */
async function started(job: JobRecord, etag: string, claim: string | undefined) {
  if (job.cancelRequestedAt && !isTerminalJobState(job.state)) throw new AppError("JobCanceled", `Job '${job.id}' was canceled.`, 409);
  // A job with an image stays Starting while its agent pulls it (pullingAt; "running" ends that).
  const handedOver = job.state === "Running" || (job.state === "Starting" && job.pullingAt !== undefined);
  const repeat = handedOver && claim !== undefined && job.agentClaim === claim && !job.heartbeatAt;
  if ((job.state !== "Starting" || job.pullingAt) && !repeat) {
    throw new AppError("JobNotStartable", `Job '${job.id}' is ${job.state}${job.pullingAt ? " (handed to its agent)" : ""}; it cannot start.`, 409);
  }
  if (!repeat) {
    const now = new Date().toISOString();
    const taken: Partial<JobRecord> = job.image ? { pullingAt: now } : { state: "Running", startedAt: now };
    try {
      // No heartbeatAt yet: the backstop counts from startedAt (pullingAt) until the first heartbeat.
      await stores().jobs.update({ ...job, ...taken, ...(claim ? { agentClaim: claim } : { heartbeatAt: now }) }, etag);
      if (!job.image) recordJobStarted(job.instance, job.submittedAt, now);
    } catch (err) {
      // Someone else changed it (a cancel, or a concurrent "started"): the agent must not run it.
      if (err instanceof PreconditionFailedError) throw new AppError("JobNotStartable", `Job '${job.id}' changed meanwhile; it is not started.`, 409);
      throw err;
    }
  }
  const storage = getClients().storage;
  const minutes = job.timeoutMinutes + LOG_SAS_MARGIN_MINUTES;
  const [stdout, stderr] = await Promise.all([
    blobSasUrl(storage, JOB_LOGS_CONTAINER, jobLogBlobs.stdout(job.id), { permissions: "racw", expiresInMinutes: minutes }),
    blobSasUrl(storage, JOB_LOGS_CONTAINER, jobLogBlobs.stderr(job.id), { permissions: "racw", expiresInMinutes: minutes }),
  ]);
  return {
    command: job.command,
    // Platform values first; the user's variables may override them, as before.
    env: { JOB_ID: job.id, CUDA_VISIBLE_DEVICES: (job.gpuIndices ?? []).join(","), ...(job.variables ?? {}) },
    timeoutMinutes: job.timeoutMinutes,
    logs: { stdout, stderr },
    ...(job.image ? { environment: { image: job.image, ...(job.workingDirectory ? { workingDirectory: job.workingDirectory } : {}) } } : {}),
  };
}

/** A job with an image: its agent has the image and starts the container (Starting → Running). */
async function running(job: JobRecord, etag: string): Promise<Record<string, never>> {
  // A repeat (the agent restarted before it journaled the answer): the job runs already.
  if (job.state === "Running" && job.pullingAt) return {};
  if (job.cancelRequestedAt && !isTerminalJobState(job.state)) throw new AppError("JobCanceled", `Job '${job.id}' was canceled.`, 409);
  if (job.state !== "Starting" || !job.pullingAt) throw new AppError("JobNotStartable", `Job '${job.id}' is ${job.state}${job.pullingAt ? "" : " and was not handed to its agent"}; it cannot run.`, 409);
  const now = new Date().toISOString();
  try {
    await stores().jobs.update({ ...job, state: "Running", startedAt: now, heartbeatAt: now }, etag);
    recordJobStarted(job.instance, job.submittedAt, now);
  } catch (err) {
    if (err instanceof PreconditionFailedError) throw new AppError("JobNotStartable", `Job '${job.id}' changed meanwhile; it is not started.`, 409);
    throw err;
  }
  return {};
}

/** Puts the reported end on the record (ETag retries); a terminal record or one that has it already is left. */
async function keepExitReport(jobId: string, outcome: NonNullable<JobRecord["exitReport"]>): Promise<void> {
  for (let i = 0; i < 10; i++) {
    const cur = await stores().jobs.get(jobId);
    if (!cur || isTerminalJobState(cur.record.state) || cur.record.exitReport) return;
    try {
      await stores().jobs.update({ ...cur.record, exitReport: outcome }, cur.etag);
      return;
    } catch (err) {
      if (!(err instanceof PreconditionFailedError)) throw err;
    }
  }
  throw new AppError("Contention", `Job '${jobId}' kept changing; report again.`, 503, { retryable: true });
}

/** Records the heartbeat (coarsely); answers `cancel` when the job should not run any more. */
async function heartbeat(job: JobRecord, etag: string): Promise<{ cancel?: string }> {
  if (isTerminalJobState(job.state)) return { cancel: `the job is ${job.state}` };
  const pulling = job.state === "Starting" && job.pullingAt !== undefined;
  if (pulling && job.cancelRequestedAt) return { cancel: "canceled by request" };
  if (job.state !== "Running" && !pulling) return {};
  const now = Date.now();
  const heartbeatMs = agentSettingsOf(getSettings(), getClients()).heartbeatSeconds * 1000;
  if (!job.heartbeatAt || now - Date.parse(job.heartbeatAt) >= heartbeatMs / 2) {
    await stores().jobs.update({ ...job, heartbeatAt: new Date(now).toISOString() }, etag).catch((err: unknown) => {
      if (!(err instanceof PreconditionFailedError)) throw err; // changed meanwhile: the next heartbeat writes
    });
  }
  return {};
}
