// Small HTTP helpers shared by the ARM, Files and admin surfaces: body reading, ARM-shaped
// errors and JSON responses.
import type { IncomingMessage, ServerResponse } from "node:http";
import { randomUUID } from "node:crypto";

export type Json = null | boolean | number | string | Json[] | { [k: string]: Json };
export type JsonObject = { [k: string]: Json };

/** An error answered the way ARM answers it: `{"error":{"code","message","target"?}}`. */
export class ArmError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly target?: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
  }
  body(): JsonObject {
    const error: JsonObject = { code: this.code, message: this.message };
    if (this.target) error.target = this.target;
    return { error };
  }
}

export const invalidParameter = (target: string, message: string) =>
  new ArmError(400, "InvalidParameter", message, target);

export const MAX_BODY_BYTES = 4 * 1024 * 1024;

export async function readBody(req: IncomingMessage, limit = MAX_BODY_BYTES): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > limit) throw new ArmError(413, "RequestEntityTooLarge", `The request body exceeds ${limit} bytes.`);
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks);
}

/** Parses a JSON object body; malformed or non-object bodies are ARM's InvalidRequestContent. */
export function parseJsonObject(raw: Buffer): JsonObject {
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw.toString("utf8") || "null");
  } catch (err) {
    throw new ArmError(400, "InvalidRequestContent",
      `The request content was invalid and could not be deserialized: '${(err as Error).message}'.`);
  }
  if (parsed === null || typeof parsed !== "object" || Array.isArray(parsed)) {
    throw new ArmError(400, "InvalidRequestContent", "The request content was invalid: a JSON object is required.");
  }
  return parsed as JsonObject;
}

export function sendJson(res: ServerResponse, status: number, body: Json | undefined, headers: Record<string, string> = {}): void {
  const payload = body === undefined ? "" : JSON.stringify(body);
  res.writeHead(status, {
    ...baseHeaders(),
    ...(body === undefined ? {} : { "content-type": "application/json; charset=utf-8" }),
    "content-length": String(Buffer.byteLength(payload)),
    ...headers,
  });
  res.end(payload);
}

export function sendArmError(res: ServerResponse, err: ArmError): void {
  sendJson(res, err.status, err.body(), err.headers);
}

export function baseHeaders(): Record<string, string> {
  const id = randomUUID();
  return { "x-ms-request-id": id, "x-ms-correlation-request-id": id, "cache-control": "no-cache" };
}

// Typed accessors for untyped request JSON: each names the field it rejects.
export function obj(v: Json | undefined): JsonObject | undefined {
  return v !== null && typeof v === "object" && !Array.isArray(v) ? v : undefined;
}
export function str(v: Json | undefined): string | undefined {
  return typeof v === "string" ? v : undefined;
}
export function arr(v: Json | undefined): Json[] | undefined {
  return Array.isArray(v) ? v : undefined;
}
export function requireObj(v: Json | undefined, field: string): JsonObject {
  const o = obj(v);
  if (!o) throw invalidParameter(field, `Required parameter '${field}' is missing (null) or not an object.`);
  return o;
}
export function requireStr(v: Json | undefined, field: string): string {
  if (typeof v !== "string" || v === "") throw invalidParameter(field, `Required parameter '${field}' is missing (null).`);
  return v;
}
export function optBool(v: Json | undefined, field: string): boolean | undefined {
  if (v === undefined || v === null) return undefined;
  if (typeof v !== "boolean") throw invalidParameter(field, `The value of parameter '${field}' must be a boolean.`);
  return v;
}

/** Stable JSON (sorted keys) for comparing request bodies: the basis of idempotent PUT. */
export function canonical(v: Json | undefined): string {
  if (v === undefined) return "";
  if (v === null || typeof v !== "object") return JSON.stringify(v);
  if (Array.isArray(v)) return `[${v.map(canonical).join(",")}]`;
  const keys = Object.keys(v).sort();
  return `{${keys.filter((k) => v[k] !== undefined).map((k) => `${JSON.stringify(k)}:${canonical(v[k])}`).join(",")}}`;
}

export const nowIso = () => new Date().toISOString();
