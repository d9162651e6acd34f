// Small response helpers shared by the HTTP extension and extension routes.
import type http from "node:http";

export function sendJson(res: http.ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.statusCode = status;
  res.setHeader("Content-Type", "application/json; charset=utf-8");
  res.setHeader("Content-Length", Buffer.byteLength(text));
  res.end(text);
}

/** The API's error shape: {"error": {"code", "message", "errorId"?}}. */
export function sendError(res: http.ServerResponse, status: number, code: string, message: string, errorId?: string): void {
  sendJson(res, status, { error: { code, message, ...(errorId ? { errorId } : {}) } });
}

/** An RpcHttpCookie (nullable fields wrapped as {value}) → a Set-Cookie header value. */
export function cookieHeader(c: Record<string, unknown>): string {
  const val = (x: unknown): unknown => (x && typeof x === "object" && "value" in x ? (x as { value: unknown }).value : x);
  const name = val(c.name);
  if (typeof name !== "string" || name === "") return "";
  const parts = [`${name}=${String(val(c.value) ?? "")}`];
  const domain = val(c.domain);
  const path = val(c.path);
  const expires = val(c.expires) as { seconds?: number } | undefined;
  const maxAge = val(c.maxAge);
  if (typeof domain === "string") parts.push(`Domain=${domain}`);
  if (typeof path === "string") parts.push(`Path=${path}`);
  if (expires && typeof expires.seconds === "number") parts.push(`Expires=${new Date(expires.seconds * 1000).toUTCString()}`);
  if (typeof maxAge === "number") parts.push(`Max-Age=${Math.trunc(maxAge)}`);
  if (val(c.secure) === true) parts.push("Secure");
  if (val(c.httpOnly) === true) parts.push("HttpOnly");
  const sameSite = c.sameSite;
  if (sameSite === "lax") parts.push("SameSite=Lax");
  else if (sameSite === "strict") parts.push("SameSite=Strict");
  else if (sameSite === "explicitNone") parts.push("SameSite=None");
  return parts.join("; ");
}
