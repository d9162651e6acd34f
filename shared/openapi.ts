import { z } from "zod";
import { errorBody } from "./schemas/common";
import { createInstanceBody, instanceList, instanceResponse, instanceState, patchInstanceBody } from "./schemas/instance";
import { jobList, jobQueueMessage, jobResponse, jobState, jobSubmissionBody } from "./schemas/job";
import { operationResponse } from "./schemas/operation";
import { agentReport } from "./jobs/agentReport";
import { agentSignalsReport } from "./instances/agentSignals";
import { healthResponse, sizesResponse } from "./schemas/sizes";

// The OpenAPI 3.1 document, generated from the same zod schemas that validate requests
// (z.toJSONSchema; OpenAPI 3.1 schemas are JSON Schema 2020-12). Request bodies are rendered
// as input (defaults make fields optional), responses as output.

type Json = Record<string, unknown>;

const requestSchemas = {
  CreateInstanceBody: createInstanceBody,
  PatchInstanceBody: patchInstanceBody,
  JobSubmissionBody: jobSubmissionBody,
  JobQueueMessage: jobQueueMessage,
};
const responseSchemas = {
  Instance: instanceResponse,
  InstanceList: instanceList,
  Job: jobResponse,
  JobList: jobList,
  Operation: operationResponse,
  Sizes: sizesResponse,
  Health: healthResponse,
  ErrorBody: errorBody,
};

function components(schemas: Record<string, z.ZodType>, io: "input" | "output"): Record<string, Json> {
  const registry = z.registry<{ id: string }>();
  for (const [id, schema] of Object.entries(schemas)) registry.add(schema, { id });
  const out = z.toJSONSchema(registry, {
    io,
    target: "draft-2020-12",
    unrepresentable: "any",
    uri: (id) => `#/components/schemas/${id}`,
  }) as { schemas: Record<string, Json> };
  for (const schema of Object.values(out.schemas)) {
    delete schema.$schema;
    delete schema.$id;
  }
  return out.schemas;
}

function inline(schema: z.ZodType): Json {
  const { $schema: _ignored, ...rest } = z.toJSONSchema(schema) as Json;
  return rest;
}

const ref = (id: string) => ({ $ref: `#/components/schemas/${id}` });
const json = (id: string) => ({ "application/json": { schema: ref(id) } });
const error = (description: string) => ({ description, content: json("ErrorBody") });
const errors = {
  "400": error("Invalid request (code InvalidRequest); details name each field."),
  "401": error("No valid identity (Unauthorized)."),
  "403": error("The caller's role does not allow this (Forbidden)."),
};
/** Every JSON body is bounded before anything else looks at it (shared/jsonBody.ts). */
const bodyErrors = {
  "400": error("Invalid request (code InvalidRequest); details name each field. Also a body that is not JSON or is nested more than 32 levels deep (target body)."),
  "413": error("The body is larger than 256 KiB (PayloadTooLarge)."),
};
const pageParams = [
  { name: "top", in: "query", required: false, description: "Page size.", schema: { type: "integer", minimum: 1, maximum: 1000, default: 100 } },
  {
    name: "continuationToken",
    in: "query",
    required: false,
    description: "From the previous page's nextLink; opaque and signed. One that is not from this list is a 400 naming continuationToken.",
    schema: { type: "string" },
  },
];
const nameParam = {
  name: "name",
  in: "path",
  required: true,
  description: "Instance name: 3–24 letters, digits and hyphens, starting with a letter.",
  schema: { type: "string", pattern: "^[A-Za-z][A-Za-z0-9-]{2,23}$" },
};
const idParam = (what: string) => ({ name: "id", in: "path", required: true, description: `${what} id`, schema: { type: "string" } });
const ifMatch = { name: "If-Match", in: "header", required: false, description: "ETag the write is conditional on.", schema: { type: "string" } };
const idempotencyKey = {
  name: "Idempotency-Key",
  in: "header",
  required: false,
  description: "A repeated key returns the first result.",
  schema: { type: "string", maxLength: 256 },
};
const accepted = (description: string, body = "Operation") => ({
  description,
  headers: {
    "Operation-Location": { description: "URL of the operation to poll.", schema: { type: "string" } },
  },
  content: json(body),
});
const instanceOp = (verb: string, summary: string) => ({
  post: {
    operationId: `${verb}Instance`,
    summary,
    parameters: [nameParam, idempotencyKey],
    responses: {
      "202": accepted(`The ${verb} operation was accepted.`),
      ...errors,
      "404": error("No such instance (or not yours)."),
      "409": error("InvalidStateTransition (the state machine forbids it) or Conflict (an operation is in flight)."),
    },
  },
});

export function buildOpenApiDocument(options: { serverUrl?: string; version?: string } = {}): Json {
  const schemas = { ...components(requestSchemas, "input"), ...components(responseSchemas, "output") };
  return {
    openapi: "3.1.0",
    info: {
      title: "Compute Instances",
      version: options.version ?? "0.1.0",
      description: "Managed single-user ML workstations with job queues, schedules and idle shutdown.",
    },
    ...(options.serverUrl ? { servers: [{ url: options.serverUrl }] } : {}),
    security: [{ bearer: [] }],
    paths: {
      "/api/health": {
        get: {
          operationId: "health",
          security: [],
          responses: { "200": { description: "Up.", content: json("Health") }, "503": { description: "A dependency is down.", content: json("Health") } },
        },
      },
      "/api/openapi.json": {
        get: { operationId: "openApi", responses: { "200": { description: "This document.", content: { "application/json": { schema: { type: "object" } } } } } },
      },
      "/api/instances": {
        get: {
          operationId: "listInstances",
          parameters: [
            { name: "state", in: "query", required: false, schema: inline(instanceState) },
            { name: "assignedUser", in: "query", required: false, schema: { type: "string" } },
            ...pageParams,
          ],
          responses: { "200": { description: "Instances the caller may see.", content: json("InstanceList") }, ...errors },
        },
      },
      "/api/instances/{name}": {
        parameters: [nameParam],
        put: {
          operationId: "createInstance",
          parameters: [ifMatch],
          requestBody: { required: true, content: json("CreateInstanceBody") },
          responses: {
            "200": { description: "Idempotent repeat of an earlier create.", content: json("Instance") },
            "201": {
              description: "Created; provisioning runs in the background.",
              headers: { "Operation-Location": { schema: { type: "string" } }, ETag: { schema: { type: "string" } } },
              content: json("Instance"),
            },
            ...errors,
            ...bodyErrors,
            "409": error("Conflict (name taken), QuotaExceeded, or SkuNotAvailable (the size is restricted for the subscription)."),
            "412": error("If-Match does not match."),
          },
        },
        get: {
          operationId: "getInstance",
          responses: {
            "200": { description: "The instance.", headers: { ETag: { schema: { type: "string" } } }, content: json("Instance") },
            ...errors,
            "404": error("No such instance (or not yours)."),
          },
        },
        patch: {
          operationId: "updateInstance",
          parameters: [ifMatch],
          requestBody: { required: true, content: json("PatchInstanceBody") },
          responses: {
            "200": { description: "Updated.", content: json("Instance") },
            ...errors,
            ...bodyErrors,
            "404": error("No such instance (or not yours)."),
            "409": error("PropertyChangeNotAllowed: a field fixed after creation."),
            "412": error("If-Match does not match."),
          },
        },
        delete: {
          operationId: "deleteInstance",
          parameters: [ifMatch],
          responses: { "202": accepted("Deletion accepted; the user's files are kept."), ...errors, "404": error("No such instance."), "409": error("Conflict.") },
        },
      },
      "/api/instances/{name}/start": instanceOp("start", "Start a stopped instance."),
      "/api/instances/{name}/stop": instanceOp("stop", "Stop (deallocate) an instance; running jobs are canceled."),
      "/api/instances/{name}/restart": instanceOp("restart", "Restart an instance."),
      "/api/instances/{name}/activity": {
        post: {
          operationId: "reportActivity",
          summary: "Heartbeat from an agent or notebook on the VM; resets the idle timer.",
          parameters: [nameParam],
          responses: { "204": { description: "Recorded." }, ...errors, "404": error("No such instance.") },
        },
      },
      "/api/instances/{name}/autostop/postpone": {
        post: {
          operationId: "postponeAutoStop",
          summary: "Push every stop shown in autoStop.warning (idle or scheduled) back by the idle timeout (an hour when idle shutdown is off).",
          parameters: [nameParam],
          responses: {
            "200": { description: "Postponed; the instance with its new autoStop.", headers: { ETag: { schema: { type: "string" } } }, content: json("Instance") },
            ...errors,
            "404": error("No such instance (or not yours)."),
            "409": error("NothingToPostpone: no stop is due within AUTOSTOP_WARNING_MINUTES."),
          },
        },
      },
      "/api/instances/{name}/applications/{app}/sessions": {
        post: {
          operationId: "openApplication",
          summary: "A URL that opens the application (terminal, jupyter, jupyterlab) on the VM's authenticating proxy, with a single-use ticket valid for a minute. Only the instance's assigned user.",
          parameters: [nameParam, { name: "app", in: "path", required: true, schema: { type: "string", enum: ["terminal", "jupyter", "jupyterlab"] } }],
          responses: {
            "201": {
              description: "Open `url` in the browser: the proxy exchanges the ticket for an HttpOnly session cookie.",
              content: { "application/json": { schema: { type: "object", required: ["application", "url", "expiresAt"], properties: { application: { type: "string" }, url: { type: "string" }, expiresAt: { type: "string", format: "date-time" } } } } },
            },
            ...errors,
            "404": error("No such instance (or not yours), or no such application."),
            "409": error("ApplicationNotAvailable: the instance is not running, its agent has not reported yet, or the application is not installed on this machine."),
          },
        },
      },
      "/api/instances/{name}/jobs": {
        parameters: [nameParam],
        get: {
          operationId: "listJobs",
          parameters: [{ name: "state", in: "query", required: false, schema: inline(jobState) }, ...pageParams],
          responses: { "200": { description: "Jobs of the instance.", content: json("JobList") }, ...errors, "404": error("No such instance.") },
        },
        post: {
          operationId: "submitJob",
          parameters: [idempotencyKey],
          requestBody: { required: true, content: json("JobSubmissionBody") },
          responses: {
            "202": accepted("Queued.", "Job"),
            ...errors,
            ...bodyErrors,
            "404": error("No such instance."),
            "409": error("The instance is being deleted, or the Idempotency-Key was used for a job on another (or an earlier) instance of that name."),
          },
        },
      },
      "/api/jobs/{id}": {
        get: { operationId: "getJob", parameters: [idParam("Job")], responses: { "200": { description: "The job.", content: json("Job") }, ...errors, "404": error("No such job.") } },
      },
      "/api/jobs/{id}/logs": {
        get: {
          operationId: "getJobLogs",
          parameters: [
            idParam("Job"),
            {
              name: "stream",
              in: "query",
              required: false,
              description: "One stream only (stdout or stderr), from `offset`: what a follower polls while the job writes. Without it: stdout then stderr, whole.",
              schema: { type: "string", enum: ["stdout", "stderr"] },
            },
            { name: "offset", in: "query", required: false, description: "With `stream`: the first byte to return (0 by default).", schema: { type: "integer", minimum: 0 } },
          ],
          responses: {
            "200": { description: "stdout then stderr; or, with `stream`, that stream's bytes from `offset` (empty when nothing new).", content: { "text/plain": { schema: { type: "string" } } } },
            ...errors,
            "404": error("No such job."),
          },
        },
      },
      "/api/jobs/{id}/cancel": {
        post: { operationId: "cancelJob", parameters: [idParam("Job")], responses: { "202": { description: "Cancellation accepted.", content: json("Job") }, ...errors, "404": error("No such job.") } },
      },
      "/api/agent/agent.js": {
        get: {
          operationId: "getAgent",
          summary: "The job agent (one file) that cloud-init installs on every VM. Public.",
          security: [],
          responses: { "200": { description: "The agent.", content: { "text/javascript": { schema: { type: "string" } } } }, "404": error("Not built.") },
        },
      },
      "/api/agent/jobs/{id}/reports": {
        post: {
          operationId: "reportJob",
          summary: "A VM's agent reports on a job: started (answer: what to run, once), heartbeat, exited. Only the managed identity of the VM of the instance that owns the job may call it.",
          parameters: [idParam("Job")],
          requestBody: { required: true, content: { "application/json": { schema: inline(agentReport) } } },
          responses: {
            "200": { description: "started: {command, env, timeoutMinutes, logs}; heartbeat: {cancel?}.", content: { "application/json": { schema: { type: "object" } } } },
            "202": { description: "exited: the end is being recorded.", content: { "application/json": { schema: { type: "object" } } } },
            ...errors,
            "404": error("No such job."),
            "409": error("started: the job is not Starting (JobNotStartable) or was canceled (JobCanceled); it must not run."),
          },
        },
      },
      "/api/agent/instances/{name}/signals": {
        post: {
          operationId: "reportSignals",
          summary: "A VM's agent reports what keeps the machine busy (and the applications its proxy serves). Only the managed identity of that instance's VM may call it.",
          parameters: [nameParam],
          requestBody: { required: true, content: { "application/json": { schema: inline(agentSignalsReport) } } },
          responses: {
            "200": { description: "Recorded; `intervalSeconds` is when to report next.", content: { "application/json": { schema: { type: "object", properties: { intervalSeconds: { type: "integer" } } } } } },
            ...errors,
            "404": error("No such instance."),
          },
        },
      },
      "/api/agent/instances/{name}/tickets": {
        post: {
          operationId: "redeemTicket",
          summary: "A VM's agent redeems an application ticket (once, before it expires) and learns whose session it starts. Only the managed identity of that instance's VM may call it.",
          parameters: [nameParam],
          requestBody: { required: true, content: { "application/json": { schema: { type: "object", required: ["ticket", "application"], properties: { ticket: { type: "string" }, application: { type: "string" } } } } } },
          responses: {
            "200": { description: "The ticket's user and application.", content: { "application/json": { schema: { type: "object", properties: { user: { type: "string" }, application: { type: "string" } } } } } },
            ...errors,
            "403": error("Forbidden (not this instance's VM), or TicketInvalid: unknown, used, expired, or for another application."),
          },
        },
      },
      "/api/sizes": {
        get: { operationId: "listSizes", responses: { "200": { description: "Allowed VM sizes and quota use per family.", content: json("Sizes") }, ...errors } },
      },
      "/api/operations/{id}": {
        get: { operationId: "getOperation", parameters: [idParam("Operation")], responses: { "200": { description: "The operation.", content: json("Operation") }, ...errors, "404": error("No such operation.") } },
      },
    },
    components: {
      schemas,
      securitySchemes: {
        bearer: {
          type: "http",
          scheme: "bearer",
          description: "In Azure: App Service Authentication (Entra ID token). Locally: a token from LOCAL_PRINCIPALS.",
        },
      },
    },
  };
}
