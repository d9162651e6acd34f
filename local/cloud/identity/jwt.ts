// Compact JWS (RS256) signing and verification with node:crypto: the token format Entra ID
// issues. The emulator's signing key lives under <cloudDir>/identity so tokens survive a restart.
import crypto from "node:crypto";
import fs from "node:fs";
import path from "node:path";

export type JwtClaims = Record<string, string | number | string[] | undefined>;

const b64url = (buf: Buffer | string) => Buffer.from(buf).toString("base64url");

export type SigningKey = { kid: string; privateKey: crypto.KeyObject; publicKey: crypto.KeyObject };

export function loadOrCreateSigningKey(dir: string): SigningKey {
  const file = path.join(dir, "signing-key.pem");
  let pem: string;
  if (fs.existsSync(file)) pem = fs.readFileSync(file, "utf8");
  else {
    fs.mkdirSync(dir, { recursive: true });
    pem = crypto.generateKeyPairSync("rsa", { modulusLength: 2048 }).privateKey.export({ type: "pkcs8", format: "pem" }).toString();
    fs.writeFileSync(file, pem, { mode: 0o600 });
  }
  const privateKey = crypto.createPrivateKey(pem);
  const publicKey = crypto.createPublicKey(privateKey);
  const kid = crypto.createHash("sha256").update(publicKey.export({ type: "spki", format: "der" })).digest("base64url").slice(0, 27);
  return { kid, privateKey, publicKey };
}

export function signJwt(key: SigningKey, claims: JwtClaims): string {
  const header = b64url(JSON.stringify({ typ: "JWT", alg: "RS256", kid: key.kid }));
  const payload = b64url(JSON.stringify(claims));
  const signature = crypto.sign("RSA-SHA256", Buffer.from(`${header}.${payload}`), key.privateKey);
  return `${header}.${payload}.${b64url(signature)}`;
}

/** The claims when the signature is ours and the token well-formed; undefined otherwise. */
export function verifyJwtSignature(key: SigningKey, token: string): JwtClaims | undefined {
  const parts = token.split(".");
  if (parts.length !== 3) return undefined;
  const [h, p, s] = parts as [string, string, string];
  try {
    const header = JSON.parse(Buffer.from(h, "base64url").toString("utf8")) as { alg?: string };
    // Only RS256: never let the token choose a weaker algorithm ("none", HS256 with the public key).
    if (header.alg !== "RS256") return undefined;
    if (!crypto.verify("RSA-SHA256", Buffer.from(`${h}.${p}`), key.publicKey, Buffer.from(s, "base64url"))) return undefined;
    const claims = JSON.parse(Buffer.from(p, "base64url").toString("utf8")) as unknown;
    return claims !== null && typeof claims === "object" && !Array.isArray(claims) ? (claims as JwtClaims) : undefined;
  } catch {
    return undefined;
  }
}
