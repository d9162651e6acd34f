// HTTP management API of the task hub: the routes the JS DurableClient calls under
// `rpcBaseUrl` (<host>/durabletask/) and the documented "Durable Functions HTTP API" under
// /runtime/webhooks/durabletask. Both share one implementation.
import type http from "node:http";
import type { DurableEngine } from "../engine";
import { EngineError } from "./errors";
import { entityRoute } from "../entities/api";
import type { InstanceRow } from "../backend/records";
import { EventType, EventTypeName, isTerminal, type HistoryEvent, type RuntimeStatus } from "../types";

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

export function clientUrls(baseUrl: string, hubName: string, systemKey: string) {
  const webhook = `${baseUrl}/runtime/webhooks/durabletask`;
  // As in Azure, every webhook URL handed out carries the system key as `code`.
  const qs = `taskHub=${hubName}&connection=Storage&code=${encodeURIComponent(systemKey)}`;
  const inst = `${webhook}/instances/INSTANCEID`;
  return {
    taskHubName: hubName,
    creationUrls: {
      createNewInstancePostUri: `${webhook}/orchestrators/{functionName}[/{instanceId}]?${qs}`,
      createAndWaitOnNewInstancePostUri: `${webhook}/orchestrators/{functionName}[/{instanceId}]?timeout={timeoutInSeconds}&pollingInterval={intervalInSeconds}&${qs}`,
    },
    managementUrls: {
      id: "INSTANCEID",
      statusQueryGetUri: `${inst}?${qs}`,
      sendEventPostUri: `${inst}/raiseEvent/{eventName}?${qs}`,
      terminatePostUri: `${inst}/terminate?reason={text}&${qs}`,
      rewindPostUri: `${inst}/rewind?reason={text}&${qs}`,
      purgeHistoryDeleteUri: `${inst}?${qs}`,
      restartPostUri: `${inst}/restart?${qs}`,
      suspendPostUri: `${inst}/suspend?reason={text}&${qs}`,
      resumePostUri: `${inst}/resume?reason={text}&${qs}`,
    },
    baseUrl: webhook,
    requiredQueryStringParameters: qs,
    // Azure serves the client's RPC routes on a listener only the worker can reach; here they
    // share the port with everything on the machine (jobs included), and the library drops any
    // query string when it resolves paths against this URL, so the key is a path segment.
    rpcBaseUrl: `${baseUrl}/durabletask/${encodeURIComponent(systemKey)}/`,
  };
}

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

function parseValue(text: string | undefined): unknown {
  if (text === undefined) return null;
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

/** History as the status API shows it: the documented event list, without scheduling bookkeeping. */
export function publicHistory(events: HistoryEvent[], showOutput: boolean, showInput: boolean): Record<string, unknown>[] {
  const scheduled = new Map<number, HistoryEvent>();
  for (const e of events) {
    if (e.EventType === EventType.TaskScheduled || e.EventType === EventType.SubOrchestrationInstanceCreated || e.EventType === EventType.TimerCreated) {
      scheduled.set(e.EventId, e);
    }
  }
  const out: Record<string, unknown>[] = [];
  for (const e of events) {
    const type = EventTypeName[e.EventType] ?? String(e.EventType);
    const item: Record<string, unknown> = { EventType: type, Timestamp: e.Timestamp };
    switch (e.EventType) {
      case EventType.ExecutionStarted:
        item.FunctionName = e.Name;
        if (showInput) item.Input = parseValue(e.Input as string | undefined);
        break;
      case EventType.TaskCompleted:
      case EventType.TaskFailed:
      case EventType.SubOrchestrationInstanceCompleted:
      case EventType.SubOrchestrationInstanceFailed: {
        const s = scheduled.get(e.TaskScheduledId as number);
        item.FunctionName = s?.Name;
        item.ScheduledTime = s?.Timestamp;
        if (e.EventType === EventType.SubOrchestrationInstanceCompleted || e.EventType === EventType.SubOrchestrationInstanceFailed) item.InstanceId = s?.InstanceId;
        if (showOutput && (e.EventType === EventType.TaskCompleted || e.EventType === EventType.SubOrchestrationInstanceCompleted)) item.Result = parseValue(e.Result as string | undefined);
        if (e.Reason !== undefined) item.Reason = e.Reason;
        if (showOutput && e.Details !== undefined) item.Details = e.Details;
        break;
      }
      case EventType.TimerFired:
        item.FireAt = e.FireAt;
        break;
      case EventType.EventRaised:
        item.Name = e.Name;
        if (showInput) item.Input = parseValue(e.Input as string | undefined);
        break;
      case EventType.ExecutionCompleted:
        item.OrchestrationStatus = e.OrchestrationStatus;
        if (showOutput) item.Result = parseValue(e.Result as string | undefined);
        break;
      case EventType.ExecutionTerminated:
      case EventType.ExecutionSuspended:
      case EventType.ExecutionResumed:
        item.Reason = e.Reason ?? parseValue(e.Input as string | undefined);
        break;
      default:
        continue; // OrchestratorStarted/Completed, TaskScheduled, TimerCreated, ...: bookkeeping
    }
    out.push(item);
  }
  return out;
}

/**
 * The status payload of the extension's HttpApiHandler (StatusResponsePayload): these fields
 * only — no failure details — and times as .NET's "s" format plus "Z" (whole seconds).
 */
export function statusBody(row: InstanceRow, showInput: boolean): Record<string, unknown> {
  return {
    name: row.name,
    instanceId: row.instanceId,
    runtimeStatus: row.status,
    input: showInput ? parseValue(row.input) : null,
    customStatus: parseValue(row.customStatus),
    output: parseValue(row.output),
    createdTime: azureTime(row.createdTime),
    lastUpdatedTime: azureTime(row.lastUpdatedTime),
  };
}

/** `DateTime.ToString("s") + "Z"`: 2026-12-01T09:47:26Z. */
export function azureTime(iso: string): string {
  const t = Date.parse(iso);
  return Number.isNaN(t) ? iso : new Date(Math.floor(t / 1000) * 1000).toISOString().replace(/\.\d{3}Z$/, "Z");
}

/** HttpApiHandler.HandleGetStatusRequestAsync: 202 while active; 200 once done, Failed too unless the caller asks for 500. */
function statusCodeFor(s: RuntimeStatus, internalErrorOnFailure: boolean): number {
  if (s === "Failed") return internalErrorOnFailure ? 500 : 200;
  if (s === "Completed" || s === "Terminated") return 200;
  return 202;
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
      await route(o, method, parts, url.searchParams, req, res, body, rpc);
    } catch (err) {
      if (err instanceof EngineError) error(res, err.status, err.code, err.message);
      else error(res, 500, "InternalError", (err as Error).message);
    }
    return true;
  };
}

async function route(
  o: ApiOptions,
  method: string,
  parts: string[],
  q: URLSearchParams,
  req: http.IncomingMessage,
  res: http.ServerResponse,
  body: Buffer,
  rpc: boolean,
): Promise<void> {
  const e = o.engine;
  const [head, id, action, eventName] = parts;
  const urls = clientUrls(origin(req, o.baseUrl()), o.hubName, o.systemKey());
  const payloadFor = (instanceId: string) =>
    Object.fromEntries(Object.entries(urls.managementUrls).map(([k, v]) => [k, v.replace(/INSTANCEID/g, encodeURIComponent(instanceId))]));

  if (head === "orchestrators" && method === "POST" && id) {
    const input = parseJsonBody(body, "input");
    const instanceId = await e.startNew(id, action || undefined, input);
    const links = payloadFor(instanceId);
    // HttpApiHandler.CreateCheckStatusResponseMessage: these links, Retry-After 10 s.
    const payload = {
      id: instanceId,
      statusQueryGetUri: links.statusQueryGetUri,
      sendEventPostUri: links.sendEventPostUri,
      terminatePostUri: links.terminatePostUri,
      purgeHistoryDeleteUri: links.purgeHistoryDeleteUri,
      restartPostUri: links.restartPostUri,
      suspendPostUri: links.suspendPostUri,
      resumePostUri: links.resumePostUri,
    };
    return send(res, 202, payload, { Location: String(payload.statusQueryGetUri), "Retry-After": "10" });
  }
  if (head === "entities" && e.entities) return entityRoute(e.entities, method, parts, q, req, res, body);
  if (head !== "instances") return error(res, 404, "NotFound", `no durable task route ${method} /${parts.join("/")}`);

  if (!id) {
    const filter = parseFilter(q);
    if (method === "GET") {
      const topText = q.get("top");
      const top = topText ? Number(topText) : undefined;
      if (top !== undefined && (!Number.isInteger(top) || top < 1)) throw new EngineError(400, "InvalidTop", `top: "${topText}" is not a positive integer`);
      const token = (req.headers["x-ms-continuation-token"] as string | undefined) || undefined;
      const page = await e.store.listInstances(filter, top, token);
      const showInput = flag(q, "showInput");
      const headers: Record<string, string> = page.continuationToken ? { "x-ms-continuation-token": page.continuationToken } : {};
      return send(res, 200, page.rows.map((r) => statusBody(r, showInput)), headers);
    }
    if (method === "DELETE") {
      const rows = await e.store.listAllInstances(filter);
      let n = 0;
      for (const r of rows) if (["Completed", "Failed", "Terminated"].includes(r.status) && (await e.purge(r.instanceId))) n++;
      return n === 0 ? send(res, 404, { instancesDeleted: 0 }) : send(res, 200, { instancesDeleted: n });
    }
  }
  if (id && !action) {
    if (method === "GET") {
      const got = await e.getState(id);
      if (!got) return error(res, 404, "InstanceNotFound", `No orchestration instance with ID '${id}'.`);
      const showInput = q.get("showInput") === null ? true : flag(q, "showInput");
      const b = statusBody(got.row, showInput);
      if (flag(q, "showHistory")) {
        const h = publicHistory(got.history ?? (await e.history(id)), flag(q, "showHistoryOutput"), showInput);
        b[rpc ? "history" : "historyEvents"] = h;
        if (rpc) b.historyEvents = h;
      }
      const code = statusCodeFor(got.row.status, flag(q, "returnInternalServerErrorOnFailure"));
      // While active: Location is the request's own URL, Retry-After 5 s (HttpApiHandler).
      return send(res, code, b, code === 202 ? { Location: `${origin(req, o.baseUrl())}${req.url ?? ""}`, "Retry-After": "5" } : {});
    }
    if (method === "DELETE") {
      const ok = await e.purge(id);
      return ok ? send(res, 200, { instancesDeleted: 1 }) : send(res, 404, { instancesDeleted: 0 });
    }
  }
  if (id && method === "POST") {
    const reason = q.get("reason") ?? "";
    if (action === "raiseEvent" && eventName) {
      const input = parseJsonBody(body, "eventData");
      await e.send(id, { kind: "event", name: eventName, input: input ?? null });
      return send(res, 202);
    }
    if (action === "suspend" || action === "resume") {
      // HttpApiHandler answers 404/410 itself; DurableClient then throws InvalidOperationException
      // ("Cannot suspend the orchestration instance ... because instance is in the Suspended
      // state."), which the handler's catch-all turns into this 500.
      const got = await e.getState(id);
      if (got && !isTerminal(got.row.status) && !canSuspendOrResume(action, got.row.status)) {
        // The extension's warning (the Durable e2e tests look for it in the host's log).
        o.log?.("warning", `${got.row.name} (${id}): Cannot ${action} orchestration instance in the ${got.row.status} state.`);
        return send(res, 500, { Message: "Something went wrong while processing your request" });
      }
    }
    if (action === "terminate" || action === "suspend" || action === "resume") {
      await e.send(id, { kind: action, reason });
      return send(res, 202);
    }
    if (action === "rewind" || action === "restart") {
      return error(res, 501, "NotImplemented", `${action} is not supported by the local host`);
    }
  }
  return error(res, 404, "NotFound", `no durable task route ${method} /${parts.join("/")}`);
}

/** Links point at the origin the caller used, like the real host. */
function origin(req: http.IncomingMessage, fallback: string): string {
  const host = req.headers.host;
  return host ? `http://${host}` : fallback;
}
