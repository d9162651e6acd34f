// The one failure that crosses the activity boundary: a stable code, a message, and whether a
// retry can help (style.md). Activities throw AppErrors; their registration turns any error
// into a Failure, and orchestrators get it back as a WorkflowError, whichever way it came:
// - as data (`{ ok: false, error }`), for a fail-fast activity's non-retryable failure;
// - as the failure of the task, after the library's retries.
// The second way is the only place we read the library's words: durable-functions hands an
// orchestrator nothing but an Error whose message holds the activity's error message (the
// local host and the in-process extension put it in the task's Reason, the newer extension in
// FailureDetails.ErrorMessage; either may add a prefix and the stack). So the activity side
// writes the Failure as one line of JSON after a marker, and `decodeFailure` looks for it.
// Deterministic: no I/O, imported by orchestrators.
import { AppError } from "../../shared/errors";

export type Failure = { code: string; message: string; retryable: boolean };

/** A failed step of a workflow, with a stable code for the operation or job record. */
export class WorkflowError extends Error {
  readonly code: string;
  readonly retryable: boolean;
  constructor(code: string, message: string, retryable = false) {
    super(message);
    this.name = "WorkflowError";
    this.code = code;
    this.retryable = retryable;
  }

  toFailure(): Failure {
    return { code: this.code, message: this.message, retryable: this.retryable };
  }
}

/** Precedes the JSON of a Failure in the message of the Error an activity throws. */
export const FAILURE_MARKER = "ActivityFailure:";
/** Messages are cut here: a Failure rides in history, and an Azure message can be long. */
const MAX_MESSAGE = 2000;

/** Activity side: what an error means to the orchestrator. Errors that are not AppErrors are bugs or outages: retried. */
export function failureOf(err: unknown): Failure {
  if (err instanceof WorkflowError) return err.toFailure();
  if (err instanceof AppError) return { code: err.code, message: err.message.slice(0, MAX_MESSAGE), retryable: err.retryable };
  return { code: "InternalError", message: (err instanceof Error ? err.message : String(err)).slice(0, MAX_MESSAGE), retryable: true };
}

/** Activity side: the Error to throw so that the Failure survives the library (one line: JSON escapes newlines). */
export function failureError(f: Failure): Error {
  return new Error(`${FAILURE_MARKER}${JSON.stringify(f)}`);
}

/** Orchestrator side: a failed task's error, or a fail-fast activity's `error`, as a WorkflowError. */
export function decodeFailure(err: unknown): WorkflowError {
  if (err instanceof WorkflowError) return err;
  const text = err instanceof Error ? err.message : String(err);
  const at = text.indexOf(FAILURE_MARKER);
  if (at >= 0) {
    const line = text.slice(at + FAILURE_MARKER.length).split("\n")[0]!;
    const f = asFailure(safeJson(line));
    if (f) return new WorkflowError(f.code, f.message, f.retryable);
  }
  // Not ours (the library's own failure, e.g. a task that could not be scheduled): its first line.
  return new WorkflowError("InternalError", text.split("\n")[0]!.trim().slice(0, 500), true);
}

/** A Failure in data (`{ ok: false, error }`); `retryable` defaults to false there (those are business failures). */
export function asFailure(v: unknown): Failure | undefined {
  if (!v || typeof v !== "object") return undefined;
  const o = v as Record<string, unknown>;
  if (typeof o.code !== "string" || typeof o.message !== "string") return undefined;
  return { code: o.code, message: o.message, retryable: o.retryable === true };
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}
