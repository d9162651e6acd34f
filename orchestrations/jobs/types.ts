// Names, inputs and results of the jobs workflows: one eternal dispatcher per instance
// (`jobDispatcher`) and one orchestration per job (`runJob`).
import type { DispatcherCommand, DispatcherConfig, DispatcherState } from "../../shared/jobs/dispatcher";
import type { JobState } from "../../shared/instances/states";

export const ORCHESTRATIONS = { dispatcher: "jobDispatcher", job: "runJob" } as const;

export const ACTIVITIES = {
  /** phase2 contract: instance orchestrations call it with {instance, state}. */
  notifyDispatcher: "notifyDispatcher",
  reconcile: "jobsReconcile",
  apply: "jobsApplyDispatcherCommands",
  startJob: "jobsHandToAgent",
  cancelOnAgent: "jobsCancelOnAgent",
  checkAgent: "jobsCheckAgent",
  finish: "jobsFinish",
} as const;

/**
 * Every dispatcher event travels under ONE external-event name with the phase2 event type in
 * the payload: the dispatcher reads it through EventInbox (all waits of one name, each yielded
 * once and collected after every resume), so the engine can tell which raised events the
 * generation took and carries the rest across continueAsNew.
 */
export const DISPATCHER_EVENT = "DispatcherEvent";

export type DispatcherEventPayload =
  | { type: "JobSubmitted"; jobId: string; gpus: number }
  | { type: "JobFinished"; jobId: string; state: JobState }
  | { type: "CancelJob"; jobId: string }
  | { type: "InstanceStateChanged"; state: string };

export type DispatcherInput = {
  instance: string;
  state?: DispatcherState;
  /** Commands stepped but not yet applied when the last generation continued as new. */
  pending?: DispatcherCommand[];
  /** Generations so far (continueAsNew count). */
  generation?: number;
  /** Events per generation before continueAsNew (tests lower it). */
  eventsPerGeneration?: number;
};

export const DEFAULT_EVENTS_PER_GENERATION = 100;
/** Reconcile with the job table every this many generations (and on start / state change). */
export const RECONCILE_EVERY_GENERATIONS = 10;

export type NotifyDispatcherInput = { instance: string; state: string };

export type ReconcileInput = {
  instance: string;
  /** What the dispatcher holds (bounded: the window and the running set); absent for a new one. */
  queued?: string[];
  running?: string[];
  /** The next spill sequence number. */
  next?: number;
};
export type ReconcileResult =
  | { exists: false }
  | {
      exists: true;
      config: DispatcherConfig;
      running: boolean;
      deleting: boolean;
      /**
       * In submission order: every Starting/Running job and every job of `running`, the held
       * queued jobs with a cancel request, and queued jobs the dispatcher does not know yet —
       * as many as fit its window; the rest of those the activity spilled.
       */
      jobs: { id: string; gpus: number; state: JobState; cancelRequested: boolean }[];
      /** Spill rows now in the store: [from, next). */
      spill: { from: number; next: number };
    };

export type ApplyInput = {
  instance: string;
  commands: DispatcherCommand[];
  counts: { queued: number; running: number; cap: number };
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
  gpuIndices: number[];
  /** Absent in histories from before the agent; the activity's settings decide then. */
  liveness?: Liveness;
};

/** The job orchestration's only external event (from the agent's reports and from cancels). */
export const JOB_EVENT = "JobEvent";
export type JobEventPayload =
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
export type CheckAgentResult = { state: JobState | "Missing"; claimedAt?: string; heartbeatAt?: string };

export type JobOutcome = {
  state: "Completed" | "Failed" | "Canceled" | "TimedOut";
  exitCode?: number;
  startTime?: string;
  endTime?: string;
  error?: { code: string; message: string };
};

export type FinishInput = { instance: string; jobId: string; outcome: JobOutcome; at: string };
