// The typed HTTP client of the Compute Instances API, shared by the CLI and the portal.
// Types come from client/schema.ts (generated from the OpenAPI document); transport is
// openapi-fetch over the platform's fetch. Every non-2xx answer becomes an ApiError carrying the
// API's stable error code, so callers branch on codes, never on message text.
import createClient, { type Client, type Middleware } from "openapi-fetch";
import type { components, paths } from "./schema";

export type Schemas = components["schemas"];
export type Instance = Schemas["Instance"];
export type Job = Schemas["Job"];
export type Operation = Schemas["Operation"];
export type Sizes = Schemas["Sizes"];
export type CreateInstanceBody = Schemas["CreateInstanceBody"];
export type PatchInstanceBody = Schemas["PatchInstanceBody"];
export type JobSubmissionBody = Schemas["JobSubmissionBody"];
export type ApiClient = Client<paths>;

export const TERMINAL_OPERATION_STATUSES: readonly Operation["status"][] = ["Succeeded", "Failed", "Canceled"];
export const TERMINAL_JOB_STATES: readonly Job["state"][] = ["Completed", "Failed", "Canceled", "TimedOut"];

/** A non-2xx answer: the API's error body (api.md), or what the transport saw instead. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly target?: string,
    readonly details?: { code?: string; message: string; target?: string }[],
  ) {
    super(message);
    this.name = "ApiError";
  }
}

export type ClientOptions = {
  /** The API's origin, e.g. http://127.0.0.1:7071 (paths carry /api). */
  baseUrl: string;
  /** A bearer token for each request (called per request, so it may refresh). */
  token?: () => Promise<string | undefined>;
  fetch?: typeof fetch;
};

export function createApiClient(options: ClientOptions): ApiClient {
  const client = createClient<paths>({ baseUrl: options.baseUrl.replace(/\/+$/, ""), ...(options.fetch ? { fetch: options.fetch } : {}) });
  if (options.token) {
    const token = options.token;
    const auth: Middleware = {
      async onRequest({ request }) {
        const t = await token();
        if (t) request.headers.set("Authorization", `Bearer ${t}`);
        return request;
      },
    };
    client.use(auth);
  }
  return client;
}

type ErrorBody = { error?: { code?: string; message?: string; target?: string; details?: { code?: string; message: string; target?: string }[] } };

/** The data of a fetch result, or an ApiError from its error body. */
export function unwrap<T>(result: { data?: T; error?: unknown; response: Response }): T {
  if (result.response.ok) return result.data as T;
  throw toApiError(result.response, result.error);
}

export function toApiError(response: Response, body: unknown): ApiError {
  const e = (body as ErrorBody | undefined)?.error;
  if (e?.code) return new ApiError(response.status, e.code, e.message ?? e.code, e.target, e.details);
  const text = typeof body === "string" && body ? `: ${body.slice(0, 200)}` : "";
  return new ApiError(response.status, `Http${response.status}`, `${response.status} ${response.statusText}${text}`);
}

/** The operation id of a 202 answer (Operation-Location header), if any. */
export function operationIdOf(response: Response): string | undefined {
  const loc = response.headers.get("operation-location");
  const m = loc ? /\/operations\/([^/?#]+)/.exec(loc) : null;
  return m ? decodeURIComponent(m[1]!) : undefined;
}
