// Continuation tokens leave the API in nextLink query strings and come back from clients. They
// are opaque and tamper-evident: the storage token is wrapped with an HMAC over the query it
// continues (table and filter), so a client can neither forge one, nor edit one to steer the
// table query, nor carry one from one list (another user's, another instance's) to another.
// Anything else is a 400 naming `continuationToken`, never a storage error.
import { createHmac, randomBytes, timingSafeEqual } from "node:crypto";
import { ValidationError } from "../errors";

// Without CONTINUATION_TOKEN_KEY every process signs with its own random key: safe, but a token
// does not survive a restart or reach another host instance (the client then lists from the start).
let key: Buffer = randomBytes(32);

/** Sets the signing key (the CONTINUATION_TOKEN_KEY app setting); called once with the settings. */
export function useContinuationTokenKey(secret: string): void {
  key = createHmac("sha256", "continuation-token").update(secret).digest();
}

const mac = (context: string, payload: string) => createHmac("sha256", key).update(context).update("\n").update(payload).digest();

/** The public form of a storage continuation token for the query named by `context`. */
export function signToken(context: string, token: string | undefined): string | undefined {
  if (!token) return undefined;
  const payload = Buffer.from(token, "utf8").toString("base64url");
  return `${payload}.${mac(context, payload).toString("base64url")}`;
}

/** The storage token inside a public one, or a 400 when it is not one we issued for this query. */
export function verifyToken(context: string, token: string | undefined): string | undefined {
  if (token === undefined || token === "") return undefined;
  const invalid = () => ValidationError.field("continuationToken", "is not a continuation token of this list (use the nextLink as returned)", "InvalidContinuationToken");
  const m = /^([A-Za-z0-9_-]{1,4096})\.([A-Za-z0-9_-]{43})$/.exec(token);
  if (!m) throw invalid();
  const [, payload, sig] = m as unknown as [string, string, string];
  const given = Buffer.from(sig, "base64url");
  const expected = mac(context, payload);
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) throw invalid();
  return Buffer.from(payload, "base64url").toString("utf8");
}
