import { z } from "zod";
import { INSTANCE_STATES, OPERATION_STATUSES } from "../instances/states";
import {
  errorDetail,
  instanceName,
  isoDateTime,
  schedule,
  schedules,
  setupScript,
  sshPublicKey,
  subnetId,
  tags,
  userId,
  vmSizeName,
} from "./common";

export const IDLE_SHUTDOWN_LIMIT_MINUTES = 4320;
// The shape allows 1..4320; the lower bound that applies is IDLE_SHUTDOWN_MIN_MINUTES (policy).
const idleShutdownMinutes = z
  .number()
  .int({ error: "must be a whole number of minutes" })
  .min(1)
  .max(IDLE_SHUTDOWN_LIMIT_MINUTES, { error: `must be at most ${IDLE_SHUTDOWN_LIMIT_MINUTES} minutes (3 days)` })
  .nullable()
  .meta({ description: "Minutes of inactivity before the instance stops; null turns idle shutdown off. Minimum: IDLE_SHUTDOWN_MIN_MINUTES (default 15)." });

const jobsPerCore = z.number().int().min(1).max(16).meta({ description: "Parallel jobs per vCPU; default JOBS_PER_CORE_DEFAULT." });
const description = z.string().max(1024, { error: "must be at most 1024 characters" });

export const createInstanceBody = z
  .strictObject({
    vmSize: vmSizeName,
    assignedUser: userId.optional().meta({ description: "Admins only; defaults to the caller." }),
    description: description.optional(),
    sshPublicAccess: z.enum(["Enabled", "Disabled"]).default("Disabled"),
    sshPublicKey: sshPublicKey.optional(),
    subnetId: subnetId.optional(),
    enablePublicIp: z.boolean().default(false),
    idleShutdownMinutes: idleShutdownMinutes.default(null),
    schedules: schedules.default([]),
    setupScripts: z.strictObject({ creation: setupScript.optional(), startup: setupScript.optional() }).optional(),
    jobsPerCore: jobsPerCore.optional(),
    tags: tags.default({}),
  })
  .superRefine((body, ctx) => {
    if (body.sshPublicAccess === "Enabled" && body.sshPublicKey === undefined) {
      ctx.addIssue({ code: "custom", path: ["sshPublicKey"], message: "is required when sshPublicAccess is Enabled" });
    }
  });
export type CreateInstanceBody = z.output<typeof createInstanceBody>;
export type CreateInstanceInput = z.input<typeof createInstanceBody>;

/** Fields a PATCH may change; every other field of the create body is fixed after creation. */
export const MUTABLE_FIELDS = ["description", "idleShutdownMinutes", "schedules", "jobsPerCore", "tags", "sshPublicKey"] as const;
export const IMMUTABLE_FIELDS = ["vmSize", "assignedUser", "sshPublicAccess", "subnetId", "enablePublicIp", "setupScripts"] as const;

export const patchInstanceBody = z.strictObject({
  description: description.optional(),
  idleShutdownMinutes: idleShutdownMinutes.optional(),
  schedules: schedules.optional(),
  jobsPerCore: jobsPerCore.optional(),
  tags: tags.optional(),
  sshPublicKey: sshPublicKey.optional(),
});
export type PatchInstanceBody = z.output<typeof patchInstanceBody>;

export const instanceState = z.enum(INSTANCE_STATES);

export const lastOperation = z.object({
  id: z.string().optional(),
  name: z.string(),
  status: z.enum(OPERATION_STATUSES),
  startedAt: isoDateTime,
  endedAt: isoDateTime.optional(),
  error: z.object({ code: z.string(), message: z.string(), details: z.array(errorDetail).optional() }).optional(),
  operation: z.string().optional().meta({ description: "The operation's URL (`GET /api/operations/{id}`)." }),
  audit: z.string().optional().meta({ description: "Its entry on the audit trail (`GET /api/audit/{id}`): who or what asked for it, and why." }),
});

export const autoStopStatus = z.object({
  idle: z.boolean().optional(),
  idleSince: isoDateTime.optional(),
  idleShutdownAt: isoDateTime.optional(),
  nextScheduledAction: z
    .object({ action: z.enum(["Start", "Stop"]), at: isoDateTime, postponed: z.boolean().optional().describe("A scheduled Stop moved by POST .../autostop/postpone.") })
    .optional(),
  notIdleBecause: z.array(z.string()).optional().describe('What keeps the instance from idle shutdown, e.g. "1 job running", "kernel busy in train.ipynb", "GPU 87 % used".'),
  warning: z
    .object({
      action: z.literal("Stop"),
      source: z.enum(["idle", "schedule"]),
      at: isoDateTime,
      message: z.string(),
    })
    .optional()
    .describe("Shown AUTOSTOP_WARNING_MINUTES before an idle or scheduled stop; POST .../autostop/postpone moves it back."),
});

export const instanceResponse = z.object({
  name: instanceName,
  instanceId: z.string().optional().describe("Immutable id of this instance; a later instance of the same name gets another."),
  state: instanceState,
  vmSize: z.string(),
  vCpus: z.number().int(),
  gpus: z.number().int(),
  assignedUser: z.string(),
  createdBy: z.string(),
  createdAt: isoDateTime,
  description: z.string().optional(),
  ssh: z.object({
    publicAccess: z.enum(["Enabled", "Disabled"]),
    adminUserName: z.string(),
    address: z.string().optional(),
    port: z.number().int().optional(),
  }),
  network: z.object({ subnetId: z.string(), privateIp: z.string().optional(), publicIp: z.string().optional() }),
  idleShutdownMinutes: z.number().int().nullable(),
  lastActivityAt: isoDateTime.optional(),
  schedules: z.array(schedule),
  applications: z
    .array(
      z.object({
        name: z.enum(["terminal", "jupyter", "jupyterlab", "vscode"]),
        title: z.string(),
        state: z.enum(["Available", "NotInstalled", "Unavailable"]),
        url: z.string().optional().describe("The application on the VM's authenticating proxy; open it with a URL from POST .../applications/{app}/sessions."),
        message: z.string().optional(),
      }),
    )
    .describe("The workstation's applications as its agent last reported them."),
  jobs: z.object({ queued: z.number().int(), running: z.number().int(), cap: z.number().int() }),
  jobsPerCore: z.number().int().optional(),
  lastOperation: lastOperation.optional(),
  autoStop: autoStopStatus.optional(),
  tags: z.record(z.string(), z.string()),
});
export type InstanceResponse = z.infer<typeof instanceResponse>;

export const instanceList = z.object({ value: z.array(instanceResponse), nextLink: z.string().optional() });

export const listInstancesQuery = z.strictObject({
  state: instanceState.optional(),
  assignedUser: userId.optional(),
});
