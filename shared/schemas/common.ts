import { Cron } from "croner";
import { z } from "zod";
import { parseSubnetId } from "../armIds";
import { checkSshPublicKey, SSH_PUBLIC_KEY_MAX_LENGTH } from "../sshKey";

// Building blocks shared by the request and response schemas. Rules that depend on settings
// (allowed sizes, subnets, the idle minimum) are policy checks in shared/instances/validate.ts.

export const INSTANCE_NAME_PATTERN = /^[A-Za-z][A-Za-z0-9-]{2,23}$/;
export const instanceName = z
  .string()
  .regex(INSTANCE_NAME_PATTERN, { error: "must be 3–24 characters: letters, digits and hyphens, starting with a letter" })
  .meta({ description: "3–24 characters: letters, digits and hyphens, starting with a letter.", example: "alice-gpu-1" });

// A user id ends up in a share path (Users/<user>) and in table keys: no separators, no dots-only.
export const userId = z
  .string()
  .regex(/^[A-Za-z0-9@_-][A-Za-z0-9@._-]{0,127}$/, {
    error: "must be 1–128 characters: letters, digits and . _ @ -, not starting with a dot",
  })
  .meta({ description: "A user's id (the object id in Azure; a local user name locally).", example: "alice" });

export const vmSizeName = z
  .string()
  .regex(/^[A-Za-z0-9_]{1,64}$/, { error: "must be a VM size name such as Standard_D4s_v5" })
  .meta({ example: "Standard_NC4as_T4_v3" });

export const subnetId = z
  .string()
  .max(1024)
  .refine((id) => parseSubnetId(id) !== undefined, {
    error:
      "must be a subnet resource id: /subscriptions/{id}/resourceGroups/{rg}/providers/Microsoft.Network/virtualNetworks/{vnet}/subnets/{subnet}",
  });

export const sshPublicKey = z
  .string()
  .max(SSH_PUBLIC_KEY_MAX_LENGTH)
  .superRefine((value, ctx) => {
    const result = checkSshPublicKey(value);
    if ("error" in result) ctx.addIssue({ code: "custom", message: result.error });
  })
  .meta({ description: "OpenSSH public key: ssh-ed25519 or ssh-rsa (≥ 2048 bits); Azure VMs take no other type (ECDSA is refused)." });

export function isIanaTimeZone(tz: string): boolean {
  if (tz.length === 0 || tz.length > 64) return false;
  try {
    new Intl.DateTimeFormat("en-US", { timeZone: tz });
    return true;
  } catch {
    return false;
  }
}

export const timeZone = z
  .string()
  .refine(isIanaTimeZone, {
    error: "must be an IANA time zone such as Europe/Stockholm (Windows zone names are not supported)",
  })
  .meta({ example: "Europe/Stockholm" });

/** Returns an error message, or undefined when `expr` is a valid five-field cron expression. */
export function fiveFieldCronError(expr: string): string | undefined {
  const fields = expr.trim().split(/\s+/);
  if (fields.length !== 5 || fields[0] === "") {
    return `must have five fields (minute hour day-of-month month day-of-week), found ${expr.trim() === "" ? 0 : fields.length}`;
  }
  try {
    new Cron(expr, { mode: "5-part", paused: true });
    return undefined;
  } catch (err) {
    const detail = err instanceof Error ? err.message.replace(/^CronPattern: /, "") : "invalid";
    return `is not a valid cron expression: ${detail}`;
  }
}

export const cronExpression = z
  .string()
  .max(256)
  .superRefine((value, ctx) => {
    const error = fiveFieldCronError(value);
    if (error) ctx.addIssue({ code: "custom", message: error });
  })
  .meta({ description: "Five-field cron: minute hour day-of-month month day-of-week.", example: "0 19 * * 1-5" });

export const schedule = z
  .strictObject({
    action: z.enum(["Start", "Stop"]),
    cron: cronExpression,
    timeZone,
    enabled: z.boolean().default(true),
  });
export type Schedule = z.infer<typeof schedule>;

export const MAX_SCHEDULES = 4;
export const schedules = z.array(schedule).max(MAX_SCHEDULES, { error: `at most ${MAX_SCHEDULES} schedules are allowed` });

// ARM tag rules: ≤ 50 tags, name ≤ 512 chars without < > % & \ ? /, value ≤ 256 chars.
export const MAX_TAGS = 50;
const tagName = z
  .string()
  .min(1, { error: "tag names must not be empty" })
  .max(512, { error: "tag names must be at most 512 characters" })
  .regex(/^[^<>%&\\?/]*$/, { error: "tag names must not contain < > % & \\ ? /" });
export const tags = z
  .record(tagName, z.string().max(256, { error: "tag values must be at most 256 characters" }))
  .refine((t) => Object.keys(t).length <= MAX_TAGS, { error: `at most ${MAX_TAGS} tags are allowed` });

export const SCRIPT_MAX_LENGTH = 64 * 1024;
export const setupScript = z
  .strictObject({
    inline: z
      .string()
      .min(1, { error: "must not be empty" })
      .max(SCRIPT_MAX_LENGTH, { error: `must be at most ${SCRIPT_MAX_LENGTH} characters` }),
    timeoutMinutes: z.number().int().min(1).max(120).default(15),
  });

export const isoDateTime = z.iso.datetime({ offset: true });

export const errorDetail = z.object({ code: z.string(), target: z.string(), message: z.string() });
export const errorBody = z
  .object({
    error: z.object({
      code: z.string().meta({ example: "InvalidRequest" }),
      message: z.string(),
      target: z.string().optional(),
      details: z.array(errorDetail).optional(),
      errorId: z.string().optional(),
    }),
  });
export type ErrorBodyShape = z.infer<typeof errorBody>;

export function listOf<T extends z.ZodType>(item: T) {
  return z.object({ value: z.array(item), nextLink: z.string().optional() });
}
