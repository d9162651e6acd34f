import { z } from "zod";
import { errorBody, INSTANCE_NAME_PATTERN } from "./schemas/common";
import { createInstanceBody, instanceList, instanceResponse, patchInstanceBody } from "./schemas/instance";
import { jobList, jobQueueMessage, jobResponse, jobSubmissionBody } from "./schemas/job";
import { operationResponse } from "./schemas/operation";
import { auditEntry, auditList } from "./schemas/audit";
import { agentReport } from "./jobs/agentReport";
import { agentSignalsReport } from "./instances/agentSignals";
import { IDEMPOTENCY_KEY_MAX_LENGTH, ROUTES, routeTemplate, type ResponseDef, type RouteDef } from "./api/routes";
import { healthResponse, sizesResponse } from "./schemas/sizes";

// The OpenAPI 3.1 document, generated from the same zod schemas that validate requests
// (z.toJSONSchema; OpenAPI 3.1 schemas are JSON Schema 2020-12). Request bodies are rendered
// as input (defaults make fields optional), responses as output. Paths come from the route
// table (shared/api/routes.ts) the functions register from; nothing here is written per path.

type Json = Record<string, unknown>;

const requestSchemas = {
  CreateInstanceBody: createInstanceBody,
  PatchInstanceBody: patchInstanceBody,
  JobSubmissionBody: jobSubmissionBody,
  JobQueueMessage: jobQueueMessage,
  AgentReport: agentReport,
  AgentSignalsReport: agentSignalsReport,
};
const responseSchemas = {
  Instance: instanceResponse,
  InstanceList: instanceList,
  Job: jobResponse,
  JobList: jobList,
  Operation: operationResponse,
  AuditEntry: auditEntry,
  AuditList: auditList,
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
  const { $schema: _ignored, ...rest } = z.toJSONSchema(schema, { io: "input", unrepresentable: "any" }) as Json;
  return rest;
}

const ref = (id: string) => ({ $ref: `#/components/schemas/${id}` });

const HEADER_DOCS: Record<NonNullable<ResponseDef["headers"]>[number], Json> = {
  ETag: { description: "Version of the resource, for If-Match.", schema: { type: "string" } },
  "Operation-Location": { description: "Absolute URL of the operation (status monitor) to poll.", schema: { type: "string", format: "uri" } },
  "Retry-After": { description: "Seconds to wait before polling the operation.", schema: { type: "integer", minimum: 0 } },
  Location: { description: "Absolute URL of the operation (202 of a long operation), the job (202 of a job) or the new instance (201).", schema: { type: "string" } },
};

function content(body: string): Json {
  switch (body) {
    case "text":
      return { "text/plain": { schema: { type: "string" } } };
    case "javascript":
      return { "text/javascript": { schema: { type: "string" } } };
    case "html":
      return { "text/html": { schema: { type: "string" } } };
    case "object":
      return { "application/json": { schema: { type: "object" } } };
    default:
      return { "application/json": { schema: ref(body) } };
  }
}

function response(r: ResponseDef): Json {
  return {
    description: r.description,
    ...(r.headers ? { headers: Object.fromEntries(r.headers.map((h) => [h, HEADER_DOCS[h]])) } : {}),
    ...(r.body ? { content: content(r.body) } : {}),
  };
}

/** Path parameters, from the names in the route template. */
function pathParameter(def: RouteDef, name: string): Json {
  if (name === "name") {
    return {
      name, in: "path", required: true,
      description: "Instance name: 3–24 letters, digits and hyphens, starting with a letter.",
      schema: { type: "string", pattern: INSTANCE_NAME_PATTERN.source },
    };
  }
  const what = def.route.startsWith("operations/") ? "Operation" : def.route.includes("jobs/") ? "Job" : "Resource";
  return { name, in: "path", required: true, description: `${what} id.`, schema: { type: "string" } };
}

function queryParameter(name: string, schema: z.ZodType): Json {
  const { description, ...json } = inline(schema);
  return {
    name,
    in: "query",
    required: !schema.safeParse(undefined).success,
    ...(typeof description === "string" ? { description } : {}),
    schema: json,
  };
}

const HEADER_PARAMS: Record<NonNullable<RouteDef["headers"]>[number], Json> = {
  "If-Match": { name: "If-Match", in: "header", required: false, description: "ETag the write is conditional on (412 when it changed).", schema: { type: "string" } },
  "Idempotency-Key": {
    name: "Idempotency-Key",
    in: "header",
    required: false,
    description: "A repeated key returns the first result.",
    schema: { type: "string", minLength: 1, maxLength: IDEMPOTENCY_KEY_MAX_LENGTH },
  },
};

/** The OpenAPI path of a route: `/api/instances/{name}`; a catch-all `{*path}` becomes `{path}`. */
export function openApiPath(def: RouteDef): string {
  return "/" + routeTemplate(def).replace(/\{\*?([A-Za-z0-9_]+)(:[^}]*)?\??\}/g, "{$1}");
}

function operation(def: RouteDef): Json {
  const pathNames = [...def.route.matchAll(/\{\*?([A-Za-z0-9_]+)/g)].map((m) => m[1]!);
  const parameters = [
    ...pathNames.map((n) => pathParameter(def, n)),
    ...Object.entries(def.query ?? {}).map(([n, schema]) => queryParameter(n, schema)),
    ...(def.headers ?? []).map((h) => HEADER_PARAMS[h]),
  ];
  const body = def.body === undefined ? undefined : typeof def.body === "string" ? content(def.body) : { "application/json": { schema: inline(def.body) } };
  return {
    operationId: def.operationId,
    summary: def.summary,
    ...(def.security === "anonymous" ? { security: [] } : {}),
    ...(parameters.length ? { parameters } : {}),
    ...(body ? { requestBody: { required: true, content: body } } : {}),
    responses: Object.fromEntries(Object.entries(def.responses).map(([status, r]) => [status, response(r)])),
  };
}

/** paths, generated from the route table: every registered route, nothing else. */
function paths(routes: readonly RouteDef[]): Record<string, Record<string, Json>> {
  const out: Record<string, Record<string, Json>> = {};
  for (const def of routes) {
    const item = (out[openApiPath(def)] ??= {});
    item[def.method.toLowerCase()] = operation(def);
  }
  return out;
}

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
    security: [{ bearer: [] }, { session: [] }],
    paths: paths(Object.values(ROUTES)),
    components: {
      schemas,
      securitySchemes: {
        bearer: {
          type: "http",
          scheme: "bearer",
          description: "In Azure: App Service Authentication (Entra ID token). Locally: a token from LOCAL_PRINCIPALS.",
        },
        session: {
          type: "apiKey",
          in: "cookie",
          name: "AppServiceAuthSession",
          description: "The sign-in session of /.auth/login/aad (browsers; HttpOnly, SameSite=Lax). Turned into the same identity as a bearer token.",
        },
      },
    },
  };
}
