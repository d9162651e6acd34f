import { PropertyChangeNotAllowedError, ValidationError, type ErrorDetail } from "../errors";
import { resolveNetwork } from "../policies/network";
import { checkSshRequest } from "../policies/ssh";
import {
  createInstanceBody,
  IMMUTABLE_FIELDS,
  patchInstanceBody,
  type CreateInstanceBody,
  type PatchInstanceBody,
} from "../schemas/instance";
import type { Settings } from "../settings";
import { instanceName } from "../schemas/common";
import { checkSshPublicKey } from "../sshKey";
import { parseWith, type Parsed } from "../validation";

// Request validation = shape (schemas/) + workspace policy (settings). Shape errors come first:
// policy checks need well-formed values.

export type InstancePolicySettings = Pick<
  Settings,
  | "allowedVmSizes"
  | "allowedSubnetIds"
  | "allowPublicIp"
  | "allowSshPublicAccess"
  | "sshAllowedSourcePrefixes"
  | "idleShutdownMinMinutes"
  | "jobsPerCoreDefault"
>;

/** A create request after validation and policy: every default filled in. */
export interface CreateInstanceRequest extends Omit<CreateInstanceBody, "subnetId" | "jobsPerCore"> {
  name: string;
  subnetId: string;
  jobsPerCore: number;
}

export function validateInstanceName(name: unknown): Parsed<string> {
  return parseWith(instanceName, name, "name");
}

export function validateCreateInstance(name: unknown, body: unknown, settings: InstancePolicySettings): Parsed<CreateInstanceRequest> {
  const nameResult = validateInstanceName(name);
  const bodyResult = parseWith(createInstanceBody, body ?? {});
  if (!nameResult.ok || !bodyResult.ok) {
    const details = [
      ...(nameResult.ok ? [] : nameResult.error.details),
      ...(bodyResult.ok ? [] : bodyResult.error.details),
    ];
    return { ok: false, error: new ValidationError(details) };
  }
  const value = bodyResult.value;
  const errors: ErrorDetail[] = [];

  const vmSize = settings.allowedVmSizes.find((s) => s.toLowerCase() === value.vmSize.toLowerCase());
  if (vmSize === undefined) {
    errors.push({
      code: "VmSizeNotAllowed",
      target: "vmSize",
      message: `is not allowed in this workspace; allowed sizes: ${settings.allowedVmSizes.join(", ")}`,
    });
  }
  errors.push(...checkSshRequest(value.sshPublicAccess, settings));
  errors.push(...idleMinimumErrors(value.idleShutdownMinutes, settings.idleShutdownMinMinutes));
  const network = resolveNetwork(value, settings);
  if ("errors" in network) errors.push(...network.errors);
  if (errors.length > 0 || vmSize === undefined || "errors" in network) {
    return { ok: false, error: new ValidationError(errors) };
  }
  return {
    ok: true,
    value: {
      ...value,
      name: nameResult.value,
      vmSize,
      subnetId: network.subnetId,
      enablePublicIp: network.publicIp,
      jobsPerCore: value.jobsPerCore ?? settings.jobsPerCoreDefault,
      ...(value.sshPublicKey !== undefined ? { sshPublicKey: normalizedKey(value.sshPublicKey) } : {}),
    },
  };
}

/** The fixed fields of an existing instance, as the create request set them. */
export type ImmutableSnapshot = Partial<Record<(typeof IMMUTABLE_FIELDS)[number], unknown>>;

/**
 * PATCH: a fixed field may be repeated with its current value (clients often send back what
 * they read), but a different value is a 409 PropertyChangeNotAllowed, before any shape check.
 */
export function validatePatchInstance(
  body: unknown,
  current: ImmutableSnapshot,
  settings: Pick<Settings, "idleShutdownMinMinutes">,
): Parsed<PatchInstanceBody> | { ok: false; error: PropertyChangeNotAllowedError } {
  if (body === null || typeof body !== "object" || Array.isArray(body)) {
    return { ok: false, error: ValidationError.field("body", "must be a JSON object") };
  }
  const rest: Record<string, unknown> = { ...(body as Record<string, unknown>) };
  const changed: string[] = [];
  for (const field of IMMUTABLE_FIELDS) {
    if (!(field in rest)) continue;
    if (!sameValue(field, rest[field], current[field])) changed.push(field);
    delete rest[field];
  }
  if (changed.length > 0) return { ok: false, error: new PropertyChangeNotAllowedError(changed) };
  const parsed = parseWith(patchInstanceBody, rest);
  if (!parsed.ok) return parsed;
  const errors = idleMinimumErrors(parsed.value.idleShutdownMinutes, settings.idleShutdownMinMinutes);
  if (errors.length > 0) return { ok: false, error: new ValidationError(errors) };
  const value = parsed.value;
  if (value.sshPublicKey !== undefined) value.sshPublicKey = normalizedKey(value.sshPublicKey);
  return { ok: true, value };
}

function idleMinimumErrors(minutes: number | null | undefined, minimum: number): ErrorDetail[] {
  if (minutes === null || minutes === undefined || minutes >= minimum) return [];
  return [
    {
      code: "InvalidValue",
      target: "idleShutdownMinutes",
      message: `must be at least ${minimum} minutes (IDLE_SHUTDOWN_MIN_MINUTES), or null to turn idle shutdown off`,
    },
  ];
}

function normalizedKey(key: string): string {
  const info = checkSshPublicKey(key);
  return "error" in info ? key : info.normalized;
}

function sameValue(field: string, a: unknown, b: unknown): boolean {
  // Size names and resource ids are case-insensitive in ARM.
  if ((field === "vmSize" || field === "subnetId") && typeof a === "string" && typeof b === "string") {
    return a.toLowerCase() === b.toLowerCase();
  }
  return JSON.stringify(a) === JSON.stringify(b);
}
