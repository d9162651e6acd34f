import { z } from "zod";

export const vmSizeInfo = z.object({
  name: z.string(),
  family: z.string(),
  vCpus: z.number().int(),
  gpus: z.number().int(),
  memoryGb: z.number(),
});
export type VmSizeInfo = z.infer<typeof vmSizeInfo>;

export const familyQuota = z.object({
  family: z.string(),
  used: z.number().int(),
  limit: z.number().int().optional().meta({ description: "Absent when neither policy nor subscription sets a limit." }),
});

/** What the workspace's network and idle policy lets a create ask for (a portal shows only these). */
export const createPolicy = z.object({
  sshPublicAccess: z.boolean().meta({ description: "sshPublicAccess Enabled is allowed (ALLOW_SSH_PUBLIC_ACCESS)." }),
  publicIp: z.boolean().meta({ description: "enablePublicIp is allowed (ALLOW_PUBLIC_IP)." }),
  subnetIds: z.array(z.string()).meta({ description: "Subnets an instance may join; the first is the default." }),
  idleShutdownMinMinutes: z.number().int(),
  idleShutdownMaxMinutes: z.number().int(),
});

export const sizesResponse = z.object({
  value: z.array(vmSizeInfo),
  quota: z.array(familyQuota),
  policy: createPolicy,
});
export type SizesResponse = z.infer<typeof sizesResponse>;

// As functions/health.ts answers: checks only when something is down.
export const healthResponse = z.object({
  status: z.enum(["ok", "unhealthy"]),
  checks: z.record(z.string(), z.object({ status: z.enum(["ok", "down"]), error: z.string().optional() })).optional(),
});
