// App Service Authentication also admits callers with an Entra token for the app's audience
// (a VM's managed identity calling the app, e.g. the job agent) and passes their claims on in
// `x-ms-client-principal`. Locally the tokens come from the cloud emulator (local/cloud/identity);
// this verifies them (RS256 signature with the emulator's public key, LOCAL_IDENTITY_PUBLIC_KEY_FILE;
// lifetime; audience JOBS_AGENT_APP_AUDIENCE). Without those settings no JWT is admitted.
import { createPublicKey, verify, type KeyObject } from "node:crypto";
import fs from "node:fs";
import type { TokenVerifier } from "./principal";

type Claims = { aud?: unknown; exp?: unknown; nbf?: unknown; oid?: unknown; xms_mirid?: unknown };

export function verifyJwt(publicKey: KeyObject, token: string, audience: string, nowSeconds = Math.floor(Date.now() / 1000)): { claims: Claims & { oid: string } } | { error: string } {
  const parts = token.split(".");
  if (parts.length !== 3) return { error: "the token is not a JWT" };
  const [h, p, s] = parts as [string, string, string];
  let claims: Claims;
  try {
    const header = JSON.parse(Buffer.from(h, "base64url").toString("utf8")) as { alg?: string };
    // Only RS256: a token must not choose a weaker algorithm.
    if (header.alg !== "RS256") return { error: "the token's algorithm is not RS256" };
    if (!verify("RSA-SHA256", Buffer.from(`${h}.${p}`), publicKey, Buffer.from(s, "base64url"))) return { error: "the token's signature is invalid" };
    claims = JSON.parse(Buffer.from(p, "base64url").toString("utf8")) as Claims;
  } catch {
    return { error: "the token is not a JWT" };
  }
  if (typeof claims.exp !== "number" || claims.exp <= nowSeconds) return { error: "the token has expired" };
  if (typeof claims.nbf === "number" && claims.nbf > nowSeconds + 300) return { error: "the token is not valid yet" };
  const trim = (x: string) => x.replace(/\/+$/, "").toLowerCase();
  if (typeof claims.aud !== "string" || trim(claims.aud) !== trim(audience)) return { error: `the token's audience is not ${audience}` };
  if (typeof claims.oid !== "string") return { error: "the token names no principal" };
  return { claims: claims as Claims & { oid: string } };
}

export function managedIdentityVerifier(env: NodeJS.ProcessEnv): TokenVerifier | undefined {
  const file = env.LOCAL_IDENTITY_PUBLIC_KEY_FILE;
  const audience = env.JOBS_AGENT_APP_AUDIENCE;
  if (!file || !audience) return undefined;
  let key: KeyObject | undefined;
  return (token) => {
    // Read lazily: the emulator may write its key after the host starts.
    key ??= fs.existsSync(file) ? createPublicKey(fs.readFileSync(file, "utf8")) : undefined;
    if (!key) return { error: "no token issuer is configured" };
    const verified = verifyJwt(key, token, audience);
    if ("error" in verified) return { error: verified.error };
    const { oid, xms_mirid } = verified.claims;
    return { userId: oid, name: oid, roles: [], claims: { oid, ...(typeof xms_mirid === "string" ? { xms_mirid } : {}) } };
  };
}
