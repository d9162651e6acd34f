// RestError translation: one place decides code, retryability and redaction.
import { RestError, createHttpHeaders, createPipelineRequest } from "@azure/core-rest-pipeline";
import { describe, expect, it } from "vitest";
import { redactSecrets, translateAzureError } from "../../shared/azure/errors";
import { CloudError, ConflictError, NotFoundError, PreconditionFailedError, QuotaExceededError } from "../../shared/errors";

function restError(status: number, code: string | undefined, message: string, headers: Record<string, string> = {}): RestError {
  const request = createPipelineRequest({ url: "https://management.azure.com/x" });
  return new RestError(message, {
    statusCode: status,
    code,
    request,
    response: { status, headers: createHttpHeaders(headers), request },
  });
}

describe("translateAzureError", () => {
  const cases: Array<[string, RestError, (e: Error) => void]> = [
    ["404 → NotFound", restError(404, "ResourceNotFound", "gone"), (e) => expect(e).toBeInstanceOf(NotFoundError)],
    ["412 → PreconditionFailed", restError(412, "UpdateConditionNotSatisfied", "etag"), (e) => expect(e).toBeInstanceOf(PreconditionFailedError)],
    ["409 → Conflict", restError(409, "EntityAlreadyExists", "exists"), (e) => expect(e).toBeInstanceOf(ConflictError)],
    [
      "429 → retryable with Retry-After",
      restError(429, "TooManyRequests", "slow down", { "retry-after": "7" }),
      (e) => {
        expect(e).toBeInstanceOf(CloudError);
        expect((e as CloudError).retryable).toBe(true);
        expect((e as CloudError).retryAfterMs).toBe(7000);
      },
    ],
    ["500 → retryable", restError(500, "InternalServerError", "oops"), (e) => expect((e as CloudError).retryable).toBe(true)],
    [
      "SkuNotAvailable → not retryable, code kept",
      restError(409, "SkuNotAvailable", "The requested size is not available"),
      (e) => {
        expect((e as CloudError).code).toBe("SkuNotAvailable");
        expect((e as CloudError).retryable).toBe(false);
      },
    ],
    [
      "InvalidParameter → not retryable",
      restError(400, "InvalidParameter", "The value of parameter vmSize is invalid."),
      (e) => {
        expect((e as CloudError).code).toBe("InvalidParameter");
        expect((e as CloudError).retryable).toBe(false);
      },
    ],
    [
      "ARM quota → QuotaExceeded with numbers",
      restError(
        409,
        "OperationNotAllowed",
        "Operation could not be completed as it results in exceeding approved standardNCSv3Family Cores quota. Additional details - Deployment Model: Resource Manager, Location: westeurope, Current Limit: 24, Current Usage: 24, Additional Required: 6, (Minimum) New Limit Required: 30.",
      ),
      (e) => {
        expect(e).toBeInstanceOf(QuotaExceededError);
        expect((e as QuotaExceededError).quota).toMatchObject({ family: "standardNCSv3Family", limit: 24, used: 24, requested: 6 });
      },
    ],
  ];
  it.each(cases)("%s", (_name, err, check) => check(translateAzureError(err, "op")));

  it("marks network failures (no response) retryable", () => {
    const e = new RestError("connect ECONNREFUSED 127.0.0.1:1", { code: "ECONNREFUSED" });
    const t = translateAzureError(e, "read VM x") as CloudError;
    expect(t.code).toBe("NetworkError");
    expect(t.retryable).toBe(true);
  });

  it("reads failed long-running operations from core-lro", () => {
    const t = translateAzureError(new Error("The long-running operation has failed. AllocationFailed. No capacity"), "create VM x") as CloudError;
    expect(t.code).toBe("AllocationFailed");
    expect(t.retryable).toBe(false);
  });

  it("leaves programming errors alone", () => {
    const bug = new TypeError("x is undefined");
    expect(translateAzureError(bug, "op")).toBe(bug);
  });

  it("never leaks SAS signatures, bearer tokens or account keys", () => {
    const msg =
      "PUT https://a.blob.core.windows.net/c/b?sv=2021&sig=abc%2Fdef&se=2030 failed; Authorization: Bearer eyJhbGciOi.x.y; AccountKey=Zm9vYmFy==;";
    const t = translateAzureError(restError(403, "AuthorizationFailure", msg), "write blob");
    for (const secret of ["abc%2Fdef", "eyJhbGciOi", "Zm9vYmFy"]) expect(t.message).not.toContain(secret);
    expect(redactSecrets("x?sig=secret&sp=r")).toBe("x?sig=REDACTED&sp=REDACTED");
  });
});
