// How activity results cross the durable boundary: business failures (not retryable: quota,
// bad size, state conflicts) come back as data at once; transient ones throw `[Code] message`
// so callActivityWithRetry retries them and the orchestrator can still read the code.
import { AppError } from "../../shared/errors";

export type Outcome<T> = { ok: true; value: T } | { ok: false; error: { code: string; message: string } };

export async function asOutcome<T>(run: () => Promise<T>): Promise<Outcome<T>> {
  try {
    return { ok: true, value: await run() };
  } catch (err) {
    if (err instanceof AppError && !err.retryable) return { ok: false, error: { code: err.code, message: err.message } };
    const code = err instanceof AppError ? err.code : "InternalError";
    throw new Error(`[${code}] ${err instanceof Error ? err.message : String(err)}`);
  }
}
