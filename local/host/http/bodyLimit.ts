// The request body size limit of HTTP triggers. Azure's Functions host refuses bodies larger
// than the app setting FUNCTIONS_REQUEST_BODY_SIZE_LIMIT, in bytes, default 104857600 (100 MB)
// (learn.microsoft.com/azure/azure-functions/functions-app-settings#functions_request_body_size_limit).
import { Transform, type TransformCallback } from "node:stream";

export const DEFAULT_REQUEST_BODY_SIZE_LIMIT = 104_857_600;

/** The limit in bytes; throws a message naming the setting when it is not a positive integer. */
export function requestBodySizeLimit(env: NodeJS.ProcessEnv): number {
  const raw = env.FUNCTIONS_REQUEST_BODY_SIZE_LIMIT;
  if (raw === undefined || raw.trim() === "") return DEFAULT_REQUEST_BODY_SIZE_LIMIT;
  const n = Number(raw.trim());
  if (!/^\d+$/.test(raw.trim()) || !Number.isSafeInteger(n) || n < 1) {
    throw new Error(`app setting FUNCTIONS_REQUEST_BODY_SIZE_LIMIT must be a positive whole number of bytes (got "${raw}")`);
  }
  return n;
}

/** A declared Content-Length above the limit: refuse before reading anything. */
export function declaredTooLarge(contentLength: string | undefined, limit: number): boolean {
  return contentLength !== undefined && /^\d+$/.test(contentLength) && Number(contentLength) > limit;
}

export class BodyTooLargeError extends Error {
  constructor(readonly limit: number) {
    super(`The request body exceeds ${limit} bytes (FUNCTIONS_REQUEST_BODY_SIZE_LIMIT).`);
  }
}

/** Passes bytes through and fails with BodyTooLargeError once more than `limit` have passed. */
export function limitStream(limit: number): Transform {
  let seen = 0;
  return new Transform({
    transform(chunk: Buffer, _enc: BufferEncoding, done: TransformCallback) {
      seen += chunk.length;
      if (seen > limit) done(new BodyTooLargeError(limit));
      else done(null, chunk);
    },
  });
}
