// Azure ML compute-instance state names (api.md). The one status enum everything maps into.
export const INSTANCE_STATES = [
  "Creating",
  "CreateFailed",
  "SettingUp",
  "SetupFailed",
  "Running",
  "JobRunning",
  "Starting",
  "Stopping",
  "Stopped",
  "Restarting",
  "Deleting",
  "Unusable",
  "Unknown",
] as const;
export type InstanceState = (typeof INSTANCE_STATES)[number];

export const OPERATION_STATUSES = ["NotStarted", "Running", "Succeeded", "Failed", "Canceled"] as const;
export type OperationStatus = (typeof OPERATION_STATUSES)[number];

export const JOB_STATES = ["Queued", "Starting", "Running", "Completed", "Failed", "Canceled", "TimedOut"] as const;
export type JobState = (typeof JOB_STATES)[number];
export const TERMINAL_JOB_STATES: readonly JobState[] = ["Completed", "Failed", "Canceled", "TimedOut"];
export function isTerminalJobState(state: JobState): boolean {
  return TERMINAL_JOB_STATES.includes(state);
}
