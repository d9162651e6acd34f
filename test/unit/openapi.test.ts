import { describe, expect, it } from "vitest";
import { buildOpenApiDocument } from "../../shared/openapi";

describe("OpenAPI document", () => {
  const doc = buildOpenApiDocument() as {
    openapi: string;
    paths: Record<string, Record<string, unknown>>;
    components: { schemas: Record<string, { properties?: Record<string, unknown>; required?: string[]; additionalProperties?: unknown }>; securitySchemes: Record<string, unknown> };
  };

  it("is OpenAPI 3.1 with every path of api.md", () => {
    expect(doc.openapi).toBe("3.1.0");
    for (const path of [
      "/api/health",
      "/api/openapi.json",
      "/api/instances",
      "/api/instances/{name}",
      "/api/instances/{name}/start",
      "/api/instances/{name}/stop",
      "/api/instances/{name}/restart",
      "/api/instances/{name}/activity",
      "/api/instances/{name}/jobs",
      "/api/jobs/{id}",
      "/api/jobs/{id}/logs",
      "/api/jobs/{id}/cancel",
      "/api/sizes",
      "/api/operations/{id}",
      "/api/audit",
      "/api/audit/{id}",
    ]) {
      expect(doc.paths[path], path).toBeDefined();
    }
    expect(Object.keys(doc.paths["/api/instances/{name}"] ?? {})).toEqual(expect.arrayContaining(["put", "get", "patch", "delete"]));
    expect(doc.components.securitySchemes.bearer).toMatchObject({ type: "http", scheme: "bearer" });
  });

  it("renders request schemas from the validating zod schemas, closed to unknown properties", () => {
    const create = doc.components.schemas.CreateInstanceBody;
    expect(create?.required).toEqual(["vmSize"]);
    expect(create?.additionalProperties).toBe(false);
    expect(Object.keys(create?.properties ?? {})).toEqual(
      expect.arrayContaining(["vmSize", "sshPublicAccess", "sshPublicKey", "idleShutdownMinutes", "schedules", "setupScripts", "jobsPerCore", "tags"]),
    );
    expect(doc.components.schemas.JobSubmissionBody?.required).toEqual(["command"]);
    expect(doc.components.schemas.ErrorBody).toBeDefined();
    expect(doc.components.schemas.Instance?.required).toEqual(expect.arrayContaining(["name", "state", "vmSize", "jobs"]));
  });

  it("is plain JSON with resolvable $refs", () => {
    const text = JSON.stringify(doc);
    for (const m of text.matchAll(/"\$ref":"#\/components\/schemas\/([^"]+)"/g)) {
      expect(doc.components.schemas[m[1] as string], m[1]).toBeDefined();
    }
    expect(text).not.toContain('"$schema"');
  });
});

describe("OpenAPI document validity", () => {
  it("validates against the OpenAPI 3.1 specification schema (portals generate clients from it)", async () => {
    const { validate } = await import("@readme/openapi-parser");
    const result = await validate(structuredClone(buildOpenApiDocument()) as never);
    expect(result.valid ? [] : result.errors).toEqual([]);
  });
});

describe("OpenAPI document says what the code does", () => {
  type Param = { name: string; in: string; schema: { maxLength?: number; maximum?: number } };
  type Op = { parameters?: Param[]; responses: Record<string, { headers?: Record<string, unknown> }> };
  const doc = buildOpenApiDocument() as { paths: Record<string, Record<string, Op>> };
  const op = (p: string, m: string) => doc.paths[p]![m]!;

  it("limits Idempotency-Key to the 200 characters functions/http/api.ts enforces", () => {
    const key = op("/api/instances/{name}/start", "post").parameters!.find((p) => p.name === "Idempotency-Key")!;
    expect(key.schema.maxLength).toBe(200);
    expect(op("/api/instances/{name}/jobs", "post").parameters!.map((p) => p.name)).toContain("Idempotency-Key");
  });

  it("documents top and continuationToken on every list", () => {
    for (const p of ["/api/instances", "/api/instances/{name}/jobs"]) {
      const names = op(p, "get").parameters!.map((x) => x.name);
      expect(names, p).toEqual(expect.arrayContaining(["top", "continuationToken"]));
      expect(op(p, "get").parameters!.find((x) => x.name === "top")!.schema.maximum).toBe(1000);
    }
  });

  it("gives every long operation's 202 Operation-Location and Retry-After", () => {
    for (const p of ["/api/instances/{name}/start", "/api/instances/{name}/stop", "/api/instances/{name}/restart"]) {
      expect(Object.keys(op(p, "post").responses["202"]!.headers ?? {}), p).toEqual(expect.arrayContaining(["Operation-Location", "Retry-After"]));
    }
    expect(Object.keys(op("/api/instances/{name}", "delete").responses["202"]!.headers ?? {})).toEqual(expect.arrayContaining(["Operation-Location", "Retry-After"]));
  });
});
