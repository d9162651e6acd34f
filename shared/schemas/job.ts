import { z } from "zod";
import { JOB_STATES } from "../instances/states";
import { instanceName, isoDateTime, userId } from "./common";

export const COMMAND_MAX_LENGTH = 32 * 1024;
export const MAX_ENV_VARS = 100;
/** Set by the platform for every job; a job may not override them. */
export const RESERVED_ENV_VARS = ["JOB_ID", "CI_NAME", "CI_USER", "CI_SHARE", "CUDA_VISIBLE_DEVICES"] as const;

const envName = z
  .string()
  .regex(/^[A-Za-z_][A-Za-z0-9_]{0,255}$/, { error: "variable names must match [A-Za-z_][A-Za-z0-9_]*" })
  .refine((name) => !(RESERVED_ENV_VARS as readonly string[]).includes(name), {
    error: `is set by the platform and cannot be overridden (${RESERVED_ENV_VARS.join(", ")})`,
  });

const envValue = z
  .string()
  .max(COMMAND_MAX_LENGTH, { error: `must be at most ${COMMAND_MAX_LENGTH} characters` })
  .refine((v) => !v.includes("\u0000"), { error: "must not contain NUL characters" });

export const jobSubmissionBody = z.strictObject({
  name: z
    .string()
    .regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/, { error: "must be 1–128 characters: letters, digits, . _ -, starting with a letter or digit" })
    .optional(),
  command: z
    .string()
    .max(COMMAND_MAX_LENGTH, { error: `must be at most ${COMMAND_MAX_LENGTH} characters` })
    .refine((c) => c.trim().length > 0, { error: "must not be empty" })
    .refine((c) => !c.includes("\u0000"), { error: "must not contain NUL characters" }),
  environment: z
    .strictObject({
      image: z
        .string()
        .max(512)
        .describe(
          "Container image the job runs in ([registry/]repository[:tag][@sha256:…]), from a registry the workspace allows (ALLOWED_JOB_REGISTRIES); otherwise 400 naming environment.image. The job stays Starting while the VM pulls it; a failed pull ends it Failed with the registry's message. Without it the job runs as a process on the VM.",
        )
        .optional(),
      workingDirectory: z
        .string()
        .max(1024)
        .regex(/^\/[^\0]*$/, { error: "must be an absolute path inside the container" })
        .refine((p) => !p.split("/").includes(".."), { error: "must not contain '..'" })
        .describe("Where the user's folder on the share is mounted in the container, and the job's working directory (default: the same path as on the VM). Only with image.")
        .optional(),
      variables: z
        .record(envName, envValue)
        .refine((v) => Object.keys(v).length <= MAX_ENV_VARS, { error: `at most ${MAX_ENV_VARS} variables are allowed` })
        .default({}),
    })
    .refine((e) => e.workingDirectory === undefined || e.image !== undefined, {
      error: "workingDirectory is the user's folder inside the container: it needs an image",
      path: ["workingDirectory"],
    })
    .optional(),
  gpus: z.number().int().min(0).max(16).default(0),
  timeoutMinutes: z.number().int().min(1).max(10080, { error: "must be at most 10080 minutes (7 days)" }).default(1440),
  distribution: z
    .strictObject({
      type: z.enum(["pytorch", "mpi", "tensorflow"]),
      processCount: z.number().int().min(1).max(64),
    })
    .optional(),
});
export type JobSubmissionBody = z.output<typeof jobSubmissionBody>;
export type JobSubmissionInput = z.input<typeof jobSubmissionBody>;

export const jobQueueMessage = z.strictObject({
  instance: instanceName,
  submittedBy: userId,
  idempotencyKey: z.string().min(1).max(256).optional(),
  job: jobSubmissionBody,
});
export type JobQueueMessage = z.output<typeof jobQueueMessage>;

export const jobState = z.enum(JOB_STATES);

export const jobResponse = z.object({
  id: z.string(),
  name: z.string(),
  instance: z.string(),
  instanceId: z.string().optional().describe("The instance (its instanceId) the job was submitted to."),
  state: jobState,
  command: z.string().optional(),
  gpus: z.number().int().optional(),
  gpuIndices: z.array(z.number().int()).optional(),
  timeoutMinutes: z.number().int().optional(),
  exitCode: z.number().int().optional(),
  submittedBy: z.string(),
  submittedAt: isoDateTime,
  startedAt: isoDateTime.optional(),
  endedAt: isoDateTime.optional(),
  error: z.object({ code: z.string(), message: z.string() }).optional(),
});
export type JobResponse = z.infer<typeof jobResponse>;

export const jobList = z.object({ value: z.array(jobResponse), nextLink: z.string().optional() });
