// Fault injection and the ARM-like write throttle (token bucket per subscription).
import type { RuntimeConfig } from "./config";

export type FaultDecision = "none" | "429" | "500" | "drop";

export function decideFault(cfg: RuntimeConfig, random: () => number = Math.random): FaultDecision {
  const f = cfg.faults;
  if (f.nextDrop > 0) return f.nextDrop--, "drop";
  if (f.next429 > 0) return f.next429--, "429";
  if (f.next500 > 0) return f.next500--, "500";
  const { rate429, rate500, rateDrop } = f;
  const r = random();
  if (r < rateDrop) return "drop";
  if (r < rateDrop + rate429) return "429";
  if (r < rateDrop + rate429 + rate500) return "500";
  return "none";
}

export class TokenBuckets {
  private buckets = new Map<string, { tokens: number; at: number }>();

  /** Takes one token for `key`; returns 0 when allowed, else seconds until one is available. */
  take(key: string, burst: number, refillPerSecond: number, now = Date.now()): { waitSeconds: number; remaining: number } {
    const b = this.buckets.get(key) ?? { tokens: burst, at: now };
    b.tokens = Math.min(burst, b.tokens + ((now - b.at) / 1000) * refillPerSecond);
    b.at = now;
    this.buckets.set(key, b);
    if (b.tokens >= 1) {
      b.tokens -= 1;
      return { waitSeconds: 0, remaining: Math.floor(b.tokens) };
    }
    return { waitSeconds: Math.max(1, Math.ceil((1 - b.tokens) / refillPerSecond)), remaining: 0 };
  }
}
