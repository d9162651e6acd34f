// When an episode cannot be written to the task hub. A transient failure (storage down,
// throttled, a conflict) is retried with exponential backoff, never in a hot loop. A write
// that storage refuses for what it is (over a Table limit, invalid) would be refused on every
// retry: after a few attempts the orchestration fails with an error saying why, and the
// failure — small by construction — is what gets stored.
import { PersistLimitError } from "../backend/payloads";
import { EventType, type FailureDetails, type HistoryEvent, type InstanceState } from "../types";

/** Attempts at an episode that storage refuses before the orchestration fails. */
export const MAX_REFUSED_ATTEMPTS = 4;
const FIRST_DELAY_MS = 500;
const MAX_DELAY_MS = 30_000;

/** Refused for what it is: retrying the same write cannot succeed. */
export function isRefusedWrite(err: unknown): boolean {
  if (err instanceof PersistLimitError) return true;
  const status = (err as { statusCode?: number }).statusCode;
  return status === 400 || status === 413;
}

/** Delay before attempt `failures + 1`: 0.5 s, 1 s, 2 s, ... at most 30 s. */
export function persistRetryDelay(failures: number): number {
  return Math.min(FIRST_DELAY_MS * 2 ** Math.max(0, failures - 1), MAX_DELAY_MS);
}

/** The failed execution to store instead of an episode storage refused. */
export function unpersistableFailure(prev: InstanceState, err: unknown, now: Date): { next: InstanceState; events: HistoryEvent[]; output: string; failure: FailureDetails } {
  const at = now.toISOString();
  const reason = err instanceof Error ? err.message : String(err);
  const message = `The task hub could not store the orchestration's state: ${reason}`;
  const output = JSON.stringify(`Orchestrator function '${prev.name}' failed: ${message}`);
  const failure: FailureDetails = { ErrorType: "TaskHubStorageError", ErrorMessage: message };
  const events: HistoryEvent[] = [
    { EventType: EventType.OrchestratorStarted, EventId: -1, IsPlayed: true, Timestamp: at },
    { EventType: EventType.ExecutionCompleted, EventId: -1, IsPlayed: true, Timestamp: at, OrchestrationStatus: "Failed", Result: output, FailureDetails: failure },
  ];
  const next: InstanceState = {
    ...prev,
    status: "Failed",
    output,
    failure,
    lastUpdatedTime: at,
    history: [...prev.history, ...events],
    chunks: prev.chunks + 1,
  };
  return { next, events, output, failure };
}
