// The portal's API access: the shared typed client (client/api.ts) over same-origin fetch. The
// browser's sign-in session cookie goes with every request; the page never holds a token.
import { ApiError, createApiClient, TERMINAL_JOB_STATES, TERMINAL_OPERATION_STATUSES, unwrap } from "../../client/api";

export { ApiError, TERMINAL_JOB_STATES, TERMINAL_OPERATION_STATUSES, unwrap };

// fetch's default credentials ("same-origin") send the session cookie.
export const api = createApiClient({ baseUrl: location.origin });

/** Field → message, from an API error's target and details (e.g. "schedules[0].cron", "vmSize"). */
export function fieldErrors(err: unknown): Record<string, string> {
  if (!(err instanceof ApiError)) return {};
  const out: Record<string, string> = {};
  for (const d of err.details ?? []) if (d.target) out[d.target] ??= d.message;
  if (err.target && !out[err.target]) out[err.target] = err.message;
  return out;
}

/** The first message that belongs to a field whose name starts with `prefix`. */
export function errorAt(errors: Record<string, string>, prefix: string): string | undefined {
  for (const [k, v] of Object.entries(errors)) if (k === prefix || k.startsWith(`${prefix}.`) || k.startsWith(`${prefix}[`)) return v;
  return undefined;
}

export function message(err: unknown): string {
  if (err instanceof ApiError) return `${err.message} (${err.code})`;
  return err instanceof Error ? err.message : String(err);
}

/** Text of one log stream from a byte offset; the new offset follows the bytes read. */
export async function readLog(jobId: string, stream: "stdout" | "stderr", offset: number): Promise<{ text: string; offset: number }> {
  const res = await fetch(`/api/jobs/${encodeURIComponent(jobId)}/logs?stream=${stream}&offset=${offset}`, { credentials: "same-origin" });
  if (!res.ok) throw new ApiError(res.status, `Http${res.status}`, `Logs: ${res.status}`);
  const bytes = new Uint8Array(await res.arrayBuffer());
  return { text: decoder(jobId + stream).decode(bytes, { stream: true }), offset: offset + bytes.length };
}

// One streaming decoder per log, so a character split across two reads comes out whole.
const decoders = new Map<string, TextDecoder>();
function decoder(key: string): TextDecoder {
  let d = decoders.get(key);
  if (!d) decoders.set(key, (d = new TextDecoder()));
  return d;
}
