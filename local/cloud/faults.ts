// Fault injection (HTTP faults before acting, lost responses after acting, operations that fail
// after they were accepted) and the ARM-like write throttle (token bucket per subscription).
import type { OpKind, RuntimeConfig } from "./config";

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

/** Whether this write's response is lost after it was applied (the client sees a dropped connection). */
export function decideLost(cfg: RuntimeConfig, random: () => number = Math.random): boolean {
  const f = cfg.faults;
  if (f.nextLost > 0) return f.nextLost--, true;
  return f.rateLost > 0 && random() < f.rateLost;
}

/**
 * Azure's answers when an accepted operation fails later. Messages as ARM words them (allocation:
 * learn.microsoft.com/troubleshoot/azure/virtual-machines/windows/allocation-failure).
 */
const DEFAULT_FAILURES: Partial<Record<OpKind, { code: string; message: string }>> = {
  vmCreate: { code: "AllocationFailed", message: "Allocation failed. We do not have sufficient capacity for the requested VM size in this region. Read more about improving likelihood of allocation success at http://aka.ms/allocation-guidance" },
  vmStart: { code: "AllocationFailed", message: "Allocation failed. We do not have sufficient capacity for the requested VM size in this region. Read more about improving likelihood of allocation success at http://aka.ms/allocation-guidance" },
  vmRestart: { code: "OperationPreempted", message: "Operation execution has been preempted by a more recent operation." },
  runCommandStart: { code: "VMExtensionProvisioningError", message: "VM has reported a failure when processing extension 'RunCommandHandlerLinux'. The run command did not report a result." },
};
const GENERIC_FAILURE = { code: "InternalOperationError", message: "An internal execution error occurred. Please retry later." };

/** Whether this operation (accepted earlier) ends Failed, and with what error. */
export function decideOutcome(cfg: RuntimeConfig, kind: string, random: () => number = Math.random): { code: string; message: string } | undefined {
  const o = cfg.outcomes[kind as OpKind];
  if (!o) return undefined;
  let fail = false;
  if ((o.next ?? 0) > 0) {
    o.next = o.next! - 1;
    fail = true;
  } else if ((o.rate ?? 0) > 0) fail = random() < o.rate!;
  if (!fail) return undefined;
  const base = DEFAULT_FAILURES[kind as OpKind] ?? GENERIC_FAILURE;
  return { code: o.code ?? base.code, message: o.message ?? (o.code ? `${o.code}: the operation failed (injected).` : base.message) };
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
