// Names, inputs and results of the jobs workflow: the per-instance job-queue entity
// (`JobQueue`), one orchestration per job (`runJob`) and their activities.
import type { DispatcherCommand, DispatcherConfig } from "../../shared/jobs/dispatcher";
import type { JobState } from "../../shared/instances/states";
import { defineActivities, namesOf, retryPolicy } from "../boundary/registry";
import type { JobActivities } from "./activities";

export const ORCHESTRATIONS = { job: "runJob", reconfigureQueue: "reconfigureJobQueue" } as const;
export const QUEUE_ENTITY = "JobQueue";

/**
 * The workflow's activities (activities.ts). Transient cloud and storage failures (429 included)
 * are retried with backoff by the engine; so is any other failure (no fail-fast here).
 */
export const JOB_ACTIVITIES = defineActivities<JobActivities>({
  names: {
    /** The instance orchestrations' contract: {instance, state} → the jobs' final cancels on a stop or delete. */
    notifyDispatcher: "notifyDispatcher",
    queueConfig: "jobsQueueConfig",
    apply: "jobsApplyDispatcherCommands",
    startJob: "jobsHandToAgent",
    cancelOnAgent: "jobsCancelOnAgent",
    checkAgent: "jobsCheckAgent",
    finish: "jobsFinish",
  },
  retry: retryPolicy(500, 8),
  failFast: false,
});
export const ACTIVITIES = namesOf(JOB_ACTIVITIES);

/** What a queue-entity operation answers: the commands to apply (entities do no I/O). */
export type QueueAnswer = {
  /** The entity has no state yet: the caller brings the instance's config ("init") and asks again. */
  uninitialized?: true;
  commands?: DispatcherCommand[];
  counts?: { queued: number; running: number; cap: number };
  /** The entity's operation number (increasing): orders the counts of concurrent answers. */
  seq?: number;
  refill?: { from: number; until: number; max: number };
  trim?: { from: number; until: number };
};

export type NotifyDispatcherInput = { instance: string; state: string };

export type QueueConfigInput = { instance: string };
export type QueueConfigResult = { exists: false } | { exists: true; config: DispatcherConfig; running: boolean; deleting: boolean };

export type ApplyInput = {
  instance: string;
  commands: DispatcherCommand[];
  counts: { queued: number; running: number; cap: number };
  /** The answer's operation number; counts older than the record's are not written. */
  seq?: number;
  /** Orchestrator time, for record timestamps. */
  at: string;
  /** Spill rows to read back (after the commands' own rows are written). */
  refill?: { from: number; until: number; max: number };
  /** Read-back spill rows to delete. */
  trim?: { from: number; until: number };
};
export type ApplyResult = {
  /** Queued jobs of the rows read back, in order; `from` = the first row not read. */
  refill?: { from: number; jobs: { id: string; gpus: number; cancelRequested: boolean }[] };
} | null;

/** How the job orchestration watches the agent (the backstop for a VM that goes silent). */
export type Liveness = {
  /** The agent's heartbeat interval. */
  heartbeatMs: number;
  /** A running job with no heartbeat for this long is Failed "agent lost". */
  heartbeatGraceMs: number;
  /** A job the agent has not taken within this long is Failed "agent lost". */
  pickupGraceMs: number;
  /** After a cancel was sent, how long to wait for the agent's report before recording it anyway. */
  cancelGraceMs: number;
  /** Beyond the job's own timeout (the agent enforces it), before the control plane gives up. */
  timeoutMarginMs: number;
};

export function livenessFor(heartbeatSeconds: number): Liveness {
  const heartbeatMs = heartbeatSeconds * 1000;
  return {
    heartbeatMs,
    heartbeatGraceMs: 4 * heartbeatMs,
    pickupGraceMs: Math.max(120_000, 4 * heartbeatMs),
    cancelGraceMs: Math.max(30_000, 2 * heartbeatMs),
    timeoutMarginMs: Math.max(300_000, 4 * heartbeatMs),
  };
}

export type JobInput = {
  instance: string;
  jobId: string;
  /** GPUs asked for: the job goes through the queue first (absent in histories from before the queue entity). */
  gpus?: number;
  /** Given when the slot was already granted (histories from before the queue entity). */
  gpuIndices?: number[];
  /** Absent in histories from before the agent; the activity's settings decide then. */
  liveness?: Liveness;
  /** W3C traceparent of the submission (the HTTP request or queue message's invocation). */
  traceParent?: string;
};

/** The job orchestration's only external event (from the agent's reports and from cancels). */
export const JOB_EVENT = "JobEvent";
export type JobEventPayload =
  /** The queue granted a slot (and these GPUs). */
  | { type: "Start"; gpuIndices: number[] }
  /** The queue dropped the job before it started (canceled or cannot run); its record says why. */
  | { type: "Dropped" }
  /** The agent reports the end. */
  | { type: "Exited"; outcome: JobOutcome }
  /** Cancel: sent to the agent, which ends the job and reports; `final`: the VM is going away, record it now. */
  | { type: "Cancel"; reason: string; final?: boolean };

export type StartJobInput = { instance: string; jobId: string; gpuIndices: number[]; at: string };
export type StartJobResult =
  /** Handed to the agent (its queue); `heartbeatSeconds` of the agents now. */
  | { started: true; timeoutMinutes: number; liveness: Liveness }
  /** Nothing to run: the job ended already, was canceled before it started, or cannot start. */
  | { started: false; outcome?: JobOutcome };

export type CancelOnAgentInput = { instance: string; jobId: string; reason: string };

export type CheckAgentInput = { instance: string; jobId: string };
export type CheckAgentResult = { state: JobState | "Missing"; claimedAt?: string; pullingAt?: string; heartbeatAt?: string; reported?: JobOutcome };

export type JobOutcome = {
  state: "Completed" | "Failed" | "Canceled" | "TimedOut";
  exitCode?: number;
  startTime?: string;
  endTime?: string;
  error?: { code: string; message: string };
};

export type FinishInput = { instance: string; jobId: string; outcome: JobOutcome; at: string };
