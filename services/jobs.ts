// The job service. Submission, shared by the HTTP route and the queue trigger: authorize against
// the instance, honour the idempotency key, write the Queued record, start the job's
// orchestration. Every step is repeatable: a retried submission finds its record and starts it
// again (an active orchestration of that id is left as it is; the queue ignores duplicates).
// Also who may read or cancel a job (jobFor), and the cancel itself.
import { AppError, ConflictError, NotFoundError, PreconditionFailedError, ValidationError } from "../shared/errors";
import { newId } from "../shared/ids";
import { sameIncarnation, type InstanceRecord } from "../shared/instances/record";
import { isTerminalJobState } from "../shared/instances/states";
import type { JobRecord } from "../shared/jobs/record";
import { checkJobImage } from "../shared/policies/registries";
import { assertAuthorized, type Principal } from "../shared/rbac";
import type { JobSubmissionBody } from "../shared/schemas/job";
import type { Stored } from "../shared/store/recordTable";
import type { OrchestrationPort } from "../orchestrations/jobs/durablePort";
import { JOB_EVENT, ORCHESTRATIONS, type JobEventPayload, type JobInput } from "../orchestrations/jobs/types";
import { orchestrationIds } from "../shared/ids";
import type { ActivityService } from "./activity";
import { traceField } from "../shared/telemetry/tracing";
import type { IdempotentJob, Stores } from "./root";
import { withDeps } from "./withDeps";

export type Submission = {
  principal: Principal;
  instance: string;
  body: JobSubmissionBody;
  idempotencyKey?: string;
  source: JobRecord["source"];
  /** A fixed id (queue messages derive it from the message id so a redelivery is a repeat). */
  jobId?: string;
};

export type JobServiceDeps = {
  settings: Parameters<typeof checkJobImage>[1];
  stores: Pick<Stores, "instances" | "jobs" | "jobKeys">;
  activity: Pick<ActivityService, "recordActivity">;
};

/** The instance, if `principal` may do `action` on it; 404 otherwise (names do not leak). */
async function instanceFor(deps: JobServiceDeps, principal: Principal, name: string, action: "job:submit" | "job:read" | "job:cancel"): Promise<Stored<InstanceRecord>> {
  const { instances } = deps.stores;
  const got = await instances.get(name);
  if (!got) throw NotFoundError.resource("Instance", name);
  assertAuthorized(principal, action, { instance: { name: got.record.name, assignedUser: got.record.assignedUser } });
  return got;
}

async function submitJob(deps: JobServiceDeps, port: OrchestrationPort, s: Submission, now = new Date()): Promise<{ job: JobRecord; first: boolean }> {
  const { jobs, jobKeys: keys } = deps.stores;
  const inst = await instanceFor(deps, s.principal, s.instance, "job:submit");
  const image = s.body.environment?.image;
  if (image !== undefined) {
    const problems = checkJobImage(image, deps.settings);
    if (problems.length) throw new ValidationError(problems);
  }
  if (inst.record.state === "Deleting") throw new ConflictError(`Instance '${inst.record.name}' is being deleted; it takes no new jobs.`, { retryable: false });
    let jobId = s.jobId ?? newId();
  let first = true;
  if (s.idempotencyKey) {
    const remembered: IdempotentJob = { jobId, instance: inst.record.name, ...(inst.record.instanceId ? { instanceId: inst.record.instanceId } : {}) };
    const r = await keys.remember(`jobs:${s.principal.userId}`, s.idempotencyKey, remembered, now);
    jobId = r.result.jobId;
    first = r.first;
    if (!first && r.result.instance.toLowerCase() !== inst.record.name.toLowerCase()) {
      throw new ConflictError(`Idempotency-Key '${s.idempotencyKey}' was used for a job on instance '${r.result.instance}'.`, { retryable: false });
    }
    if (!first && !sameIncarnation(inst.record, r.result)) {
      throw new ConflictError(`Idempotency-Key '${s.idempotencyKey}' was used for a job on an earlier instance named '${r.result.instance}'.`, { retryable: false });
    }
  }
  const record: JobRecord = {
    id: jobId,
    name: s.body.name ?? jobId,
    instance: inst.record.name,
    ...(inst.record.instanceId ? { instanceId: inst.record.instanceId } : {}),
    state: "Queued",
    command: s.body.command,
    gpus: s.body.gpus,
    timeoutMinutes: s.body.timeoutMinutes,
    submittedBy: s.principal.userId,
    submittedAt: now.toISOString(),
    source: s.source,
  };
  const vars = s.body.environment?.variables;
  if (vars && Object.keys(vars).length) record.variables = vars;
  if (image !== undefined) record.image = image;
  if (s.body.environment?.workingDirectory) record.workingDirectory = s.body.environment.workingDirectory;
  if (s.body.distribution) record.distribution = s.body.distribution;
  if (s.idempotencyKey) record.idempotencyKey = s.idempotencyKey;

  let job: JobRecord;
  try {
    job = (await jobs.create(record)).record;
  } catch (err) {
    if (!(err instanceof ConflictError)) throw err;
    const existing = await jobs.get(jobId);
    if (!existing) throw err;
    job = existing.record;
    first = false;
  }
  if (!isTerminalJobState(job.state)) {
    // The job's orchestration queues it on the instance's job-queue entity (a repeat finds it running).
    await port.start(ORCHESTRATIONS.job, orchestrationIds.job(job.id), {
      instance: job.instance,
      jobId: job.id,
      gpus: job.gpus,
      // The job's whole life (queue, start, the agent's reports) continues the submission's trace.
      ...traceField(),
    } satisfies JobInput);
  }
  await deps.activity.recordActivity(job.instance, now, inst).catch(() => undefined); // activity is advisory; never fail a submission on it
  return { job, first };
}

/** A submission that can never run (malformed or not allowed): recorded Failed so it is not lost. */
async function recordFailedSubmission(deps: JobServiceDeps, p: {
  jobId: string;
  instance: string;
  /** The incarnation of the instance when it exists (its owner then sees the failed submission). */
  instanceId?: string;
  submittedBy: string;
  name?: string;
  command?: string;
  reason: { code: string; message: string };
  now?: Date;
}): Promise<JobRecord> {
  const { jobs } = deps.stores;
  const at = (p.now ?? new Date()).toISOString();
  const record: JobRecord = {
    id: p.jobId,
    name: p.name ?? p.jobId,
    instance: p.instance,
    ...(p.instanceId ? { instanceId: p.instanceId } : {}),
    state: "Failed",
    command: p.command ?? "",
    gpus: 0,
    timeoutMinutes: 0,
    submittedBy: p.submittedBy,
    submittedAt: at,
    endedAt: at,
    error: p.reason,
    source: "queue",
  };
  try {
    return (await jobs.create(record)).record;
  } catch (err) {
    if (!(err instanceof ConflictError)) throw err;
    return (await jobs.get(p.jobId))?.record ?? record;
  }
}

/**
 * The job, if the caller may do `action` on it, and whether its instance still exists. Access
 * follows the instance only while it is the same incarnation (instance id) the job was submitted
 * to; a job whose instance was deleted — even if the name has been taken again since — stays
 * readable by its submitter, admins and readers, and by no one else.
 */
async function jobFor(deps: JobServiceDeps, principal: Principal, id: string, action: "job:read" | "job:cancel"): Promise<Stored<JobRecord> & { instanceLives: boolean }> {
  const { jobs, instances } = deps.stores;
  const got = await jobs.get(id);
  if (!got) throw NotFoundError.resource("Job", id);
  const found = await instances.get(got.record.instance);
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

/** Cancels a job the caller may cancel (jobFor): recorded on the job first, then told to its orchestration. */
async function cancelJob(deps: JobServiceDeps, got: Awaited<ReturnType<typeof jobFor>>, orchestrations: OrchestrationPort, now = new Date()): Promise<JobRecord> {
  // Recorded first: the start of a job that was just handed a slot sees it and does not run it.
  // The agent's heartbeats and the job's orchestration write the same record: a write in between
  // is read again and the cancel retried (the caller sent no If-Match, so a 412 is not theirs).
  let cur: Stored<JobRecord> = got;
  for (let attempt = 1; ; attempt++) {
    if (isTerminalJobState(cur.record.state)) {
      throw new ConflictError(`Job '${cur.record.id}' already ended (${cur.record.state}).`, { retryable: false });
    }
    if (cur.record.cancelRequestedAt) break;
    try {
      cur = await deps.stores.jobs.update({ ...cur.record, cancelRequestedAt: now.toISOString() }, cur.etag);
      break;
    } catch (err) {
      if (!(err instanceof PreconditionFailedError)) throw err;
      if (attempt === 10) throw new AppError("Contention", `Job '${cur.record.id}' kept changing; try again.`, 503, { retryable: true });
    }
    const again = await deps.stores.jobs.get(cur.record.id);
    if (!again) throw NotFoundError.resource("Job", cur.record.id);
    cur = again;
  }
  const job = cur.record;
  // The job's orchestration takes it from here: off the queue, or to the agent if it runs.
  await orchestrations.raise(orchestrationIds.job(job.id), JOB_EVENT, { type: "Cancel", reason: "canceled by request" } satisfies JobEventPayload);
  // Activity only on the instance that ran it, not a later one that took its name.
  if (got.instanceLives) await deps.activity.recordActivity(job.instance, now).catch(() => undefined);
  return job;
}

/** The job service over its dependencies (wired once, in services/root.ts). */
export function createJobService(deps: JobServiceDeps) {
  return withDeps(deps, { instanceFor, submitJob, recordFailedSubmission, jobFor, cancelJob });
}

export type JobService = ReturnType<typeof createJobService>;
