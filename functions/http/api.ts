// The one wrapper every API route goes through: identity from App Service Authentication,
// JSON in and out, and every thrown error mapped once to api.md's error body. Handlers
// return {status, body, headers} and throw AppErrors; nothing else about HTTP leaks in.
import { app, type FunctionInput, type HttpHandler, type HttpRequest, type HttpResponseInit, type InvocationContext } from "@azure/functions";
import { IDEMPOTENCY_KEY_MAX_LENGTH, OPERATION_RETRY_AFTER_SECONDS, routeTemplate, type RouteDef } from "../../shared/api/routes";
import { toErrorBody, ValidationError } from "../../shared/errors";
import { assertDeclaredSize, parseJsonBody } from "../../shared/jsonBody";
import { parsePrincipalHeader, type Principal } from "../../shared/rbac";
import { logger, traceIdOf, type LogIds } from "../../shared/telemetry/log";
import { currentTraceId, inSpan, SpanKind, SpanStatusCode } from "../../shared/telemetry/tracing";
import { recordCall, type AuditedAction, type AuditNote } from "../auditTrail";

export type ApiRequest = {
  req: HttpRequest;
  ctx: InvocationContext;
  principal: Principal;
  params: Record<string, string>;
  /** The parsed JSON body; undefined when the request had none. */
  body: unknown;
  /** What the audit entry of this call names, where the route does not say it (the job's instance). */
  audit: AuditNote;
};

export type ApiResult = {
  status: number;
  body?: unknown;
  headers?: Record<string, string>;
};

/** Extra bindings, e.g. df.input.durableClient() for routes that start orchestrations. */
export type ApiRouteOptions = {
  extraInputs?: FunctionInput[];
  /** A state-changing route: its calls go on the audit trail as this action (functions/auditTrail.ts). */
  audit?: AuditedAction;
};

/**
 * Register an authenticated JSON API route from its definition (shared/api/routes.ts), under
 * /api. The definition is also what the OpenAPI document is generated from.
 */
export function apiRoute(def: RouteDef, handler: (r: ApiRequest) => Promise<ApiResult>, options: ApiRouteOptions = {}): void {
  const route = `/${routeTemplate(def)}`;
  httpRoute(
    def,
    (req, ctx) =>
      inSpan(`${def.method} ${route}`, { parent: ctx.traceContext?.traceParent, kind: SpanKind.SERVER, attributes: { "http.route": route } }, (span) =>
        runApi(req, ctx, handler, options.audit).then((res) => {
          span.setAttributes({ "http.request.method": req.method, "http.response.status_code": res.status ?? 200 });
          if ((res.status ?? 200) >= 500) span.setStatus({ code: SpanStatusCode.ERROR });
          return res;
        }),
      ),
    options,
  );
}

/** Register a route from its definition with a plain Functions handler (anonymous routes that answer themselves). */
export function httpRoute(def: RouteDef, handler: HttpHandler, options: ApiRouteOptions = {}): void {
  app.http(def.fn, {
    route: routeTemplate(def),
    methods: [def.method],
    // Identity comes from App Service Authentication, not from function keys.
    authLevel: "anonymous",
    ...(options.extraInputs ? { extraInputs: options.extraInputs } : {}),
    handler,
  });
}

export async function runApi(
  req: HttpRequest,
  ctx: InvocationContext,
  handler: (r: ApiRequest) => Promise<ApiResult>,
  audit?: AuditedAction,
): Promise<HttpResponseInit> {
  const started = Date.now();
  let principal: Principal | undefined;
  let response: HttpResponseInit;
  const note: AuditNote = {};
  try {
    principal = parsePrincipalHeader(req.headers.get("x-ms-client-principal"));
    const body = await readJsonBody(req);
    const result = await handler({ req, ctx, principal, params: { ...req.params }, body, audit: note });
    response = toHttp(result);
  } catch (err) {
    response = errorResponse(err, ctx, principal);
  }
  if (audit && principal) {
    // The change is made (or refused) whatever happens here: a failed audit write is logged, loudly.
    await recordCall(audit, { at: new Date(started).toISOString(), actor: principal.userId, params: { ...req.params }, response, note }).catch((err: unknown) =>
      logger(ctx, { user: principal!.userId }).error("audit entry not written", { action: audit.action, error: err instanceof Error ? err.message : String(err) }),
    );
  }
  // One line per request: what an operator greps for first ("which call, who, how long").
  requestLog(ctx, req, principal).with(answerIds(req, response)).info(`${req.method} ${new URL(req.url).pathname} ${response.status ?? 200}`, {
    method: req.method,
    path: new URL(req.url).pathname,
    status: response.status ?? 200,
    durationMs: Date.now() - started,
  });
  return response;
}

/** The request's logger, with the user and the instance or job the route names. */
function requestLog(ctx: InvocationContext, req: HttpRequest, principal: Principal | undefined) {
  const ids: LogIds = {};
  if (principal?.userId) ids.user = principal.userId;
  if (req.params.name) ids.instance = req.params.name;
  if (req.params.id && /\/jobs\//.test(new URL(req.url).pathname)) ids.job = req.params.id;
  if (req.params.id && /\/operations\//.test(new URL(req.url).pathname)) ids.operation = req.params.id;
  return logger(ctx, ids);
}

/** Ids the answer names: the operation it started, the job it created. */
function answerIds(req: HttpRequest, response: HttpResponseInit): LogIds {
  const ids: LogIds = {};
  const location = (response.headers as Record<string, string> | undefined)?.["Operation-Location"];
  const op = location ? /\/operations\/([^/?]+)$/.exec(location)?.[1] : undefined;
  if (op) ids.operation = op;
  const body = response.jsonBody as { id?: unknown } | undefined;
  if (req.method === "POST" && /\/jobs$/.test(new URL(req.url).pathname) && typeof body?.id === "string") ids.job = body.id;
  return ids;
}

export function errorResponse(err: unknown, ctx: InvocationContext, principal?: Principal): HttpResponseInit {
  // The errorId of a 500 is the invocation's trace id: the one id that finds the request, its
  // log lines and its spans. A new id only when the host gave no trace context.
  const mapped = toErrorBody(err, () => currentTraceId() ?? traceIdOf(ctx.traceContext?.traceParent) ?? globalThis.crypto.randomUUID());
  if (mapped.errorId) {
    // The stack goes to the log under the id the client sees; never into the response.
    logger(ctx, { trace: mapped.errorId, ...(principal?.userId ? { user: principal.userId } : {}) }).error(`unexpected error ${mapped.errorId}`, {
      errorId: mapped.errorId,
      stack: err instanceof Error ? (err.stack ?? err.message) : String(err),
    });
  }
  const headers: Record<string, string> = {};
  if (mapped.retryAfterSeconds !== undefined) headers["Retry-After"] = String(mapped.retryAfterSeconds);
  return { status: mapped.status, jsonBody: mapped.body, headers };
}

function toHttp(result: ApiResult): HttpResponseInit {
  const headers = { ...(result.headers ?? {}) };
  if (result.body === undefined) return { status: result.status, headers };
  if (typeof result.body === "string" || result.body instanceof Uint8Array) {
    headers["Content-Type"] ??= "text/plain; charset=utf-8";
    return { status: result.status, body: result.body, headers };
  }
  return { status: result.status, jsonBody: result.body, headers };
}

async function readJsonBody(req: HttpRequest): Promise<unknown> {
  if (req.method === "GET" || req.method === "HEAD" || req.method === "DELETE") return undefined;
  // Size and depth are checked here, once for every route, before any handler looks at the body.
  assertDeclaredSize(req.headers.get("content-length"));
  const text = await req.text();
  if (text.length === 0) return undefined;
  const type = req.headers.get("content-type") ?? "application/json";
  if (!/json/i.test(type)) {
    throw ValidationError.field("Content-Type", "The request body must be JSON (Content-Type: application/json).", "UnsupportedMediaType");
  }
  return parseJsonBody(text);
}

/** `ETag` / `If-Match` helpers: ETags are quoted opaque strings from Azure Tables. */
export function ifMatch(req: HttpRequest): string | undefined {
  const v = req.headers.get("if-match");
  return v === null || v === "*" ? undefined : v;
}

export function idempotencyKey(req: HttpRequest): string | undefined {
  const v = req.headers.get("idempotency-key");
  if (v === null) return undefined;
  if (v.length === 0 || v.length > IDEMPOTENCY_KEY_MAX_LENGTH || /[\u0000-\u001f]/.test(v)) {
    throw ValidationError.field("Idempotency-Key", `The Idempotency-Key header must be 1–${IDEMPOTENCY_KEY_MAX_LENGTH} printable characters.`);
  }
  return v;
}

/**
 * Where to poll an operation: an absolute URL, with how long to wait first (Retry-After), as the
 * Microsoft REST API guidelines ask of a long-running operation's status monitor. The origin is
 * the one the caller used (in Azure the app's public host name).
 */
export function operationHeaders(req: HttpRequest, operationId: string): Record<string, string> {
  return {
    "Operation-Location": new URL(`/api/operations/${encodeURIComponent(operationId)}`, req.url).toString(),
    "Retry-After": String(OPERATION_RETRY_AFTER_SECONDS),
  };
}

/** 202 with the operation's status monitor, as api.md asks of every long operation. */
export function accepted(req: HttpRequest, operationId: string, body: unknown): ApiResult {
  const headers = operationHeaders(req, operationId);
  return { status: 202, body, headers: { ...headers, Location: headers["Operation-Location"]! } };
}
