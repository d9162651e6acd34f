// Function-level retry policies (`retry` in app.timer(...) options; the library sends them as
// metadata.retryOptions). Azure applies them to timer (and Event Hubs, Cosmos DB, Kafka)
// triggers: a failed run is retried after a delay, each attempt seeing its number in
// `context.retryContext.retryCount` (0 = the first run) and `maxRetryCount`.
// Delays as documented (learn.microsoft.com/azure/azure-functions/functions-bindings-error-pages#retry-strategies):
// fixedDelay waits `delayInterval` between attempts; exponentialBackoff waits
// `minimumInterval` before the first retry and doubles per retry, capped at `maximumInterval`.
import type { RetryContext } from "./invoke";

export type RetryPolicy = {
  strategy: "fixedDelay" | "exponentialBackoff";
  /** -1 = retry forever. */
  maxRetryCount: number;
  /** Delay before retry number `retry` (1 = the first retry), in milliseconds. */
  delayMs(retry: number): number;
};

type RpcDuration = { seconds?: number | string; nanos?: number } | null | undefined;

function durationMs(d: RpcDuration): number | undefined {
  if (!d || typeof d !== "object") return undefined;
  const ms = Number(d.seconds ?? 0) * 1000 + Math.floor(Number(d.nanos ?? 0) / 1e6);
  return Number.isFinite(ms) && ms >= 0 ? ms : undefined;
}

/** The policy of a function, or undefined without one; throws a message naming the function for a bad one. */
export function retryPolicy(fnName: string, options: unknown): RetryPolicy | undefined {
  if (!options || typeof options !== "object") return undefined;
  const o = options as { retryStrategy?: string; maxRetryCount?: number; delayInterval?: RpcDuration; minimumInterval?: RpcDuration; maximumInterval?: RpcDuration };
  const bad = (why: string) => new Error(`function "${fnName}": retry ${why}`);
  const max = o.maxRetryCount;
  if (typeof max !== "number" || !Number.isInteger(max) || max < -1) throw bad("maxRetryCount must be a whole number ≥ -1 (-1 = forever)");
  const strategy = String(o.retryStrategy ?? "").replace(/_/g, "").toLowerCase();
  if (strategy === "fixeddelay") {
    const delay = durationMs(o.delayInterval);
    if (delay === undefined) throw bad("strategy fixedDelay needs delayInterval");
    return { strategy: "fixedDelay", maxRetryCount: max, delayMs: () => delay };
  }
  if (strategy === "exponentialbackoff") {
    const min = durationMs(o.minimumInterval);
    const maxDelay = durationMs(o.maximumInterval);
    if (min === undefined || maxDelay === undefined) throw bad("strategy exponentialBackoff needs minimumInterval and maximumInterval");
    if (min > maxDelay) throw bad("minimumInterval must not exceed maximumInterval");
    return {
      strategy: "exponentialBackoff",
      maxRetryCount: max,
      delayMs: (retry) => Math.min(maxDelay, min * 2 ** Math.min(Math.max(retry - 1, 0), 40)),
    };
  }
  throw bad(`strategy "${o.retryStrategy}" is not fixedDelay or exponentialBackoff`);
}

/**
 * Runs `attempt` under `policy`: retries after each failure while retries remain and
 * `stopped()` is false. Resolves once an attempt succeeds; rejects with the last error.
 */
export async function runWithRetries(
  policy: RetryPolicy | undefined,
  attempt: (retryContext: RetryContext | undefined) => Promise<void>,
  opts: { stopped(): boolean; sleep(ms: number): Promise<void>; onFailure(err: unknown, retryCount: number, willRetry: boolean): void },
): Promise<void> {
  let retryCount = 0;
  let last: Error | undefined;
  for (;;) {
    const retryContext: RetryContext | undefined = policy && {
      retryCount,
      maxRetryCount: policy.maxRetryCount,
      ...(last ? { exception: { message: last.message, stackTrace: last.stack, source: last.name } } : {}),
    };
    try {
      return await attempt(retryContext);
    } catch (err) {
      last = err instanceof Error ? err : new Error(String(err));
      const willRetry = policy !== undefined && (policy.maxRetryCount === -1 || retryCount < policy.maxRetryCount) && !opts.stopped();
      opts.onFailure(err, retryCount, willRetry);
      if (!willRetry) throw err;
      retryCount++;
      await opts.sleep(policy.delayMs(retryCount));
      if (opts.stopped()) throw err;
    }
  }
}
