import { z } from "zod";
import { ValidationError, type ErrorDetail } from "./errors";

// Turns zod issues into api.md's field-level errors: one detail per field, `target` a JSON
// path such as `schedules[0].cron`, a message a person can act on, and a stable code.

export type Parsed<T> = { ok: true; value: T } | { ok: false; error: ValidationError };

export function parseWith<S extends z.ZodType>(schema: S, input: unknown, root?: string): Parsed<z.output<S>> {
  let result: ReturnType<S["safeParse"]>;
  try {
    // reportInput: zod 4 leaves `input` out of finished issues otherwise, and issuesToDetails
    // needs it to tell a missing field from a wrong one. The issues never leave this module.
    result = schema.safeParse(input, { error: friendlyMessage, reportInput: true }) as ReturnType<S["safeParse"]>;
  } catch (err) {
    // A refinement must never turn bad input into a 500; report it against the whole body.
    const message = err instanceof Error ? err.message : "could not be validated";
    return { ok: false, error: new ValidationError([{ code: "InvalidValue", target: root ?? "body", message }]) };
  }
  if (result.success) return { ok: true, value: result.data as z.output<S> };
  return { ok: false, error: new ValidationError(issuesToDetails(result.error.issues, root)) };
}

export function issuesToDetails(issues: readonly z.core.$ZodIssue[], root?: string): ErrorDetail[] {
  const details: ErrorDetail[] = [];
  const seen = new Set<string>();
  const push = (d: ErrorDetail) => {
    const key = `${d.target}\u0000${d.message}`;
    if (!seen.has(key)) {
      seen.add(key);
      details.push(d);
    }
  };
  for (const issue of issues) {
    const base = issue.path.filter((p): p is string | number => typeof p !== "symbol");
    if (issue.code === "unrecognized_keys") {
      for (const key of issue.keys) {
        push({ code: "UnknownProperty", target: jsonPath([...base, key], root), message: "is not a known property" });
      }
      continue;
    }
    if (issue.code === "invalid_key") {
      const inner = issue.issues[0];
      push({ code: "InvalidValue", target: jsonPath(base, root), message: `invalid key: ${inner?.message ?? "not allowed"}` });
      continue;
    }
    const missing = issue.code === "invalid_type" && issue.input === undefined;
    push({ code: missing ? "MissingProperty" : "InvalidValue", target: jsonPath(base, root), message: issue.message });
  }
  return details;
}

/** `["schedules", 0, "cron"]` → `schedules[0].cron`; odd keys are quoted: `tags["a b"]`. */
export function jsonPath(path: readonly (string | number)[], root?: string): string {
  let out = root ?? "";
  for (const part of path) {
    if (typeof part === "number") out += `[${part}]`;
    else if (/^[A-Za-z_$][A-Za-z0-9_$]*$/.test(part)) out += out === "" ? part : `.${part}`;
    else out += `[${JSON.stringify(part)}]`;
  }
  return out === "" ? "body" : out;
}

/** Messages for issues whose schema did not set one. */
function friendlyMessage(issue: z.core.$ZodRawIssue): string | undefined {
  switch (issue.code) {
    case "invalid_type":
      if (issue.input === undefined) return "is required";
      if (issue.expected === "int") return "must be an integer";
      return `must be ${article(String(issue.expected))}, not ${describe(issue.input)}`;
    case "too_small":
      if (issue.origin === "string") return Number(issue.minimum) <= 1 ? "must not be empty" : `must be at least ${issue.minimum} characters`;
      if (issue.origin === "array") return `must have at least ${issue.minimum} items`;
      return `must be at least ${issue.minimum}`;
    case "too_big":
      if (issue.origin === "string") return `must be at most ${issue.maximum} characters`;
      if (issue.origin === "array") return `must have at most ${issue.maximum} items`;
      return `must be at most ${issue.maximum}`;
    case "invalid_value":
      return `must be one of ${issue.values.map((v) => JSON.stringify(v)).join(", ")}`;
    case "invalid_format":
      return `must be a valid ${issue.format}`;
    case "not_multiple_of":
      return `must be a multiple of ${issue.divisor}`;
    default:
      return undefined;
  }
}

function article(type: string): string {
  return /^[aeiou]/.test(type) ? `an ${type}` : `a ${type}`;
}

function describe(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "an array";
  if (typeof value === "number" && !Number.isFinite(value)) return String(value);
  return article(typeof value); // "an object", "a string", …
}
