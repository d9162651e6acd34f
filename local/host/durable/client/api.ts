// HTTP management API of the task hub: the routes the JS DurableClient calls under
// `rpcBaseUrl` (<host>/durabletask/) and the documented "Durable Functions HTTP API" under
// /runtime/webhooks/durabletask. Both share one implementation.
import type http from "node:http";
import type { DurableEngine } from "../engine";
import { EngineError } from "./errors";
import { entityRoute } from "../entities/api";
import { isTerminal, type RuntimeStatus } from "../types";
import { clientUrls, publicHistory, statusBody, statusCodeFor } from "./answers";

const STATUSES: RuntimeStatus[] = ["Pending", "Running", "Completed", "ContinuedAsNew", "Failed", "Terminated", "Suspended"];

export type ApiOptions = {
  engine: DurableEngine;
  hubName: string;
  baseUrl(): string;
  /** The `durabletask_extension` system key, which the URLs given to clients carry. */
  systemKey(): string;
  /** True for the system key or the master key. */
  authorize(presented: string | undefined): boolean;
  log?(level: "warning", message: string): void;
};

function send(res: http.ServerResponse, status: number, body?: unknown, headers: Record<string, string> = {}): void {
  const text = body === undefined ? "" : JSON.stringify(body);
  res.writeHead(status, { ...(text ? { "Content-Type": "application/json; charset=utf-8" } : {}), ...headers });
  res.end(text);
}

function error(res: http.ServerResponse, status: number, code: string, message: string): void {
  send(res, status, { error: { code, message } });
}

function parseJsonBody(body: Buffer, field: string): string | undefined {
  const text = body.toString("utf8");
  if (text.trim() === "") return undefined;
  try {
    JSON.parse(text);
  } catch {
    throw new EngineError(400, "InvalidJson", `${field}: the request body is not valid JSON`);
  }
  return text;
}

function flag(q: URLSearchParams, name: string): boolean {
  return (q.get(name) ?? "").toLowerCase() === "true";
}

/** Suspend needs Running, Pending or ContinuedAsNew; resume needs Suspended (DurableClient.IsOrchestrationSuspendable/IsOrchestrationSuspended). */
function canSuspendOrResume(action: "suspend" | "resume", s: RuntimeStatus): boolean {
  return action === "suspend" ? s === "Running" || s === "Pending" || s === "ContinuedAsNew" : s === "Suspended";
}

function parseFilter(q: URLSearchParams) {
  const runtimeStatus = (q.get("runtimeStatus") ?? "")
    .split(",")
    .map((s) => s.trim())
    .filter(Boolean);
  for (const s of runtimeStatus) {
    if (!STATUSES.includes(s as RuntimeStatus)) throw new EngineError(400, "InvalidRuntimeStatus", `runtimeStatus: unknown status "${s}" (one of ${STATUSES.join(", ")})`);
  }
  const date = (name: string) => {
    const v = q.get(name);
    if (!v) return undefined;
    const t = Date.parse(v);
    if (Number.isNaN(t)) throw new EngineError(400, "InvalidDate", `${name}: "${v}" is not a date`);
    return new Date(t).toISOString();
  };
  return { runtimeStatus: runtimeStatus as RuntimeStatus[], createdTimeFrom: date("createdTimeFrom"), createdTimeTo: date("createdTimeTo") };
}

/** Returns an HTTP route handler for both URL spaces. */
export function durableApi(o: ApiOptions): (req: http.IncomingMessage, res: http.ServerResponse, body: Buffer) => Promise<boolean> {
  return async (req, res, body) => {
    const url = new URL(req.url ?? "/", "http://local");
    let rest: string | undefined;
    let rpc = false;
    if (url.pathname.startsWith("/durabletask/")) {
      rest = url.pathname.slice("/durabletask/".length);
      rpc = true;
    } else if (url.pathname.startsWith("/runtime/webhooks/durabletask/")) {
      rest = url.pathname.slice("/runtime/webhooks/durabletask/".length);
    }
    if (rest === undefined) return false;
    // Azure authorizes these webhooks with the system key (`code` query or x-functions-key
    // header; the master key works too): 401 without it. RPC routes carry it as the first segment.
    let presented: string | undefined;
    if (rpc) {
      const slash = rest.indexOf("/");
      presented = slash < 0 ? rest : rest.slice(0, slash); // keys are base64url: nothing to decode
      rest = slash < 0 ? "" : rest.slice(slash + 1);
    } else {
      presented = url.searchParams.get("code") ?? (req.headers["x-functions-key"] as string | undefined);
    }
    if (!o.authorize(presented)) {
      error(res, 401, "Unauthorized", "The durable task API requires the system key (durabletask_extension) or the master key.");
      return true;
    }
    const parts = rest.split("/").map((p) => decodeURIComponent(p));
    const method = (req.method ?? "GET").toUpperCase();
    try {
      await route({ o, method, parts, q: url.searchParams, req, res, body, rpc });
    } catch (err) {
      if (err instanceof EngineError) error(res, err.status, err.code, err.message);
      else error(res, 500, "InternalError", (err as Error).message);
    }
    return true;
  };
}

/** One request to the API, after authorization. */
type Call = {
  o: ApiOptions;
  method: string;
  parts: string[];
  q: URLSearchParams;
  req: http.IncomingMessage;
  res: http.ServerResponse;
  body: Buffer;
  rpc: boolean;
};

async function route(c: Call): Promise<void> {
  const [head, id, action] = c.parts;
  if (head === "orchestrators" && c.method === "POST" && id) return startOrchestration(c, id, action || undefined);
  if (head === "entities" && c.o.engine.entities) return entityRoute(c.o.engine.entities, c.method, c.parts, c.q, c.req, c.res, c.body);
  if (head !== "instances") return notFound(c);
  if (!id) {
    const filter = parseFilter(c.q);
    if (c.method === "GET") return listInstances(c, filter);
    if (c.method === "DELETE") return purgeInstances(c, filter);
    return notFound(c);
  }
  if (!action && c.method === "GET") return getStatus(c, id);
  if (!action && c.method === "DELETE") return purgeInstance(c, id);
  const handler = c.method === "POST" && action !== undefined ? INSTANCE_ACTIONS.get(action) : undefined;
  return handler ? handler(c, id) : notFound(c);
}

function notFound(c: Call): void {
  error(c.res, 404, "NotFound", `no durable task route ${c.method} /${c.parts.join("/")}`);
}

function managementUrls(c: Call, instanceId: string): Record<string, string> {
  const urls = clientUrls(origin(c.req, c.o.baseUrl()), c.o.hubName, c.o.systemKey());
  return Object.fromEntries(Object.entries(urls.managementUrls).map(([k, v]) => [k, v.replace(/INSTANCEID/g, encodeURIComponent(instanceId))]));
}

async function startOrchestration(c: Call, name: string, instanceId: string | undefined): Promise<void> {
  const input = parseJsonBody(c.body, "input");
  // The client's version (DurableClient.startNew's `version`), else durableTask.defaultVersion.
  const version = c.q.get("version") ?? undefined;
  const id = await c.o.engine.startNew(name, instanceId, input, undefined, version);
  checkStatusResponse(c, id);
}

/** HttpApiHandler.CreateCheckStatusResponseMessage: 202, the management links, Retry-After 10 s. */
function checkStatusResponse(c: Call, id: string): void {
  const links = managementUrls(c, id);
  const payload = {
    id,
    statusQueryGetUri: links.statusQueryGetUri,
    sendEventPostUri: links.sendEventPostUri,
    terminatePostUri: links.terminatePostUri,
    purgeHistoryDeleteUri: links.purgeHistoryDeleteUri,
    restartPostUri: links.restartPostUri,
    suspendPostUri: links.suspendPostUri,
    resumePostUri: links.resumePostUri,
  };
  send(c.res, 202, payload, { Location: String(payload.statusQueryGetUri), "Retry-After": "10" });
}

async function listInstances(c: Call, filter: ReturnType<typeof parseFilter>): Promise<void> {
  const topText = c.q.get("top");
  const top = topText ? Number(topText) : undefined;
  if (top !== undefined && (!Number.isInteger(top) || top < 1)) throw new EngineError(400, "InvalidTop", `top: "${topText}" is not a positive integer`);
  const token = (c.req.headers["x-ms-continuation-token"] as string | undefined) || undefined;
  const page = await c.o.engine.store.listInstances(filter, top, token);
  const showInput = flag(c.q, "showInput");
  const headers: Record<string, string> = page.continuationToken ? { "x-ms-continuation-token": page.continuationToken } : {};
  send(c.res, 200, page.rows.map((r) => statusBody(r, showInput)), headers);
}

async function purgeInstances(c: Call, filter: ReturnType<typeof parseFilter>): Promise<void> {
  const rows = await c.o.engine.store.listAllInstances(filter);
  let n = 0;
  for (const r of rows) if (["Completed", "Failed", "Terminated"].includes(r.status) && (await c.o.engine.purge(r.instanceId))) n++;
  return n === 0 ? send(c.res, 404, { instancesDeleted: 0 }) : send(c.res, 200, { instancesDeleted: n });
}

async function getStatus(c: Call, id: string): Promise<void> {
  const { q, rpc } = c;
  const got = await c.o.engine.getState(id);
  if (!got) return error(c.res, 404, "InstanceNotFound", `No orchestration instance with ID '${id}'.`);
  const showInput = q.get("showInput") === null ? true : flag(q, "showInput");
  const b = statusBody(got.row, showInput);
  if (flag(q, "showHistory")) {
    const h = publicHistory(got.history ?? (await c.o.engine.history(id)), flag(q, "showHistoryOutput"), showInput);
    b[rpc ? "history" : "historyEvents"] = h;
    if (rpc) b.historyEvents = h;
  }
  const code = statusCodeFor(got.row.status, flag(q, "returnInternalServerErrorOnFailure"));
  // While active: Location is the request's own URL, Retry-After 5 s (HttpApiHandler).
  send(c.res, code, b, code === 202 ? { Location: `${origin(c.req, c.o.baseUrl())}${c.req.url ?? ""}`, "Retry-After": "5" } : {});
}

async function purgeInstance(c: Call, id: string): Promise<void> {
  const ok = await c.o.engine.purge(id);
  return ok ? send(c.res, 200, { instancesDeleted: 1 }) : send(c.res, 404, { instancesDeleted: 0 });
}

async function raiseEvent(c: Call, id: string): Promise<void> {
  const eventName = c.parts[3];
  if (!eventName) return notFound(c);
  const input = parseJsonBody(c.body, "eventData");
  await c.o.engine.send(id, { kind: "event", name: eventName, input: input ?? null });
  send(c.res, 202);
}

async function control(c: Call, id: string): Promise<void> {
  const action = c.parts[2] as "terminate" | "suspend" | "resume";
  if (action === "suspend" || action === "resume") {
    // HttpApiHandler answers 404/410 itself; DurableClient then throws InvalidOperationException
    // ("Cannot suspend the orchestration instance ... because instance is in the Suspended
    // state."), which the handler's catch-all turns into this 500.
    const got = await c.o.engine.getState(id);
    if (got && !isTerminal(got.row.status) && !canSuspendOrResume(action, got.row.status)) {
      // The extension's warning (the Durable e2e tests look for it in the host's log).
      c.o.log?.("warning", `${got.row.name} (${id}): Cannot ${action} orchestration instance in the ${got.row.status} state.`);
      return send(c.res, 500, { Message: "Something went wrong while processing your request" });
    }
  }
  await c.o.engine.send(id, { kind: action, reason: c.q.get("reason") ?? "" });
  send(c.res, 202);
}

/**
 * HttpApiHandler.HandleRewindInstanceRequestAsync: 404 for no instance, 410 once Completed or
 * Terminated (both without a body), else DurableClient.RewindAsync, which throws
 * InvalidOperationException unless the instance Failed: the handler's catch-all answers 500.
 */
async function rewind(c: Call, id: string): Promise<void> {
  const got = await c.o.engine.getState(id);
  if (!got) return send(c.res, 404);
  if (got.row.status === "Completed" || got.row.status === "Terminated") return send(c.res, 410);
  if (got.row.status !== "Failed") return send(c.res, 500, { Message: "Something went wrong while processing your request" });
  await c.o.engine.rewind(id, c.q.get("reason") ?? "");
  send(c.res, 202);
}

/**
 * HttpApiHandler.HandleRestartInstanceRequestAsync and DurableClient.RestartAsync: the instance's
 * orchestrator starts again with its original input, under a new instance id unless
 * `restartWithNewInstanceId=false` (then under the same id, which StartNewAsync allows only once
 * the instance is Completed, Failed or Terminated: the catch-all answers 500 otherwise). 400 for no
 * such instance; answers like a start (202 and the management links).
 */
async function restart(c: Call, id: string): Promise<void> {
  const got = await c.o.engine.getState(id);
  if (!got) return send(c.res, 400, { Message: "InstanceId does not match a valid orchestration instance.", ExceptionMessage: `An orchestrastion with the instanceId ${id} was not found.` });
  const sameId = (c.q.get("restartWithNewInstanceId") ?? "").toLowerCase() === "false";
  let newId: string;
  try {
    newId = await c.o.engine.startNew(got.row.name, sameId ? id : undefined, got.row.input, undefined, got.row.version);
  } catch (err) {
    if (err instanceof EngineError && err.code === "InstanceExists") return send(c.res, 500, { Message: "Something went wrong while processing your request" });
    throw err;
  }
  checkStatusResponse(c, newId);
}

/** POST /instances/{id}/{action}: one handler per action. */
const INSTANCE_ACTIONS = new Map<string, (c: Call, id: string) => Promise<void>>([
  ["raiseEvent", raiseEvent],
  ["terminate", control],
  ["suspend", control],
  ["resume", control],
  ["rewind", rewind],
  ["restart", restart],
]);

/** Links point at the origin the caller used, like the real host. */
function origin(req: http.IncomingMessage, fallback: string): string {
  const host = req.headers.host;
  return host ? `http://${host}` : fallback;
}
