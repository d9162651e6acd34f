// The stored job record (Azure Table `jobs`, partition = instance, row = job id) and its API
// view. User variables may be secrets: they are stored only while the job may still need them
// for its start (Queued, Starting), removed by the first write after that, and never returned.
import type { AzureClients } from "../azure/clients";
import type { JobState } from "../instances/states";
import type { JobResponse } from "../schemas/job";
import { createJobStore, type JobStore } from "../store/jobs";

export type JobRecord = {
  id: string;
  name: string;
  /** Instance name as stored on the instance record. */
  instance: string;
  /** The incarnation of that name the job was submitted to (InstanceRecord.instanceId). */
  instanceId?: string;
  state: JobState;
  command: string;
  variables?: Record<string, string>;
  /** environment.image: the job runs in this container image. */
  image?: string;
  /** environment.workingDirectory: where the user's folder is mounted in the container. */
  workingDirectory?: string;
  gpus: number;
  gpuIndices?: number[];
  timeoutMinutes: number;
  distribution?: { type: string; processCount: number };
  submittedBy: string;
  submittedAt: string;
  /** When the job was handed to the agent (Starting). */
  claimedAt?: string;
  /** When the agent took a job with an image (it stays Starting while the image is pulled). */
  pullingAt?: string;
  /** The agent's claim on the job (its journal's id for this run): a repeated "started" with it gets the same answer. */
  agentClaim?: string;
  startedAt?: string;
  /** The agent's last heartbeat while it runs. */
  heartbeatAt?: string;
  /** The end the agent reported, kept until the job's orchestration records it (should the event be lost). */
  exitReport?: { state: JobState; exitCode?: number; startTime?: string; endTime?: string; error?: { code: string; message: string } };
  endedAt?: string;
  exitCode?: number;
  error?: { code: string; message: string };
  /** Set by POST /cancel; the dispatcher (or a reconcile) acts on it. */
  cancelRequestedAt?: string;
  source: "http" | "queue";
  idempotencyKey?: string;
};

export const JOB_LOGS_CONTAINER = "job-logs";

export const jobLogBlobs = {
  stdout: (jobId: string) => `${jobId}/stdout.txt`,
  stderr: (jobId: string) => `${jobId}/stderr.txt`,
} as const;

/** States in which the job's run command may still have to be PUT, with the variables. */
const NOT_YET_HANDED_OVER: ReadonlySet<JobState> = new Set(["Queued", "Starting"]);

/**
 * The record as it may be stored: without variables once the VM has the job (or it ended). The
 * VM has it once its agent reports again after "started" (a heartbeat): until then the answer to
 * "started" may have been lost with a host that died, and the agent asks again with its claim.
 */
export function atRest(r: JobRecord): JobRecord {
  // A job with an image stays Starting while it is pulled, but its agent has it (pullingAt).
  if (r.variables === undefined || (NOT_YET_HANDED_OVER.has(r.state) && r.pullingAt === undefined)) return r;
  if ((r.state === "Running" || r.pullingAt !== undefined) && r.agentClaim && !r.heartbeatAt) return r;
  const { variables: _dropped, ...rest } = r;
  return rest;
}

/** The job store; every write goes through atRest, so no path can keep variables past the start. */
export function jobRecords(storage: AzureClients["storage"]): JobStore<JobRecord> {
  const store = createJobStore<JobRecord>(storage);
  return { ...store, create: (r) => store.create(atRest(r)), update: (r, etag) => store.update(atRest(r), etag) };
}

export function toJobResponse(r: JobRecord): JobResponse {
  const out: JobResponse = {
    id: r.id,
    name: r.name,
    instance: r.instance,
    ...(r.instanceId ? { instanceId: r.instanceId } : {}),
    state: r.state,
    command: r.command,
    gpus: r.gpus,
    timeoutMinutes: r.timeoutMinutes,
    submittedBy: r.submittedBy,
    submittedAt: r.submittedAt,
  };
  if (r.gpuIndices && r.gpuIndices.length) out.gpuIndices = r.gpuIndices;
  if (r.exitCode !== undefined) out.exitCode = r.exitCode;
  if (r.startedAt) out.startedAt = r.startedAt;
  if (r.endedAt) out.endedAt = r.endedAt;
  if (r.error) out.error = r.error;
  return out;
}
