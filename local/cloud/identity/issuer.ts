// The local Entra ID: one tenant, its managed identities, and the access tokens it issues
// (RS256 JWTs with aud, iss, exp, oid, appid — the claims ARM and Storage check). Verification
// answers the way ARM answers a bad token (401 with ARM's codes), so local is never more
// lenient than Azure about who is calling.
import { createHash } from "node:crypto";
import { ArmError } from "../http";
import { loadOrCreateSigningKey, signJwt, verifyJwtSignature, type JwtClaims, type SigningKey } from "./jwt";

export type Principal = {
  /** Object (principal) id: what role assignments name. */
  principalId: string;
  /** Application (client) id: what ManagedIdentityCredential asks for. */
  clientId: string;
  name: string;
  kind: "userAssignedIdentity" | "systemAssignedIdentity" | "user";
};

/** Audiences as ARM lists them in InvalidAuthenticationTokenAudience. */
export const ARM_AUDIENCES = ["https://management.core.windows.net/", "https://management.core.windows.net", "https://management.azure.com/", "https://management.azure.com"];
export const STORAGE_AUDIENCES = ["https://storage.azure.com/", "https://storage.azure.com"];

/** Managed-identity tokens live about a day in Azure; MSAL refreshes them before expiry. */
export const TOKEN_LIFETIME_SECONDS = 24 * 3600;

export type IssueRequest = { principal: Principal; audience: string; lifetimeSeconds?: number; notBefore?: number; tenantId?: string };

export class TokenIssuer {
  readonly key: SigningKey;
  constructor(
    readonly tenantId: string,
    keyDir: string,
  ) {
    this.key = loadOrCreateSigningKey(keyDir);
  }

  get issuer(): string {
    return `https://sts.windows.net/${this.tenantId}/`;
  }

  issue(req: IssueRequest): { token: string; expiresOn: number } {
    const now = Math.floor(Date.now() / 1000);
    const nbf = req.notBefore ?? now - 300;
    const exp = nbf + 300 + (req.lifetimeSeconds ?? TOKEN_LIFETIME_SECONDS);
    const tid = req.tenantId ?? this.tenantId;
    const claims: JwtClaims = {
      aud: req.audience.replace(/\/\.default$/, ""),
      iss: `https://sts.windows.net/${tid}/`,
      iat: nbf,
      nbf,
      exp,
      oid: req.principal.principalId,
      sub: req.principal.principalId,
      appid: req.principal.clientId,
      tid,
      idtyp: req.principal.kind === "user" ? "user" : "app",
      ...(req.principal.kind === "user" ? { name: req.principal.name } : { xms_mirid: req.principal.name }),
    };
    return { token: signJwt(this.key, claims), expiresOn: exp };
  }

  /**
   * The caller of a request, or the 401 ARM gives: AuthenticationFailed (no header),
   * InvalidAuthenticationToken (not ours / malformed), InvalidAuthenticationTokenTenant,
   * InvalidAuthenticationTokenAudience, ExpiredAuthenticationToken.
   */
  authenticate(authorization: string | undefined, audiences: string[], now = Date.now()): TokenCaller {
    if (!authorization || !/^Bearer\s+/i.test(authorization)) {
      throw unauthorized(this, "AuthenticationFailed", "Authentication failed. The 'Authorization' header is missing.");
    }
    const claims = verifyJwtSignature(this.key, authorization.replace(/^Bearer\s+/i, "").trim());
    if (!claims || typeof claims.oid !== "string" || typeof claims.exp !== "number") {
      throw unauthorized(this, "InvalidAuthenticationToken", "The access token is invalid.");
    }
    if (claims.iss !== this.issuer) {
      throw unauthorized(this, "InvalidAuthenticationTokenTenant",
        `The access token is from the wrong issuer '${String(claims.iss)}'. It must match the tenant '${this.issuer}' associated with this subscription. Please use the authority (URL) 'https://login.windows.net/${this.tenantId}' to get the token. Note, if the subscription is transferred to another tenant there is no impact to the services, but information about new tenant could take time to propagate (up to an hour). If you just transferred your subscription and see this error message, please try back later.`);
    }
    const aud = typeof claims.aud === "string" ? claims.aud : "";
    if (!audiences.includes(aud)) {
      throw unauthorized(this, "InvalidAuthenticationTokenAudience",
        `The access token has been obtained for wrong audience or resource '${aud}'. It should exactly match with one of the allowed audiences ${audiences.map((a) => `'${a}'`).join(",")}.`);
    }
    const nowSeconds = Math.floor(now / 1000);
    if (claims.exp <= nowSeconds) {
      throw unauthorized(this, "ExpiredAuthenticationToken",
        `The access token expiry UTC time '${utc(claims.exp)}' is earlier than current UTC time '${utc(nowSeconds)}'.`);
    }
    if (typeof claims.nbf === "number" && claims.nbf > nowSeconds + 300) {
      throw unauthorized(this, "InvalidAuthenticationToken", "The access token is not yet valid.");
    }
    return { principalId: claims.oid, clientId: typeof claims.appid === "string" ? claims.appid : claims.oid };
  }
}

export type TokenCaller = { principalId: string; clientId: string };

function unauthorized(issuer: TokenIssuer, code: string, message: string): ArmError {
  return new ArmError(401, code, message, undefined, {
    "www-authenticate": `Bearer authorization_uri="https://login.windows.net/${issuer.tenantId}", error="invalid_token", error_description="${code === "AuthenticationFailed" ? "The authentication failed because of missing 'Authorization' header." : "The access token is invalid."}"`,
  });
}

/** "12/1/2026 9:04:05 AM", the .NET invariant format ARM prints. */
function utc(seconds: number): string {
  const d = new Date(seconds * 1000);
  const h = d.getUTCHours() % 12 || 12;
  const pad = (n: number) => String(n).padStart(2, "0");
  return `${d.getUTCMonth() + 1}/${d.getUTCDate()}/${d.getUTCFullYear()} ${h}:${pad(d.getUTCMinutes())}:${pad(d.getUTCSeconds())} ${d.getUTCHours() < 12 ? "AM" : "PM"}`;
}

/** A stable GUID derived from text (for identities the emulator must name the same way every run). */
export function stableGuid(text: string): string {
  const h = createHash("sha256").update(text).digest("hex");
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-4${h.slice(13, 16)}-a${h.slice(17, 20)}-${h.slice(20, 32)}`;
}
