// A client-side budget for ARM writes (run-command PUT/DELETE). ARM throttles writes per
// subscription with a token bucket and answers 429 + Retry-After; spending from our own bucket
// first turns a burst of jobs into a short queue here instead of a storm of 429s there.
// Shared in-process: every activity of this host draws from the same bucket.

export type TokenBucketOptions = { capacity: number; refillPerSecond: number };

export class TokenBucket {
  private tokens: number;
  private last: number;
  /** Earliest time a 429's Retry-After allows the next write. */
  private blockedUntil = 0;

  constructor(readonly options: TokenBucketOptions, private readonly now: () => number = Date.now) {
    this.tokens = options.capacity;
    this.last = now();
  }

  private refill(): void {
    const t = this.now();
    this.tokens = Math.min(this.options.capacity, this.tokens + ((t - this.last) / 1000) * this.options.refillPerSecond);
    this.last = t;
  }

  /** Milliseconds to wait before a token is available (0 = take it now; the token is taken). */
  tryTake(): number {
    this.refill();
    const t = this.now();
    if (t < this.blockedUntil) return this.blockedUntil - t;
    if (this.tokens >= 1) {
      this.tokens -= 1;
      return 0;
    }
    return Math.ceil(((1 - this.tokens) / this.options.refillPerSecond) * 1000);
  }

  /** Waits (bounded by maxWaitMs) for a token; false if none came in time. */
  async take(maxWaitMs: number, sleep: (ms: number) => Promise<void> = (ms) => new Promise((r) => setTimeout(r, ms))): Promise<boolean> {
    const deadline = this.now() + maxWaitMs;
    for (;;) {
      const wait = this.tryTake();
      if (wait === 0) return true;
      if (this.now() + wait > deadline) return false;
      await sleep(wait);
    }
  }

  /** A 429 told us to hold off: nobody in this process writes before then. */
  backOff(ms: number): void {
    this.blockedUntil = Math.max(this.blockedUntil, this.now() + ms);
    this.tokens = Math.min(this.tokens, 0);
  }
}
