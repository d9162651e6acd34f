import { describe, expect, it } from "vitest";
import {
  CloudError,
  ConflictError,
  ForbiddenError,
  InvalidStateTransitionError,
  NotFoundError,
  PreconditionFailedError,
  PropertyChangeNotAllowedError,
  QuotaExceededError,
  toErrorBody,
  UnauthorizedError,
  ValidationError,
} from "../../shared/errors";

describe("error mapping", () => {
  it.each([
    [ValidationError.field("vmSize", "is required"), 400, "InvalidRequest"],
    [new UnauthorizedError(), 401, "Unauthorized"],
    [new ForbiddenError(), 403, "Forbidden"],
    [NotFoundError.resource("Instance", "x"), 404, "NotFound"],
    [new ConflictError("busy"), 409, "Conflict"],
    [new PropertyChangeNotAllowedError(["vmSize"]), 409, "PropertyChangeNotAllowed"],
    [new InvalidStateTransitionError("no", "Stopped", "stop"), 409, "InvalidStateTransition"],
    [new QuotaExceededError({ family: "f", used: 8, limit: 10, requested: 4, scope: "workspace" }), 409, "QuotaExceeded"],
    [new PreconditionFailedError(), 412, "PreconditionFailed"],
    [new CloudError("ServerBusy", "try later", { httpStatus: 503 }), 503, "ServerBusy"],
    [new CloudError("BadRequest", "nope", { httpStatus: 400 }), 502, "BadRequest"],
  ])("%s → %i %s", (err, status, code) => {
    const r = toErrorBody(err);
    expect(r.status).toBe(status);
    expect(r.body.error.code).toBe(code);
    expect(r.body.error.message.length).toBeGreaterThan(0);
  });

  it("validation errors carry target and details", () => {
    const err = new ValidationError([
      { code: "InvalidValue", target: "schedules[0].cron", message: "bad" },
      { code: "InvalidValue", target: "name", message: "bad" },
    ]);
    expect(toErrorBody(err).body).toEqual({
      error: { code: "InvalidRequest", message: expect.stringContaining("schedules[0].cron, name"), details: err.details },
    });
    expect(toErrorBody(ValidationError.field("name", "too short")).body.error).toMatchObject({ target: "name", message: "name: too short" });
  });

  it("quota errors name family, used, limit and requested", () => {
    const msg = new QuotaExceededError({ family: "standardNCSv3Family", used: 18, limit: 24, requested: 12, scope: "workspace" }).message;
    for (const part of ["standardNCSv3Family", "18", "24", "12"]) expect(msg).toContain(part);
  });

  it("unknown errors become a 500 with an id and no internals", () => {
    const r = toErrorBody(new Error("connection string AccountKey=secret at /srv/app.js:12"), () => "err-1");
    expect(r).toEqual({
      status: 500,
      errorId: "err-1",
      body: { error: { code: "InternalServerError", message: expect.stringContaining("err-1"), errorId: "err-1" } },
    });
    expect(JSON.stringify(r)).not.toContain("secret");
    expect(toErrorBody("thrown string").status).toBe(500);
    expect(toErrorBody(undefined).body.error.errorId).toMatch(/^[0-9a-f-]{36}$/);
  });

  it("retryability follows ARM guidance", () => {
    expect(new CloudError("x", "y", { httpStatus: 429, retryAfterMs: 1500 }).retryable).toBe(true);
    expect(toErrorBody(new CloudError("x", "y", { httpStatus: 429, retryAfterMs: 1500 })).retryAfterSeconds).toBe(2);
    expect(new CloudError("x", "y", { httpStatus: 409 }).retryable).toBe(false);
    expect(new CloudError("x", "y").retryable).toBe(true);
    expect(new ConflictError("busy").retryable).toBe(true);
    expect(ValidationError.field("a", "b").retryable).toBe(false);
  });
});
