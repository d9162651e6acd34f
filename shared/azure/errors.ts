// The one place where Azure SDK errors (RestError from ARM, Files, Blobs, Tables) become the
// app's errors. Messages are redacted: no bearer tokens, account keys or SAS signatures, and
// the SDK error (whose request carries headers) is never attached as `cause`.
import {
  AppError,
  CloudError,
  ConflictError,
  NotFoundError,
  PreconditionFailedError,
  QuotaExceededError,
  isRetryableStatus,
} from "../errors";

/** The parts of a RestError we rely on, read structurally (the SDKs ship several copies). */
type RestErrorLike = Error & {
  statusCode?: number;
  code?: string;
  response?: { headers?: { get(name: string): string | undefined }; status?: number; bodyAsText?: string | null };
  details?: unknown;
};

const NETWORK_CODES = new Set([
  "ECONNREFUSED", "ECONNRESET", "ETIMEDOUT", "EPIPE", "EAI_AGAIN", "ENOTFOUND", "EHOSTUNREACH",
  "ENETUNREACH", "REQUEST_SEND_ERROR", "UND_ERR_SOCKET",
]);

export function isRestErrorLike(err: unknown): err is RestErrorLike {
  return err instanceof Error && (err.name === "RestError" || "statusCode" in err);
}

/** HTTP status of an SDK error, or undefined when there was no response. */
export function statusOf(err: unknown): number | undefined {
  if (err instanceof CloudError) return err.httpStatus;
  if (err instanceof AppError) return err.status;
  return isRestErrorLike(err) ? (err.statusCode ?? err.response?.status) : undefined;
}

export function isNotFound(err: unknown): boolean {
  return err instanceof NotFoundError || (!(err instanceof AppError) && statusOf(err) === 404);
}

const SECRET_PATTERNS: Array<[RegExp, string]> = [
  [/\b(sig|se|skoid|sktid|skt|ske|sks|skv|st|sv|sp|sr|spr|ss|srt)=[^&\s"']+/gi, "$1=REDACTED"],
  [/(Bearer\s+)[A-Za-z0-9._~+/=-]+/gi, "$1REDACTED"],
  [/(AccountKey=)[^;\s"']+/gi, "$1REDACTED"],
  [/(SharedAccessSignature=)[^;\s"']+/gi, "$1REDACTED"],
  [/(access_token|client_secret|password)(["']?\s*[:=]\s*["']?)[^&\s"',}]+/gi, "$1$2REDACTED"],
];

/** Removes credentials that an SDK or service message may echo (URLs with SAS, headers). */
export function redactSecrets(text: string): string {
  let out = text;
  for (const [re, repl] of SECRET_PATTERNS) out = out.replace(re, repl);
  return out;
}

function retryAfterMs(err: RestErrorLike): number | undefined {
  const raw = err.response?.headers?.get("retry-after");
  if (!raw) return undefined;
  const seconds = Number(raw);
  if (Number.isFinite(seconds)) return Math.max(0, seconds * 1000);
  const at = Date.parse(raw);
  return Number.isNaN(at) ? undefined : Math.max(0, at - Date.now());
}

/** ARM wraps errors as {error: {code, message, target}}; the SDKs expose them differently. */
function armErrorTarget(err: RestErrorLike): string | undefined {
  const d = err.details as { error?: { target?: unknown } } | undefined;
  if (d && typeof d.error?.target === "string") return d.error.target;
  const text = err.response?.bodyAsText;
  if (!text) return undefined;
  try {
    const body = JSON.parse(text) as { error?: { target?: unknown } };
    return typeof body.error?.target === "string" ? body.error.target : undefined;
  } catch {
    return undefined;
  }
}

// "... Current Limit: 10, Current Usage: 8, Additional Required: 4 ..." (ARM quota message).
function parseQuota(message: string): { family: string; used: number; limit: number; requested: number } | undefined {
  const num = (label: string) => {
    const m = new RegExp(`${label}:\\s*(\\d+)`, "i").exec(message);
    return m ? Number(m[1]) : undefined;
  };
  const limit = num("Current Limit");
  const used = num("Current Usage");
  const requested = num("Additional Required");
  const family = /approved\s+(.+?)\s+Cores quota/i.exec(message)?.[1];
  if (limit === undefined || used === undefined || requested === undefined || !family) return undefined;
  return { family, used, limit, requested };
}

// core-lro reports a failed long-running operation as a plain Error: "...has failed. <Code>. <message>".
const LRO_FAILED = /^The long-running operation has failed(?:\. ([A-Za-z0-9_.]+)\. ?(.*))?/s;

/** Azure keeps a NIC reserved this long for a VM that was deleted or failed to create. */
export const NIC_RESERVATION_SECONDS = 180;

const QUOTA_CODES = new Set(["OperationNotAllowed", "QuotaExceeded"]);
const NON_RETRYABLE_CODES = new Set([
  "SkuNotAvailable", "InvalidParameter", "InvalidRequestFormat", "InvalidResourceReference",
  "AuthorizationFailed", "AuthenticationFailed", "InvalidAuthenticationToken", "LinkedAuthorizationFailed",
  "BadRequest", "NotSupported",
]);

/**
 * Turns anything an Azure SDK threw into an AppError. `what` names the operation for the
 * message ("create VM ci-1"). Errors that are already AppErrors pass through; other
 * non-SDK errors (bugs) are returned unchanged so they surface as 500s.
 */
export function translateAzureError(err: unknown, what: string): Error {
  if (err instanceof AppError) return err;
  if (!(err instanceof Error)) return new CloudError("CloudError", `${what} failed`, { retryable: true });
  const rest = err as RestErrorLike;
  const errno = (err as NodeJS.ErrnoException).code;
  const status = statusOf(err);
  if (status === undefined) {
    if (err.name === "AbortError") return new CloudError("Timeout", `${what} timed out`, { retryable: true });
    const lro = LRO_FAILED.exec(err.message);
    if (lro) {
      const code = lro[1] || "OperationFailed";
      return new CloudError(code, redactSecrets(`${what} failed: ${lro[2] || code}`), {
        retryable: /internal|retryable|throttl|timeout/i.test(code),
      });
    }
    if (errno && /CERT|UNABLE_TO_VERIFY|SELF_SIGNED|TLS/i.test(errno)) {
      // A certificate the client does not trust will not become trusted by retrying.
      return new CloudError("TlsError", `${what} failed: TLS ${errno}`, { retryable: false });
    }
    if (isRestErrorLike(err) || (errno && NETWORK_CODES.has(errno))) {
      return new CloudError("NetworkError", redactSecrets(`${what} failed: ${errno ?? "no response"}`), {
        retryable: true,
      });
    }
    return err;
  }
  const code = rest.code && !/^\d+$/.test(rest.code) ? rest.code : undefined;
  const cloudMessage = redactSecrets(err.message || `HTTP ${status}`);
  const message = `${what} failed: ${cloudMessage}`;

  if (code && QUOTA_CODES.has(code) && /quota/i.test(cloudMessage)) {
    const q = parseQuota(cloudMessage);
    if (q) return new QuotaExceededError({ ...q, scope: "subscription" });
    return new CloudError("QuotaExceeded", message, { httpStatus: status, retryable: false, target: "vmSize" });
  }
  if (code === "NicReservedForAnotherVm") {
    // Not retryable right away: Azure names the wait ("retry after 180 seconds"); callers wait it out.
    const seconds = Number(/retry after (\d+) seconds/i.exec(cloudMessage)?.[1] ?? NIC_RESERVATION_SECONDS);
    return new CloudError(code, message, { httpStatus: status, retryable: false, retryAfterMs: seconds * 1000 });
  }
  if (code && NON_RETRYABLE_CODES.has(code)) {
    return new CloudError(code, message, { httpStatus: status, retryable: false, target: armErrorTarget(rest) });
  }
  if (status === 404) return new NotFoundError(message);
  if (status === 412) return new PreconditionFailedError(message);
  if (status === 409) return new ConflictError(message, { details: code ? [{ code, target: what, message: cloudMessage }] : undefined });
  return new CloudError(code ?? `Http${status}`, message, {
    httpStatus: status,
    retryable: isRetryableStatus(status),
    retryAfterMs: status === 429 || status === 503 ? retryAfterMs(rest) : undefined,
    target: armErrorTarget(rest),
  });
}

/** Runs an SDK call and translates what it throws. */
export async function azureCall<T>(what: string, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    throw translateAzureError(err, what);
  }
}

/** Like azureCall, but a 404 means "already gone" and yields undefined (idempotent delete/get). */
export async function azureCallOr404<T>(what: string, fn: () => Promise<T>): Promise<T | undefined> {
  try {
    return await fn();
  } catch (err) {
    if (statusOf(err) === 404) return undefined;
    throw translateAzureError(err, what);
  }
}
