import { createHash } from "node:crypto";

// A job submitted with an Idempotency-Key (header or queue `idempotencyKey`) gets an id derived
// from (instance, submitter, key): a repeat computes the same id, so inserting the job record
// conflicts instead of creating a second job, and the caller returns the first one. Including
// the submitter keeps one user's keys from colliding with (or probing) another's.
export function jobIdForIdempotencyKey(instance: string, submittedBy: string, key: string): string {
  const digest = createHash("sha256")
    .update(JSON.stringify([instance.toLowerCase(), submittedBy, key]))
    .digest("hex");
  return `k${digest.slice(0, 31)}`;
}
