// Request throttling as ARM and the Compute resource provider apply it, with token buckets:
//  - ARM, per subscription and principal: reads 250 burst / 25 per s, writes 200 / 10 per s,
//    deletes 200 / 10 per s; every answer carries x-ms-ratelimit-remaining-subscription-<kind>
//    (learn.microsoft.com/azure/azure-resource-manager/management/request-limits-and-throttling).
//    A refusal is 429 SubscriptionRequestsThrottled with Retry-After.
//  - Compute, per VM and per subscription, per operation group (learn.microsoft.com/azure/
//    virtual-machines/compute-throttling-limits): PutVM, UpdateVM (start, restart, powerOff, run
//    commands), DeleteVM (delete, deallocate): 12 burst / 4 per min per VM, 1500 / 500 per min
//    per subscription; LowCostGet (VM GET, instance view, run-command GET/list): 36 / 12 per min
//    per VM, 24000 / 8000 per min per subscription. Answers carry x-ms-ratelimit-remaining-resource;
//    a refusal is 429 OperationNotAllowed with Retry-After (learn.microsoft.com/troubleshoot/azure/
//    virtual-machines/windows/troubleshooting-throttling-errors).
import { createHash } from "node:crypto";
import type { RuntimeConfig } from "./config";
import { TokenBuckets } from "./faults";
import { ArmError } from "./http";

type ComputePolicy = "PutVM" | "UpdateVM" | "DeleteVM" | "LowCostGet";
type Bucket = { burst: number; perMinute: number };

export const COMPUTE_LIMITS: Record<ComputePolicy, { vm: Bucket; subscription: Bucket }> = {
  PutVM: { vm: { burst: 12, perMinute: 4 }, subscription: { burst: 1500, perMinute: 500 } },
  UpdateVM: { vm: { burst: 12, perMinute: 4 }, subscription: { burst: 1500, perMinute: 500 } },
  DeleteVM: { vm: { burst: 12, perMinute: 4 }, subscription: { burst: 1500, perMinute: 500 } },
  LowCostGet: { vm: { burst: 36, perMinute: 12 }, subscription: { burst: 24000, perMinute: 8000 } },
};

const VM_PATH = /^\/subscriptions\/([^/]+)\/resourceGroups\/([^/]+)\/providers\/Microsoft\.Compute\/virtualMachines\/([^/]+)(\/[^?]*)?$/i;

/** The Compute operation group of a request on one VM, if it is one. */
export function computePolicy(method: string, path: string, vmExists: (vmPath: string) => boolean): { policy: ComputePolicy; vm: string } | undefined {
  const m = VM_PATH.exec(path);
  if (!m) return undefined;
  const vm = path.slice(0, path.length - (m[4]?.length ?? 0)).toLowerCase();
  const rest = (m[4] ?? "").toLowerCase();
  if (method === "GET") return { policy: "LowCostGet", vm };
  if (rest === "" && method === "PUT") return { policy: vmExists(vm) ? "UpdateVM" : "PutVM", vm };
  if ((rest === "" && method === "DELETE") || rest === "/deallocate") return { policy: "DeleteVM", vm };
  return { policy: "UpdateVM", vm };
}

export class Throttle {
  private buckets = new TokenBuckets();

  /** Charges the request to its buckets; returns the headers to send, or throws the 429. */
  charge(cfg: RuntimeConfig, req: { method: string; path: string; authorization: string; subscriptionId: string }, vmExists: (vmPath: string) => boolean): Record<string, string> {
    const t = cfg.throttle;
    if (!t.enabled) return {};
    const principal = createHash("sha256").update(req.authorization).digest("hex").slice(0, 16);
    const kind = req.method === "GET" || req.method === "HEAD" ? "reads" : req.method === "DELETE" ? "deletes" : "writes";
    const [burst, refill] = kind === "reads" ? [t.readBurst, t.readRefillPerSecond] : kind === "deletes" ? [t.deleteBurst, t.deleteRefillPerSecond] : [t.burst, t.refillPerSecond];
    const arm = this.buckets.take(`arm|${kind}|${req.subscriptionId.toLowerCase()}|${principal}`, burst, refill);
    const header = `x-ms-ratelimit-remaining-subscription-${kind}`;
    if (arm.waitSeconds > 0) {
      throw new ArmError(429, "SubscriptionRequestsThrottled",
        `Number of '${kind.replace(/s$/, "")}' requests for subscription '${req.subscriptionId}' actor '${principal}' exceeded. Please try again after '${arm.waitSeconds}' seconds after additional tokens are available.`,
        undefined, { "retry-after": String(arm.waitSeconds), [header]: "0" });
    }
    const headers: Record<string, string> = { [header]: String(arm.remaining) };
    const compute = t.compute ? computePolicy(req.method, req.path, vmExists) : undefined;
    if (!compute) return headers;
    const limits = COMPUTE_LIMITS[compute.policy];
    const perVm = this.buckets.take(`compute|${compute.policy}|${compute.vm}`, limits.vm.burst, limits.vm.perMinute / 60);
    const perSub = perVm.waitSeconds > 0 ? perVm : this.buckets.take(`compute|${compute.policy}|${req.subscriptionId.toLowerCase()}`, limits.subscription.burst, limits.subscription.perMinute / 60);
    const remaining = `Microsoft.Compute/${compute.policy}VM1Min;${perVm.remaining},Microsoft.Compute/${compute.policy}Subscription1Min;${perSub === perVm ? 0 : perSub.remaining}`;
    const refused = perVm.waitSeconds > 0 ? perVm : perSub.waitSeconds > 0 ? perSub : undefined;
    if (refused) {
      throw new ArmError(429, "OperationNotAllowed", "The server rejected the request because too many requests have been received for this subscription.",
        compute.policy, { ...headers, "retry-after": String(refused.waitSeconds), "x-ms-ratelimit-remaining-resource": remaining });
    }
    return { ...headers, "x-ms-ratelimit-remaining-resource": remaining };
  }
}
