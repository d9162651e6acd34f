// Every HTTP route of the app, declared once: the functions register from these entries
// (functions/http/api.ts) and the OpenAPI document is generated from them (shared/openapi.ts),
// so a route cannot exist without being documented, nor be documented without existing.
// Request and response shapes are named zod schemas (see OPENAPI_SCHEMAS in shared/openapi.ts).
import { z } from "zod";
import { instanceState } from "../schemas/instance";
import { jobState } from "../schemas/job";
import { listAuditQuery } from "../schemas/audit";

export type HttpMethod = "GET" | "POST" | "PUT" | "PATCH" | "DELETE";

/** Largest Idempotency-Key accepted (functions/http/api.ts idempotencyKey). */
export const IDEMPOTENCY_KEY_MAX_LENGTH = 200;
/** Page size of lists: `top`. */
export const PAGE_SIZE = { default: 100, max: 1000 } as const;
/** Seconds a client should wait before polling an operation again (Retry-After on 202s and running operations). */
export const OPERATION_RETRY_AFTER_SECONDS = 2;

/** Paging query parameters, as every list reads them. */
export const pageQuery = {
  top: z.number().int().min(1).max(PAGE_SIZE.max).default(PAGE_SIZE.default).meta({ description: "Page size." }),
  continuationToken: z.string().meta({
    description: "From the previous page's nextLink; opaque and signed. One that is not from this list is a 400 naming continuationToken.",
  }).optional(),
};

export type ResponseDef = {
  description: string;
  /** Name of a response schema, "text" for text/plain, "javascript", "object" for an untyped JSON object; none for no body. */
  body?: string;
  /** Response headers the route sets. */
  headers?: ("ETag" | "Operation-Location" | "Retry-After" | "Location")[];
};

export type RouteDef = {
  /** Function name the route is registered under. */
  fn: string;
  method: HttpMethod;
  /** Route template under /api (or under the site root when base is ""). */
  route: string;
  /** "": served from the site root (the portal), not under /api. */
  base?: "";
  operationId: string;
  summary: string;
  /** "anonymous": no identity needed (the function answers without a principal). */
  security?: "anonymous";
  /** Query parameters (zod, one per parameter). */
  query?: Record<string, z.ZodType>;
  headers?: ("If-Match" | "Idempotency-Key")[];
  /** Name of a request schema (JSON body) or an inline zod schema. */
  body?: string | z.ZodType;
  responses: Record<string, ResponseDef>;
};

const err = (description: string): ResponseDef => ({ description, body: "ErrorBody" });
const common = {
  "400": err("Invalid request (code InvalidRequest); details name each field."),
  "401": err("No valid identity (Unauthorized)."),
  "403": err("The caller's role does not allow this (Forbidden)."),
};
/** Every JSON body is bounded before anything else looks at it (shared/jsonBody.ts). */
const withBody = {
  "400": err("Invalid request (code InvalidRequest); details name each field. Also a body that is not JSON or is nested more than 32 levels deep (target body)."),
  "413": err("The body is larger than 256 KiB (PayloadTooLarge)."),
};
const noInstance = { "404": err("No such instance (or not yours).") };
const accepted = (description: string, body = "Operation"): ResponseDef => ({
  description,
  body,
  headers: ["Operation-Location", "Retry-After", "Location"],
});

const lifecycle = (verb: "start" | "stop" | "restart", summary: string): RouteDef => ({
  fn: `instances${verb[0]!.toUpperCase()}${verb.slice(1)}`,
  method: "POST",
  route: `instances/{name}/${verb}`,
  operationId: `${verb}Instance`,
  summary,
  headers: ["If-Match", "Idempotency-Key"],
  responses: {
    "202": accepted(`The ${verb} operation was accepted.`),
    ...common,
    ...noInstance,
    "409": err("InvalidStateTransition (the state machine forbids it) or Conflict (an operation is in flight)."),
    "412": err("If-Match does not match."),
  },
});

export const ROUTES = {
  health: {
    fn: "health", method: "GET", route: "health", operationId: "health", security: "anonymous",
    summary: "200 when storage, ARM and Files answer; 503 naming what is down.",
    responses: { "200": { description: "Up.", body: "Health" }, "503": { description: "A dependency is down.", body: "Health" } },
  },
  openApi: {
    fn: "openapi", method: "GET", route: "openapi.json", operationId: "openApi", security: "anonymous",
    summary: "This document.",
    responses: { "200": { description: "This document.", body: "object" } },
  },
  listInstances: {
    fn: "instancesList", method: "GET", route: "instances", operationId: "listInstances",
    summary: "Instances the caller may see (users: their own; admins and readers: all).",
    query: { state: instanceState.optional(), assignedUser: z.string().optional(), ...pageQuery },
    responses: { "200": { description: "Instances the caller may see.", body: "InstanceList" }, ...common },
  },
  createInstance: {
    fn: "instancesPut", method: "PUT", route: "instances/{name}", operationId: "createInstance",
    summary: "Create an instance (201), or repeat an earlier identical create (200).",
    headers: ["If-Match"], body: "CreateInstanceBody",
    responses: {
      "200": { description: "Idempotent repeat of an earlier create.", body: "Instance", headers: ["ETag"] },
      "201": { description: "Created; provisioning runs in the background.", body: "Instance", headers: ["ETag", "Operation-Location", "Retry-After", "Location"] },
      ...common,
      ...withBody,
      "409": err("Conflict (name taken), QuotaExceeded, or SkuNotAvailable (the size is restricted for the subscription)."),
      "412": err("If-Match does not match."),
    },
  },
  getInstance: {
    fn: "instancesGet", method: "GET", route: "instances/{name}", operationId: "getInstance", summary: "One instance.",
    responses: { "200": { description: "The instance.", body: "Instance", headers: ["ETag"] }, ...common, ...noInstance },
  },
  updateInstance: {
    fn: "instancesPatch", method: "PATCH", route: "instances/{name}", operationId: "updateInstance",
    summary: "Change the mutable fields of an instance.",
    headers: ["If-Match"], body: "PatchInstanceBody",
    responses: {
      "200": { description: "Updated.", body: "Instance", headers: ["ETag"] },
      ...common,
      ...withBody,
      ...noInstance,
      "409": err("PropertyChangeNotAllowed: a field fixed after creation."),
      "412": err("If-Match does not match."),
    },
  },
  deleteInstance: {
    fn: "instancesDelete", method: "DELETE", route: "instances/{name}", operationId: "deleteInstance",
    summary: "Delete an instance; the user's files are kept.",
    headers: ["If-Match"],
    responses: { "202": accepted("Deletion accepted; the user's files are kept."), ...common, ...noInstance, "409": err("Conflict."), "412": err("If-Match does not match.") },
  },
  startInstance: lifecycle("start", "Start a stopped instance."),
  stopInstance: lifecycle("stop", "Stop (deallocate) an instance; running jobs are canceled."),
  restartInstance: lifecycle("restart", "Restart an instance."),
  reportActivity: {
    fn: "instanceActivity", method: "POST", route: "instances/{name}/activity", operationId: "reportActivity",
    summary: "Heartbeat from an agent or notebook on the VM; resets the idle timer.",
    responses: { "204": { description: "Recorded." }, ...common, ...noInstance },
  },
  getSetupLog: {
    fn: "instancesSetupLog", method: "GET", route: "instances/{name}/setup-log", operationId: "getSetupLog",
    summary: "What the setup scripts of the instance's last operation wrote (creation, then startup), read from Logs/<name>/ on the workspace share.",
    responses: {
      "200": { description: "The log text; empty when no script has written yet (or the instance has none).", body: "text" },
      ...common,
      ...noInstance,
    },
  },
  listJobs: {
    fn: "listJobs", method: "GET", route: "instances/{name}/jobs", operationId: "listJobs", summary: "Jobs of the instance.",
    query: { state: jobState.optional(), ...pageQuery },
    responses: { "200": { description: "Jobs of the instance.", body: "JobList" }, ...common, ...noInstance },
  },
  submitJob: {
    fn: "submitJob", method: "POST", route: "instances/{name}/jobs", operationId: "submitJob", summary: "Queue a job on the instance.",
    headers: ["Idempotency-Key"], body: "JobSubmissionBody",
    responses: {
      "202": { description: "Queued.", body: "Job", headers: ["Location"] },
      ...common,
      ...withBody,
      ...noInstance,
      "409": err("The instance is being deleted, or the Idempotency-Key was used for a job on another (or an earlier) instance of that name."),
    },
  },
  getJob: {
    fn: "getJob", method: "GET", route: "jobs/{id}", operationId: "getJob", summary: "One job.",
    responses: { "200": { description: "The job.", body: "Job", headers: ["ETag"] }, ...common, "404": err("No such job.") },
  },
  getJobLogs: {
    fn: "getJobLogs", method: "GET", route: "jobs/{id}/logs", operationId: "getJobLogs", summary: "The job's output.",
    query: {
      stream: z.enum(["stdout", "stderr"]).optional().meta({
        description: "One stream only, from `offset`: what a follower polls while the job writes. Without it: stdout then stderr, whole.",
      }),
      offset: z.number().int().min(0).optional().meta({ description: "With `stream`: the first byte to return (0 by default)." }),
    },
    responses: {
      "200": { description: "stdout then stderr; or, with `stream`, that stream's bytes from `offset` (empty when nothing new).", body: "text" },
      ...common,
      "404": err("No such job."),
    },
  },
  cancelJob: {
    fn: "cancelJob", method: "POST", route: "jobs/{id}/cancel", operationId: "cancelJob", summary: "Cancel a queued or running job.",
    responses: { "202": { description: "Cancellation accepted.", body: "Job", headers: ["Location"] }, ...common, "404": err("No such job."), "409": err("The job already ended."), "503": err("The job kept changing under concurrent writes (code Contention); retry.") },
  },
  getAgent: {
    fn: "agentFile", method: "GET", route: "agent/agent.js", operationId: "getAgent", security: "anonymous",
    summary: "The job agent (one file) that cloud-init installs on every VM. Public.",
    responses: { "200": { description: "The agent.", body: "javascript" }, "404": err("Not built.") },
  },
  reportJob: {
    fn: "agentReport", method: "POST", route: "agent/jobs/{id}/reports", operationId: "reportJob",
    summary: "A VM's agent reports on a job: started (answer: what to run, once; a job with an image stays Starting while the agent pulls it), running (the image is there: Starting → Running), heartbeat, exited. Only the managed identity of the VM of the instance that owns the job may call it.",
    body: "AgentReport",
    responses: {
      "200": { description: "started: {command, env, timeoutMinutes, logs, environment?}; running: {}; heartbeat: {cancel?}.", body: "object" },
      "202": { description: "exited: the end is being recorded.", body: "object" },
      ...common,
      "404": err("No such job."),
      "409": err("started / running: the job is not Starting (or, for running, was not started by its agent) (JobNotStartable) or was canceled (JobCanceled); it must not run."),
    },
  },
  listSizes: {
    fn: "sizesList", method: "GET", route: "sizes", operationId: "listSizes", summary: "Allowed VM sizes and quota use per family.",
    responses: { "200": { description: "Allowed VM sizes and quota use per family.", body: "Sizes" }, ...common },
  },
  getOperation: {
    fn: "operationsGet", method: "GET", route: "operations/{id}", operationId: "getOperation", summary: "A long-running operation (status monitor).",
    responses: {
      "200": { description: "The operation; Retry-After while it runs.", body: "Operation", headers: ["Retry-After"] },
      ...common,
      "404": err("No such operation."),
    },
  },
  postponeAutoStop: {
    fn: "instanceAutoStopPostpone", method: "POST", route: "instances/{name}/autostop/postpone", operationId: "postponeAutoStop",
    summary: "Push every stop shown in autoStop.warning (idle or scheduled) back by the idle timeout (an hour when idle shutdown is off).",
    responses: {
      "200": { description: "Postponed; the instance with its new autoStop.", body: "Instance", headers: ["ETag"] },
      ...common,
      ...noInstance,
      "409": err("NothingToPostpone: no stop is due within AUTOSTOP_WARNING_MINUTES."),
    },
  },
  openApplication: {
    fn: "applicationSessions", method: "POST", route: "instances/{name}/applications/{app}/sessions", operationId: "openApplication",
    summary: "A URL that opens the application (terminal, jupyter, jupyterlab, vscode) on the VM's authenticating proxy, with a single-use ticket valid for a minute. Only the instance's assigned user.",
    responses: {
      "201": { description: "Open `url` (with `application` and `expiresAt`) in the browser: the proxy exchanges the ticket for an HttpOnly session cookie.", body: "object" },
      ...common,
      "404": err("No such instance (or not yours), or no such application."),
      "409": err("ApplicationNotAvailable: the instance is not running, its agent has not reported yet, or the application is not installed on this machine."),
    },
  },
  reportSignals: {
    fn: "agentSignals", method: "POST", route: "agent/instances/{name}/signals", operationId: "reportSignals",
    summary: "A VM's agent reports what keeps the machine busy (and the applications its proxy serves). Only the managed identity of that instance's VM may call it.",
    body: "AgentSignalsReport",
    responses: { "200": { description: "Recorded; `intervalSeconds` is when to report next.", body: "object" }, ...common, "404": err("No such instance.") },
  },
  redeemTicket: {
    fn: "agentTickets", method: "POST", route: "agent/instances/{name}/tickets", operationId: "redeemTicket",
    summary: "A VM's agent redeems an application ticket (once, before it expires) and learns whose session it starts. Only the managed identity of that instance's VM may call it.",
    body: z.object({ ticket: z.string().max(200), application: z.string() }),
    responses: {
      "200": { description: "The ticket's user and application.", body: "object" },
      ...common,
      "403": err("Forbidden (not this instance's VM), or TicketInvalid: unknown, used, expired, or for another application."),
    },
  },
  listAudit: {
    fn: "auditList", method: "GET", route: "audit", operationId: "listAudit",
    summary: "The audit trail, newest first: who or what changed which instance or job, when, with what result. Admins and readers see all entries, users those of their instances.",
    query: { ...listAuditQuery.shape, ...pageQuery },
    responses: { "200": { description: "One page of entries.", body: "AuditList" }, ...common },
  },
  getAuditEntry: {
    fn: "auditGet", method: "GET", route: "audit/{id}", operationId: "getAuditEntry", summary: "One audit entry.",
    responses: {
      "200": { description: "The entry (an instance's `lastOperation.audit` links here).", body: "AuditEntry" },
      ...common,
      "404": err("No such entry (or not of your instances)."),
    },
  },
  portalPage: {
    fn: "portalPage", method: "GET", base: "", route: "{file?}", operationId: "getPortal", security: "anonymous",
    summary: "The portal (index.html at / ); the page signs in through /.auth and calls this API.",
    responses: { "200": { description: "The portal page (no-cache).", body: "html" }, "404": { description: "No such file." } },
  },
  portalAsset: {
    fn: "portalAsset", method: "GET", base: "", route: "assets/{file}", operationId: "getPortalAsset", security: "anonymous",
    summary: "The portal's script and style sheet, named by content hash (cached for a year).",
    responses: { "200": { description: "The file.", body: "text" }, "404": { description: "No such file." } },
  },
} satisfies Record<string, RouteDef>;

export type RouteName = keyof typeof ROUTES;

/** The route template registered with the Functions host (routePrefix is ""): API routes live under api/. */
export function routeTemplate(def: RouteDef): string {
  return def.base === "" ? def.route : `api/${def.route}`;
}
