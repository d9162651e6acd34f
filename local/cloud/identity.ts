// The emulator's Entra ID for managed identities of VMs: an RS256 signing key made on first
// start (DATA_DIR/cloud/identity) and access tokens shaped like the ones Entra issues to a
// system-assigned identity: `oid`/`sub` = the identity's principal id, `xms_mirid` = the VM's
// resource id, `aud` = the requested resource. Whoever trusts the emulator (the local host, in
// the role of App Service Authentication; the emulator's own storage front) verifies them with
// the public key in `public.pem`.
import { createPrivateKey, createPublicKey, generateKeyPairSync, sign, verify, type KeyObject } from "node:crypto";
import fs from "node:fs";
import path from "node:path";

/** Managed-identity tokens from IMDS live about a day on Azure; an hour is enough here. */
export const TOKEN_LIFETIME_SECONDS = 3600;

export type IdentityKeys = { privateKey: KeyObject; publicKeyPem: string; publicKeyFile: string; tenantId: string };

export function ensureIdentityKeys(cloudDir: string, tenantId: string): IdentityKeys {
  const dir = path.join(cloudDir, "identity");
  const keyFile = path.join(dir, "key.pem");
  const publicKeyFile = path.join(dir, "public.pem");
  if (!fs.existsSync(keyFile) || !fs.existsSync(publicKeyFile)) {
    const { privateKey, publicKey } = generateKeyPairSync("rsa", { modulusLength: 2048 });
    fs.mkdirSync(dir, { recursive: true });
    fs.writeFileSync(keyFile, privateKey.export({ type: "pkcs8", format: "pem" }), { mode: 0o600 });
    fs.writeFileSync(publicKeyFile, publicKey.export({ type: "spki", format: "pem" }));
  }
  return {
    privateKey: createPrivateKey(fs.readFileSync(keyFile)),
    publicKeyPem: fs.readFileSync(publicKeyFile, "utf8"),
    publicKeyFile,
    tenantId,
  };
}

const b64url = (b: Buffer | string) => Buffer.from(b).toString("base64url");

export type IdentityClaims = { principalId: string; resourceId: string; audience: string };

export function issueToken(keys: IdentityKeys, c: IdentityClaims, nowSeconds = Math.floor(Date.now() / 1000)): { token: string; expiresOn: number } {
  const exp = nowSeconds + TOKEN_LIFETIME_SECONDS;
  const header = { alg: "RS256", typ: "JWT", kid: "local-cloud-emulator" };
  const payload = {
    aud: c.audience,
    iss: `https://sts.windows.net/${keys.tenantId}/`,
    iat: nowSeconds,
    nbf: nowSeconds,
    exp,
    oid: c.principalId,
    sub: c.principalId,
    tid: keys.tenantId,
    idtyp: "app",
    xms_mirid: c.resourceId,
  };
  const input = `${b64url(JSON.stringify(header))}.${b64url(JSON.stringify(payload))}`;
  return { token: `${input}.${b64url(sign("sha256", Buffer.from(input), keys.privateKey))}`, expiresOn: exp };
}

export type VerifiedToken = { aud: string; oid: string; xms_mirid?: string; exp: number; [claim: string]: unknown };

/** The token's claims if its signature, lifetime and audience hold; otherwise why not. */
export function verifyToken(publicKeyPem: string, token: string, audience: string, nowSeconds = Math.floor(Date.now() / 1000)): { claims: VerifiedToken } | { error: string } {
  const parts = token.split(".");
  if (parts.length !== 3) return { error: "the token is not a JWT" };
  const [h, p, s] = parts as [string, string, string];
  let header: { alg?: string };
  let payload: VerifiedToken;
  try {
    header = JSON.parse(Buffer.from(h, "base64url").toString("utf8")) as { alg?: string };
    payload = JSON.parse(Buffer.from(p, "base64url").toString("utf8")) as VerifiedToken;
  } catch {
    return { error: "the token is not a JWT" };
  }
  if (header.alg !== "RS256") return { error: "the token's algorithm is not RS256" };
  if (!verify("sha256", Buffer.from(`${h}.${p}`), createPublicKey(publicKeyPem), Buffer.from(s, "base64url"))) {
    return { error: "the token's signature is invalid" };
  }
  if (typeof payload.exp !== "number" || payload.exp <= nowSeconds) return { error: "the token has expired" };
  if (typeof payload.nbf === "number" && payload.nbf > nowSeconds + 300) return { error: "the token is not valid yet" };
  if (trimSlash(String(payload.aud)) !== trimSlash(audience)) return { error: `the token's audience is not ${audience}` };
  if (typeof payload.oid !== "string") return { error: "the token names no principal" };
  return { claims: payload };
}

const trimSlash = (s: string) => s.replace(/\/+$/, "").toLowerCase();
