// What a run command's status means for its job: shared by the job orchestrator (which decides)
// and the status activity (which records a completed job's end on the spot).
import type { JobOutcome, RunStatusResult } from "./types";

/** The job's result once its run command ended; undefined while it runs. */
export function outcomeOf(s: RunStatusResult): JobOutcome | undefined {
  const times = { ...(s.startTime ? { startTime: s.startTime } : {}), ...(s.endTime ? { endTime: s.endTime } : {}) };
  const code = s.exitCode !== undefined ? { exitCode: s.exitCode } : {};
  switch (s.state) {
    case "Pending":
    case "Running":
      return undefined;
    case "Succeeded":
      return { state: "Completed", ...code, ...times };
    case "Failed":
      return {
        state: "Failed",
        ...code,
        ...times,
        error: { code: "JobFailed", message: s.message ?? (s.exitCode !== undefined ? `the command exited with code ${s.exitCode}` : "the command failed") },
      };
    case "TimedOut":
      return { state: "TimedOut", ...code, ...times, error: { code: "TimedOut", message: s.message ?? "the job ran past its timeout" } };
    case "Canceled":
      return { state: "Canceled", ...code, ...times, error: { code: "Canceled", message: s.message ?? "the run command was canceled" } };
    case "Missing":
      return { state: "Failed", ...times, error: { code: "RunCommandLost", message: "the run command disappeared from the VM (was the instance stopped or deleted?)" } };
  }
}
