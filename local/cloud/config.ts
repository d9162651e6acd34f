// Runtime behaviour knobs: latency per operation kind, fault injection and the ARM write
// throttle. Set from env at start (see settings.ts) and changed at runtime via /admin/config.
import { z } from "zod";

export const OP_KINDS = [
  "nsgPut", "nsgDelete", "publicIpPut", "publicIpDelete", "nicPut", "nicDelete",
  "vmCreate", "vmUpdate", "vmStart", "vmDeallocate", "vmPowerOff", "vmRestart", "vmDelete",
  "runCommandStart", "runCommandDelete", "extensionPut",
] as const;
export type OpKind = (typeof OP_KINDS)[number];

export type LatencyProfile = "realistic" | "none";

const REALISTIC: Record<OpKind, number> = {
  nsgPut: 1000, nsgDelete: 1000, publicIpPut: 1000, publicIpDelete: 1000, nicPut: 1000, nicDelete: 1000,
  vmCreate: 5000, vmUpdate: 2000, vmStart: 3000, vmDeallocate: 3000, vmPowerOff: 3000, vmRestart: 3000, vmDelete: 3000,
  runCommandStart: 500, runCommandDelete: 500,
  // The NVIDIA driver extension takes 10+ minutes on Azure; compressed here like the VM operations.
  extensionPut: 3000,
};

export function latencyFor(profile: LatencyProfile): Record<OpKind, number> {
  const out = { ...REALISTIC };
  if (profile === "none") for (const k of OP_KINDS) out[k] = 0;
  return out;
}

const latencySchema = z.partialRecord(z.enum(OP_KINDS), z.number().int().min(0).max(3_600_000));
const faultsSchema = z.object({
  rate429: z.number().min(0).max(1),
  rate500: z.number().min(0).max(1),
  rateDrop: z.number().min(0).max(1),
  retryAfterSeconds: z.number().int().min(0).max(3600),
  /** Deterministic faults: the next N requests get this fault (counted down as applied). */
  next429: z.number().int().min(0),
  next500: z.number().int().min(0),
  nextDrop: z.number().int().min(0),
  /** "Applied but the response was lost": the write is done, then the connection drops. */
  rateLost: z.number().min(0).max(1),
  nextLost: z.number().int().min(0),
}).strict();
/**
 * Per-kind outcome injection: an operation accepted with 201/202 that later ends Failed (the
 * next N of that kind, or at a random rate) with Azure's code, e.g. AllocationFailed for vmCreate.
 */
const restrictionSchema = z.object({
  type: z.enum(["Location", "Zone"]),
  reasonCode: z.enum(["NotAvailableForSubscription", "QuotaId"]),
  zones: z.array(z.enum(["1", "2", "3"])).min(1).optional(),
}).strict();
const outcomeSchema = z.object({
  next: z.number().int().min(0),
  rate: z.number().min(0).max(1),
  code: z.string().regex(/^[A-Za-z][A-Za-z0-9]*$/),
  message: z.string().min(1).max(2000),
}).partial().strict();
/** ARM's buckets per subscription and principal (burst/refill of writes, reads, deletes) and Compute's per-VM ones. */
const throttleSchema = z.object({
  enabled: z.boolean(),
  burst: z.number().int().min(1),
  refillPerSecond: z.number().positive(),
  readBurst: z.number().int().min(1),
  readRefillPerSecond: z.number().positive(),
  deleteBurst: z.number().int().min(1),
  deleteRefillPerSecond: z.number().positive(),
  /** Compute's per-VM and per-subscription buckets (Azure's published numbers). */
  compute: z.boolean(),
}).strict();

export const configPatchSchema = z.object({
  latencyProfile: z.enum(["realistic", "none"]).optional(),
  latencyMs: latencySchema.optional(),
  retryAfterSeconds: z.number().int().min(0).max(3600).optional(),
  faults: faultsSchema.partial().optional(),
  throttle: throttleSchema.partial().optional(),
  nicReservationSeconds: z.number().int().min(0).max(3600).optional(),
  stateLagMs: z.number().int().min(0).max(60_000).optional(),
  outcomes: z.partialRecord(z.enum(OP_KINDS), outcomeSchema).optional(),
  /** Size name → its restriction for this subscription (null lifts it). */
  skuRestrictions: z.record(z.string(), restrictionSchema.nullable()).optional(),
  /** Custom images that exist (gallery image, image version or managed image ids); replaces the list. */
  customImages: z.array(z.string().min(1)).optional(),
}).strict();
export type ConfigPatch = z.infer<typeof configPatchSchema>;

export type RuntimeConfig = {
  latencyMs: Record<OpKind, number>;
  /** Retry-After sent on LRO responses (0: header omitted so the SDK uses its own interval). */
  retryAfterSeconds: number;
  faults: z.infer<typeof faultsSchema>;
  throttle: z.infer<typeof throttleSchema>;
  /** How long a NIC stays reserved after its VM was deleted or failed to create (Azure: 180 s). */
  nicReservationSeconds: number;
  /** How long a VM still shows its old state after an accepted action (realistic: 1 s, none: 0). */
  stateLagMs: number;
  outcomes: Partial<Record<OpKind, z.infer<typeof outcomeSchema>>>;
  skuRestrictions: Record<string, z.infer<typeof restrictionSchema>>;
  customImages: string[];
};

export function defaultConfig(profile: LatencyProfile): RuntimeConfig {
  return {
    latencyMs: latencyFor(profile),
    retryAfterSeconds: profile === "none" ? 0 : 1,
    faults: { rate429: 0, rate500: 0, rateDrop: 0, retryAfterSeconds: 1, next429: 0, next500: 0, nextDrop: 0, rateLost: 0, nextLost: 0 },
    outcomes: {},
    // As on a typical subscription: the 8-GPU ND size needs an approval first.
    skuRestrictions: { Standard_ND96asr_v4: { type: "Location", reasonCode: "NotAvailableForSubscription" } },
    // ARM's buckets (see throttle.ts). Compute's per-VM buckets count per minute of wall clock, which
    // the "none" profile compresses, so they are on only in the realistic profile (tests turn them on).
    throttle: { enabled: true, burst: 200, refillPerSecond: 10, readBurst: 250, readRefillPerSecond: 25, deleteBurst: 200, deleteRefillPerSecond: 10, compute: profile === "realistic" },
    // Azure: "Nic(s) in request is reserved for another Virtual Machine for 180 seconds" (quoted
    // in Azure/karpenter-provider-azure#92, microsoft/AzureTRE#4511). Not shortened by the
    // "none" latency profile: tests set it explicitly.
    nicReservationSeconds: 180,
    stateLagMs: profile === "realistic" ? 1000 : 0,
    customImages: [],
  };
}

export function applyPatch(cfg: RuntimeConfig, patch: ConfigPatch): RuntimeConfig {
  const next: RuntimeConfig = structuredClone(cfg);
  if (patch.latencyProfile) {
    next.latencyMs = latencyFor(patch.latencyProfile);
    if (patch.retryAfterSeconds === undefined) next.retryAfterSeconds = patch.latencyProfile === "none" ? 0 : 1;
  }
  if (patch.latencyMs) Object.assign(next.latencyMs, patch.latencyMs);
  if (patch.retryAfterSeconds !== undefined) next.retryAfterSeconds = patch.retryAfterSeconds;
  if (patch.faults) Object.assign(next.faults, patch.faults);
  if (patch.throttle) Object.assign(next.throttle, patch.throttle);
  if (patch.nicReservationSeconds !== undefined) next.nicReservationSeconds = patch.nicReservationSeconds;
  if (patch.stateLagMs !== undefined) next.stateLagMs = patch.stateLagMs;
  for (const [size, r] of Object.entries(patch.skuRestrictions ?? {})) {
    if (r) next.skuRestrictions[size] = r;
    else delete next.skuRestrictions[size];
  }
  if (patch.customImages) next.customImages = [...patch.customImages];
  for (const [kind, o] of Object.entries(patch.outcomes ?? {}) as [OpKind, z.infer<typeof outcomeSchema>][]) {
    next.outcomes[kind] = { ...next.outcomes[kind], ...o };
  }
  return next;
}

/** Parses a config patch, naming the offending field on error. */
export function parseConfigPatch(input: unknown, source: string): ConfigPatch {
  const r = configPatchSchema.safeParse(input);
  if (!r.success) {
    const issue = r.error.issues[0];
    throw new Error(`${source}: ${issue?.path.join(".") || "(root)"}: ${issue?.message}`);
  }
  return r.data;
}
