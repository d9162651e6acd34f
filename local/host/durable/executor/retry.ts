// Retry and long-timer arithmetic of the Durable Task framework, which the library replays
// against: when the next attempt of a retried task starts, and where a long timer's next
// sub-timer fires.
import type { Leaf, RetryOptionsWire } from "../types";
import type { EpisodeConfig } from "./episode";

/** A retried task's retry bookkeeping, from the library's retry options; starts at attempt 1. */
export function retryState(o: RetryOptionsWire | undefined, now: number): Leaf["retry"] {
  if (!o) return undefined;
  return {
    first: o.firstRetryIntervalInMilliseconds,
    max: o.maxNumberOfAttempts,
    coef: o.backoffCoefficient ?? 1,
    maxInterval: o.maxRetryIntervalInMilliseconds ?? 0,
    timeout: o.retryTimeoutInMilliseconds ?? 0,
    attempt: 1,
    startedAt: now,
  };
}

/** The retry delay of DurableTask's RetryInterceptor.ComputeNextDelay; undefined when the retry timeout has passed. */
export function nextRetryDelay(r: NonNullable<Leaf["retry"]>, nowMs: number): number | undefined {
  const expires = r.timeout > 0 && r.timeout < Number.MAX_SAFE_INTEGER ? r.startedAt + r.timeout : Infinity;
  if (r.expired || nowMs >= expires) return undefined;
  const delay = r.first * Math.pow(r.coef, r.attempt - 1);
  return r.maxInterval > 0 && delay >= r.maxInterval ? r.maxInterval : delay;
}

/** Next sub-timer of a long timer, as LongTimerTask computes it. */
export function subTimerFireAt(finalMs: number, nowMs: number, cfg: EpisodeConfig): number {
  return finalMs - nowMs > cfg.maxShortTimerMs ? nowMs + cfg.longTimerIntervalMs : finalMs;
}
