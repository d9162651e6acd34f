// HTTP triggers: one server on 127.0.0.1:PORT in front of the app, doing what the Functions
// host and App Service do before a request reaches the worker: authentication stand-in
// (bearer tokens, and the browser sign-in of /.auth with its session cookie, easyAuth.ts),
// extension routes (e.g. durable webhooks), route-template matching under routePrefix,
// method check (405 + Allow), authLevel keys, then invocation through the library — with the
// body in the invocation, or, when the app turned HTTP streaming on, forwarded to the
// library's own HTTP server (see streamProxy.ts).
import http from "node:http";
import path from "node:path";
import { randomUUID } from "node:crypto";
import type { HostContext, HostExtension } from "../extensions";
import type { RegisteredFunction, RpcHttpData, RpcTypedData } from "../functionsCore";
import { isAuthorized, loadHostKeys, normalizeAuthLevel, type AuthLevel, type HostKeys } from "./keys";
import { authenticate, parseLocalPrincipals, principalHeaders, PRINCIPAL_HEADER_PREFIX, type LocalPrincipal, type TokenVerifier } from "./principal";
import { managedIdentityVerifier } from "./managedIdentity";
import { easyAuth, type EasyAuth } from "./easyAuth";
import { compareRoutes, matchRoute, parseRouteTemplate, type RouteTemplate } from "./routeTemplate";
import { sendError } from "./respond";
import { setCookieHeader } from "./cookies";
import { declaredTooLarge, requestBodySizeLimit } from "./bodyLimit";
import { streamToFunction } from "./streamProxy";
import { startInTurn } from "./turns";

type HttpFunction = { fn: RegisteredFunction; route: RouteTemplate; methods: string[] | undefined; authLevel: AuthLevel };

export function httpExtension(): HostExtension {
  let server: http.Server | undefined;
  const sockets = new Set<import("node:net").Socket>();
  return {
    name: "http",
    triggerTypes: ["httptrigger"],
    async start(ctx) {
      const routes = collectRoutes(ctx);
      const bodyLimit = requestBodySizeLimit(ctx.env);
      const prefix = (ctx.hostJson.extensions?.http?.routePrefix ?? "api").replace(/^\/+|\/+$/g, "");
      const keys = loadHostKeys(ctx.env.DATA_DIR ?? path.join(ctx.appDir, ".data"), ctx.env);
      const principals = parseLocalPrincipals(ctx.env.LOCAL_PRINCIPALS);
      const verifyJwt = managedIdentityVerifier(ctx.env);
      // Sessions are signed with the master key: they survive a restart, and only this host can make them.
      const auth = easyAuth(principals, keys.masterKey);
      ctx.log("information", `Function keys are in ${keys.file} (or the settings LOCAL_FUNCTION_KEY / LOCAL_MASTER_KEY).`);
      const port = Number(ctx.env.PORT ?? 7071);
      server = http.createServer((req, res) => {
        handle(ctx, { routes, prefix, keys, principals, bodyLimit, verifyJwt, easyAuth: auth }, req, res).catch((err: unknown) => {
          const errorId = randomUUID();
          ctx.log("error", `Request ${req.method} ${req.url} failed (errorId ${errorId}): ${(err as Error)?.stack ?? String(err)}`);
          if (!res.headersSent) sendError(res, 500, "InternalServerError", "The host failed to process the request.", errorId);
          else res.destroy();
        });
      });
      server.on("connection", (s) => {
        sockets.add(s);
        s.once("close", () => sockets.delete(s));
      });
      await new Promise<void>((resolve, reject) => {
        server!.once("error", reject);
        server!.listen(port, "127.0.0.1", () => {
          server!.off("error", reject);
          resolve();
        });
      });
      for (const r of routes) {
        const methods = r.methods?.join(",") ?? "all methods";
        ctx.log("information", `  ${r.fn.name}: [${methods}] ${ctx.baseUrl()}/${prefix ? prefix + "/" : ""}${r.route.template}`);
      }
    },
    async stop() {
      if (!server) return;
      const s = server;
      server = undefined;
      await new Promise<void>((resolve) => {
        s.close(() => resolve());
        for (const sock of sockets) sock.destroy();
      });
    },
  };
}

function collectRoutes(ctx: HostContext): HttpFunction[] {
  const out: HttpFunction[] = [];
  for (const fn of ctx.core.functions.values()) {
    if (fn.trigger.type.toLowerCase() !== "httptrigger") continue;
    const template = typeof fn.trigger.route === "string" && fn.trigger.route !== "" ? fn.trigger.route : fn.name;
    const methods = Array.isArray(fn.trigger.methods) && fn.trigger.methods.length > 0
      ? (fn.trigger.methods as unknown[]).map((m) => String(m).toUpperCase())
      : undefined;
    out.push({ fn, route: parseRouteTemplate(template), methods, authLevel: normalizeAuthLevel(fn.trigger.authLevel) });
  }
  return out.sort((a, b) => compareRoutes(a.route, b.route));
}

type Tables = {
  routes: HttpFunction[];
  prefix: string;
  keys: HostKeys;
  principals: Map<string, LocalPrincipal>;
  bodyLimit: number;
  verifyJwt: TokenVerifier | undefined;
  easyAuth: EasyAuth;
};

type RouteMatch =
  | { kind: "function"; r: HttpFunction; params: Record<string, string> }
  | { kind: "methodNotAllowed"; allowed: string[] }
  | { kind: "none" }
  | { kind: "badPath" };

function matchFunction(t: Tables, url: URL, method: string): RouteMatch {
  let path = url.pathname;
  if (t.prefix) {
    const p = `/${t.prefix}`;
    if (path.toLowerCase() !== p.toLowerCase() && !path.toLowerCase().startsWith(p.toLowerCase() + "/")) return { kind: "none" };
    path = path.slice(p.length);
  }
  let decoded: string;
  try {
    decoded = path.split("/").map(decodeURIComponent).join("/");
  } catch {
    return { kind: "badPath" };
  }
  const allowed = new Set<string>();
  for (const r of t.routes) {
    const params = matchRoute(r.route, decoded);
    if (!params) continue;
    if (!r.methods || r.methods.includes(method)) return { kind: "function", r, params };
    r.methods.forEach((m) => allowed.add(m));
  }
  return allowed.size > 0 ? { kind: "methodNotAllowed", allowed: [...allowed] } : { kind: "none" };
}

/** Routes the host keeps for itself (/runtime/...) are never an app function's, even streamed. */
const isHostRoute = (pathname: string) => /^\/runtime(\/|$)/i.test(pathname);

/**
 * Repeated query keys are joined with "," as the Functions host does (`?a=1&a=2` → "1,2";
 * see azure-functions-nodejs-library issue 168). Only the streamed request, built by the
 * library from the URL itself, keeps them apart.
 */
export function joinQuery(params: URLSearchParams): Record<string, string> {
  const query: Record<string, string> = {};
  for (const [k, v] of params) query[k] = k in query ? `${query[k]},${v}` : v;
  return query;
}

async function handle(ctx: HostContext, t: Tables, req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
  if (declaredTooLarge(req.headers["content-length"], t.bodyLimit)) {
    res.setHeader("Connection", "close");
    return sendError(res, 413, "PayloadTooLarge", `The request body exceeds ${t.bodyLimit} bytes (FUNCTIONS_REQUEST_BODY_SIZE_LIMIT).`);
  }

  // Only the platform may set principal headers: drop whatever the client sent.
  for (const name of Object.keys(req.headers)) if (name.startsWith(PRINCIPAL_HEADER_PREFIX)) delete req.headers[name];
  const auth = authenticate(req.headers.authorization, t.principals, t.verifyJwt);
  if (auth.kind === "rejected") return sendError(res, 401, "Unauthorized", auth.message);
  if (auth.kind === "principal") Object.assign(req.headers, principalHeaders(auth.principal));
  else {
    // A browser's sign-in session becomes the same identity a bearer token would.
    const session = t.easyAuth.principalOf(req.headers.cookie);
    if (session) Object.assign(req.headers, principalHeaders(session));
  }

  const url = new URL(req.url ?? "/", "http://127.0.0.1");
  const method = (req.method ?? "GET").toUpperCase();
  const match = matchFunction(t, url, method);
  const proxyUri = ctx.core.capabilities.HttpUri;
  const streamed = typeof proxyUri === "string" && match.kind === "function" && !isHostRoute(url.pathname);

  let body: Buffer = Buffer.alloc(0);
  if (!streamed) {
    const read = await readBody(req, t.bodyLimit);
    if (read === undefined) {
      res.setHeader("Connection", "close");
      return sendError(res, 413, "PayloadTooLarge", `The request body exceeds ${t.bodyLimit} bytes (FUNCTIONS_REQUEST_BODY_SIZE_LIMIT).`);
    }
    body = read;
    if (t.easyAuth.handle(req, res, body)) return;
    for (const ext of ctx.extensions) {
      for (const route of ext.httpRoutes ?? []) if (await route(req, res, body)) return;
    }
  }

  if (match.kind === "badPath") return sendError(res, 400, "InvalidRequest", "The request path is not valid percent-encoding.");
  if (match.kind === "none") {
    // The Functions host answers an unknown route with a bare 404, no body.
    res.statusCode = 404;
    return void res.end();
  }
  if (match.kind === "methodNotAllowed") {
    res.setHeader("Allow", match.allowed.join(", "));
    return sendError(res, 405, "MethodNotAllowed", `${method} is not allowed on ${url.pathname}.`);
  }

  const { r, params } = match;
  const presented = headerValue(req.headers["x-functions-key"]) ?? url.searchParams.get("code") ?? undefined;
  if (!isAuthorized(r.authLevel, t.keys, presented)) {
    return sendError(res, 401, "Unauthorized", `This function needs a ${r.authLevel} key (x-functions-key header or code query parameter).`);
  }

  const headers: Record<string, string> = {};
  for (const [k, v] of Object.entries(req.headers)) if (v !== undefined) headers[k] = Array.isArray(v) ? v.join(", ") : v;
  const query = joinQuery(url.searchParams);
  const rpcHttp: RpcHttpData = {
    method,
    url: `http://${req.headers.host ?? "127.0.0.1"}${req.url ?? "/"}`,
    headers,
    query,
    params,
    ...(streamed ? {} : { body: { bytes: body } }),
  };
  const triggerMetadata: Record<string, RpcTypedData> = {
    Headers: { json: JSON.stringify(headers) },
    Query: { json: JSON.stringify(query) },
  };
  // Binding data carries every query parameter but `code`, then the route values over them
  // (WebJobs.Extensions.Http HttpTriggerAttributeBindingProvider.GetRequestBindingDataAsync). With
  // HTTP streaming the library builds `request.params` from it, so `?name=` shows up there too.
  for (const [k, v] of Object.entries(query)) if (!/^(code|query|headers)$/i.test(k)) triggerMetadata[k] = { string: v };
  for (const [k, v] of Object.entries(params)) triggerMetadata[k] = { string: v };

  const invocationId = randomUUID();
  const traceParent = typeof req.headers.traceparent === "string" ? req.headers.traceparent : undefined;
  const invoke = () => startInTurn(() => ctx.invoke(r.fn, { data: { http: rpcHttp }, triggerMetadata, invocationId, ...(traceParent ? { traceParent } : {}) }));
  if (streamed) {
    return streamToFunction(req, res, {
      proxyUri,
      proxyServer: ctx.core.httpProxyServer,
      invocationId,
      functionName: r.fn.name,
      limit: t.bodyLimit,
      invoke,
      log: (level, message) => ctx.log(level, message),
    });
  }
  const started = Date.now();
  let outcome;
  try {
    outcome = await invoke();
  } catch (err) {
    ctx.log("error", `Executed 'Functions.${r.fn.name}' (Failed, Id=${invocationId}): ${(err as Error)?.stack ?? String(err)}`);
    return sendError(res, 500, "InternalServerError", `Function "${r.fn.name}" failed; see the host log for errorId ${invocationId}.`, invocationId);
  }
  ctx.log("information", `Executed 'Functions.${r.fn.name}' (Succeeded, Id=${invocationId}, Duration=${Date.now() - started}ms)`);
  writeResponse(res, r.fn, outcome.returnValue, outcome.outputs);
}

function writeResponse(
  res: http.ServerResponse,
  fn: RegisteredFunction,
  returnValue: RpcTypedData | null | undefined,
  outputs: Record<string, RpcTypedData | null | undefined>,
): void {
  let data: RpcTypedData | null | undefined;
  for (const [name, b] of Object.entries(fn.metadata.bindings)) {
    if (b.direction === "out" && String(b.type).toLowerCase() === "http") data = name === "$return" ? returnValue : outputs[name];
  }
  const h = data?.http;
  if (!h) {
    res.statusCode = 204;
    res.end();
    return;
  }
  res.statusCode = Number(h.statusCode ?? 200) || 200;
  for (const [k, v] of Object.entries(h.headers ?? {})) res.setHeader(k, v);
  const cookies = (h.cookies ?? []).map((c) => setCookieHeader(c as Record<string, unknown>)).filter((c) => c !== "");
  if (cookies.length > 0) res.setHeader("Set-Cookie", cookies);
  const b = h.body;
  if (b?.bytes) res.end(Buffer.from(b.bytes));
  else if (typeof b?.string === "string") res.end(b.string);
  else if (typeof b?.json === "string") res.end(b.json);
  else res.end();
}

function headerValue(v: string | string[] | undefined): string | undefined {
  return Array.isArray(v) ? v[0] : v;
}

/** The whole body, or undefined when it is larger than `limit` (the rest is read and dropped). */
function readBody(req: http.IncomingMessage, limit: number): Promise<Buffer | undefined> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let tooLarge = false;
    req.on("data", (c: Buffer) => {
      size += c.length;
      if (size > limit) tooLarge = true;
      else chunks.push(c);
    });
    req.once("end", () => resolve(tooLarge ? undefined : Buffer.concat(chunks)));
    req.once("error", reject);
  });
}
