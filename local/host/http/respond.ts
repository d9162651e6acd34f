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
