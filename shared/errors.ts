// One error family for the whole app. Every error knows its stable API code, the HTTP
// status it maps to, and whether retrying can help (style.md: errors say if a retry helps).

export interface ErrorDetail {
  code: string;
  target: string;
  message: string;
}

export interface AppErrorOptions {
  target?: string;
  details?: ErrorDetail[];
  retryable?: boolean;
  cause?: unknown;
}

export class AppError extends Error {
  readonly code: string;
  readonly status: number;
  readonly retryable: boolean;
  readonly target?: string;
  readonly details?: ErrorDetail[];

  constructor(code: string, message: string, status: number, options: AppErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.code = code;
    this.status = status;
    this.retryable = options.retryable ?? false;
    if (options.target !== undefined) this.target = options.target;
    if (options.details !== undefined) this.details = options.details;
  }
}

/** 400: the request is malformed; one detail per offending field. */
export class ValidationError extends AppError {
  declare readonly details: ErrorDetail[];
  constructor(details: ErrorDetail[], message?: string) {
    const first = details[0];
    super(
      "InvalidRequest",
      message ??
        (details.length === 1 && first
          ? `${first.target}: ${first.message}`
          : `The request has ${details.length} invalid fields: ${details.map((d) => d.target).join(", ")}.`),
      400,
      { details, target: details.length === 1 ? first?.target : undefined },
    );
  }

  static field(target: string, message: string, code = "InvalidValue"): ValidationError {
    return new ValidationError([{ code, target, message }]);
  }
}

export class UnauthorizedError extends AppError {
  constructor(message = "Authentication is required.") {
    super("Unauthorized", message, 401);
  }
}

export class ForbiddenError extends AppError {
  constructor(message = "You are not allowed to do this.", target?: string) {
    super("Forbidden", message, 403, { target });
  }
}

export class NotFoundError extends AppError {
  constructor(message: string, target?: string) {
    super("NotFound", message, 404, { target });
  }

  static resource(kind: string, name: string): NotFoundError {
    return new NotFoundError(`${kind} '${name}' was not found.`, name);
  }
}

export class ConflictError extends AppError {
  constructor(message: string, options: AppErrorOptions = {}) {
    // A conflict with an operation in flight clears up by itself: retrying later can help.
    super("Conflict", message, 409, { retryable: true, ...options });
  }
}

export class PropertyChangeNotAllowedError extends AppError {
  constructor(properties: string[]) {
    super(
      "PropertyChangeNotAllowed",
      `These properties cannot be changed after creation: ${properties.join(", ")}.`,
      409,
      {
        target: properties.length === 1 ? properties[0] : undefined,
        details: properties.map((p) => ({
          code: "PropertyChangeNotAllowed",
          target: p,
          message: `${p} is fixed after creation.`,
        })),
      },
    );
  }
}

export class InvalidStateTransitionError extends AppError {
  constructor(message: string, readonly from: string, readonly operation: string) {
    super("InvalidStateTransition", message, 409);
  }
}

export interface QuotaInfo {
  family: string;
  used: number;
  limit: number;
  requested: number;
  scope: "workspace" | "subscription";
}

export class QuotaExceededError extends AppError {
  constructor(readonly quota: QuotaInfo) {
    super(
      "QuotaExceeded",
      `The ${quota.scope} vCPU quota for family ${quota.family} would be exceeded: ` +
        `${quota.used} used + ${quota.requested} requested > limit ${quota.limit}.`,
      409,
      { target: "vmSize" },
    );
  }
}

export class PreconditionFailedError extends AppError {
  constructor(message = "The resource has changed (ETag does not match If-Match).") {
    super("PreconditionFailed", message, 412, { target: "If-Match" });
  }
}

/** 413: the request body is larger than the API accepts. */
export class PayloadTooLargeError extends AppError {
  constructor(message: string) {
    super("PayloadTooLarge", message, 413, { target: "body" });
  }
}

/** A failure talking to ARM or storage. `httpStatus` is the cloud's status, not ours. */
export class CloudError extends AppError {
  readonly httpStatus?: number;
  readonly retryAfterMs?: number;

  constructor(
    code: string,
    message: string,
    options: { httpStatus?: number; retryable?: boolean; retryAfterMs?: number; cause?: unknown; target?: string } = {},
  ) {
    const retryable = options.retryable ?? isRetryableStatus(options.httpStatus);
    // Surfaced to a client, a cloud failure is the upstream's fault: 503 if it may clear, else 502.
    super(code, message, retryable ? 503 : 502, { retryable, cause: options.cause, target: options.target });
    if (options.httpStatus !== undefined) this.httpStatus = options.httpStatus;
    if (options.retryAfterMs !== undefined) this.retryAfterMs = options.retryAfterMs;
  }
}

/** ARM guidance: 408, 429 and 5xx are transient; everything else is a business answer. */
export function isRetryableStatus(status: number | undefined): boolean {
  if (status === undefined) return true; // no response at all: network failure
  return status === 408 || status === 429 || (status >= 500 && status !== 501 && status !== 505);
}

export interface ErrorBody {
  error: {
    code: string;
    message: string;
    target?: string;
    details?: ErrorDetail[];
    errorId?: string;
  };
}

export interface ErrorResponse {
  status: number;
  body: ErrorBody;
  /** Set for unexpected errors: log it with the error so support can find it. */
  errorId?: string;
  retryAfterSeconds?: number;
}

/**
 * Map any thrown value to the API error body. Unknown errors become a 500 with an opaque id
 * and nothing of their message or stack, which may hold internals or secrets.
 */
export function toErrorBody(err: unknown, newErrorId: () => string = defaultErrorId): ErrorResponse {
  if (err instanceof AppError) {
    const error: ErrorBody["error"] = { code: err.code, message: err.message };
    if (err.target !== undefined) error.target = err.target;
    if (err.details !== undefined && err.details.length > 0) error.details = err.details;
    const response: ErrorResponse = { status: err.status, body: { error } };
    if (err instanceof CloudError && err.retryAfterMs !== undefined) {
      response.retryAfterSeconds = Math.ceil(err.retryAfterMs / 1000);
    }
    return response;
  }
  const errorId = newErrorId();
  return {
    status: 500,
    errorId,
    body: {
      error: {
        code: "InternalServerError",
        message: `An unexpected error occurred. Quote error id ${errorId} when reporting it.`,
        errorId,
      },
    },
  };
}

function defaultErrorId(): string {
  // globalThis.crypto exists on Node ≥ 19; no import keeps this module free of Node APIs.
  return globalThis.crypto.randomUUID();
}
