// The token service in front of the emulator's registry, as Azure Container Registry runs it, so
// a pull needs what it needs on Azure: an identity that holds AcrPull on the registry. Sources:
// Azure/acr docs/AAD-OAuth.md (POST /oauth2/exchange: an Entra ID access token for an ACR
// refresh token; POST /oauth2/token: the refresh token for an access token; `docker login` with
// the null GUID as user name and the refresh token as password; the 401 challenge) and the
// Docker registry v2 token authentication spec (distribution/distribution docs/spec/auth/token.md:
// `WWW-Authenticate: Bearer realm,service,scope`, GET on the realm with Basic credentials, the
// `token`/`access_token` answer). Refusals carry ACR's wording: UNAUTHORIZED "authentication
// required, visit https://aka.ms/acr/authorization for more information.", which ACR answers
// on the exchange for an identity without a pull role (as `az aks check-acr` reports it) and
// on the registry for a request without a valid token.
import type { IncomingMessage, ServerResponse } from "node:http";
import { randomUUID } from "node:crypto";
import { ArmError } from "./http";
import { ARM_AUDIENCES, type TokenIssuer } from "./identity/issuer";
import { signJwt, verifyJwtSignature } from "./identity/jwt";
import { Gate } from "./gate";

/** AcrPull's role definition id and its one action (learn.microsoft.com, "Azure built-in roles", Containers). */
export const ACR_PULL_ROLE = "7f951dda-4ed3-4680-a7ca-43fe172d538d";
export const ACR_PULL_ACTION = "Microsoft.ContainerRegistry/registries/pull/read";

/** The user name that tells ACR the password is an ACR refresh token (AAD-OAuth.md). */
export const ACR_REFRESH_TOKEN_USER = "00000000-0000-0000-0000-000000000000";

/**
 * Entra ID audiences ACR takes on the exchange: its own, and ARM's while the registry's
 * "authentication-as-arm" policy is enabled (the default; learn.microsoft.com container-registry
 * "Disable authentication as ARM").
 */
const AAD_AUDIENCES = ["https://containerregistry.azure.net", "https://containerregistry.azure.net/", ...ARM_AUDIENCES];

const ACR_ISSUER = "Azure Container Registry";
/** ACR refresh tokens last about 3 hours, access tokens 75 minutes (AAD-OAuth.md's claim sets). */
const REFRESH_SECONDS = 3 * 3600;
const ACCESS_SECONDS = 75 * 60;
const UNAUTHORIZED = "authentication required, visit https://aka.ms/acr/authorization for more information.";

type Claims = Record<string, string | number | string[] | undefined>;

export type PullCheck = (principalId: string) => boolean;

export class RegistryAuth {
  /** Every credential this service saw or issued (Entra ID tokens, ACR refresh and access tokens): tests check none leaks into logs. */
  readonly secrets = new Set<string>();

  constructor(
    private readonly issuer: TokenIssuer,
    /** Whether a principal holds a role with ACR_PULL_ACTION on the registry (checked at every exchange and token request, so a revoked role counts at once). */
    private readonly canPull: PullCheck,
  ) {}

  /** Tests close it to freeze these requests mid-flight (an agent killed during a pull or a login). */
  private readonly gate = new Gate();

  /** Holds token exchanges until the returned function is called. */
  holdExchanges(): () => void {
    return this.gate.close();
  }

  /** Answers /oauth2/exchange and /oauth2/token; false for other paths. `service` is the registry's login server (its host). */
  async handle(req: IncomingMessage, res: ServerResponse, url: URL, service: string): Promise<boolean> {
    if (url.pathname === "/oauth2/exchange") {
      if (req.method !== "POST") sendError(res, 405, "UNSUPPORTED", "The operation is unsupported.");
      else {
        const form = await readForm(req);
        await this.gate.passed();
        this.exchange(form, service, res);
      }
      return true;
    }
    if (url.pathname === "/oauth2/token") {
      if (req.method === "GET") this.token(url.searchParams, basicPassword(req.headers.authorization), service, res);
      else if (req.method === "POST") {
        const form = await readForm(req);
        const grant = form.get("grant_type");
        // Docker's OAuth form (grant_type=password) and ACR's (grant_type=refresh_token) carry the same refresh token.
        const refresh = grant === "refresh_token" ? form.get("refresh_token") : grant === "password" && form.get("username") === ACR_REFRESH_TOKEN_USER ? form.get("password") : null;
        if (grant !== "refresh_token" && grant !== "password") sendError(res, 400, "UNSUPPORTED", `grant_type '${grant ?? ""}' is not supported`);
        else this.token(form, refresh ?? undefined, service, res);
      } else sendError(res, 405, "UNSUPPORTED", "The operation is unsupported.");
      return true;
    }
    return false;
  }

  /**
   * Whether a registry request may go on: a valid ACR access token for this registry, with
   * `repository:<name>:pull` when it reads a repository. Otherwise the 401 with the challenge
   * a client follows to the token service has been sent, and false is returned.
   */
  authorize(req: IncomingMessage, res: ServerResponse, service: string, repository?: string): boolean {
    const scope = repository ? `repository:${repository}:pull` : undefined;
    const bearer = /^Bearer\s+(.+)$/i.exec(req.headers.authorization ?? "")?.[1]?.trim();
    const claims = bearer ? this.verify(bearer, service, "access_token") : undefined;
    const scopes = Array.isArray(claims?.access) ? claims.access : [];
    if (claims && (!scope || scopes.includes(scope))) return true;
    const challenge = `Bearer realm="https://${service}/oauth2/token",service="${service}"${scope ? `,scope="${scope}"` : ""}${bearer ? ',error="insufficient_scope"' : ""}`;
    sendError(res, 401, "UNAUTHORIZED", UNAUTHORIZED, repository ? [{ Type: "repository", Name: repository, Action: "pull" }] : undefined, { "WWW-Authenticate": challenge });
    return false;
  }

  private exchange(form: URLSearchParams, service: string, res: ServerResponse): void {
    if (form.get("grant_type") !== "access_token") return sendError(res, 400, "UNSUPPORTED", "grant_type must be access_token (the refresh-token grants are deprecated)");
    if (form.get("service") !== service) return sendError(res, 400, "BAD_REQUEST", `service must be '${service}'`);
    const aad = form.get("access_token") ?? "";
    if (aad) this.secrets.add(aad);
    let principalId: string;
    try {
      principalId = this.issuer.authenticate(`Bearer ${aad}`, AAD_AUDIENCES).principalId;
    } catch (err) {
      if (err instanceof ArmError) return sendError(res, 401, "UNAUTHORIZED", UNAUTHORIZED);
      throw err;
    }
    const tenant = form.get("tenant");
    if (tenant && tenant.toLowerCase() !== this.issuer.tenantId.toLowerCase()) return sendError(res, 401, "UNAUTHORIZED", UNAUTHORIZED);
    // ACR reads the caller's permissions on the registry here; none → the same 401.
    if (!this.canPull(principalId)) return sendError(res, 401, "UNAUTHORIZED", UNAUTHORIZED);
    const refresh = this.sign({ sub: principalId, aud: service, grant_type: "refresh_token", tenant: this.issuer.tenantId }, REFRESH_SECONDS);
    sendJson(res, 200, { refresh_token: refresh });
  }

  private token(params: URLSearchParams, refresh: string | undefined, service: string, res: ServerResponse): void {
    if (params.get("service") !== service) return sendError(res, 400, "BAD_REQUEST", `service must be '${service}'`);
    const claims = refresh ? this.verify(refresh, service, "refresh_token") : undefined;
    if (!claims || typeof claims.sub !== "string") return sendError(res, 401, "UNAUTHORIZED", UNAUTHORIZED);
    const granted: string[] = [];
    for (const scope of params.getAll("scope").flatMap((s) => s.split(" ")).filter(Boolean)) {
      const m = /^repository:([^:]+):(.+)$/.exec(scope);
      if (!m) continue; // registry:catalog:* and the like: this read-only registry serves none of them
      const actions = m[2]!.split(",");
      if (!actions.includes("pull")) continue;
      if (!this.canPull(claims.sub)) return sendError(res, 401, "UNAUTHORIZED", UNAUTHORIZED);
      granted.push(`repository:${m[1]}:pull`); // push, delete: never granted (read-only)
    }
    const access = this.sign({ sub: claims.sub, aud: service, grant_type: "access_token", access: granted }, ACCESS_SECONDS);
    sendJson(res, 200, { access_token: access });
  }

  private sign(claims: Claims, lifetime: number): string {
    const now = Math.floor(Date.now() / 1000);
    const token = signJwt(this.issuer.key, { jti: randomUUID(), iss: ACR_ISSUER, nbf: now, iat: now, exp: now + lifetime, version: "1.0", ...claims });
    this.secrets.add(token);
    return token;
  }

  private verify(token: string, service: string, grant: string): Claims | undefined {
    const c = verifyJwtSignature(this.issuer.key, token);
    if (!c || c.iss !== ACR_ISSUER || c.aud !== service || c.grant_type !== grant) return undefined;
    return typeof c.exp === "number" && c.exp > Date.now() / 1000 ? c : undefined;
  }
}

/** The password of a Basic Authorization header (the client's user name must be ACR's null GUID). */
function basicPassword(header: string | undefined): string | undefined {
  const b64 = /^Basic\s+(.+)$/i.exec(header ?? "")?.[1];
  if (!b64) return undefined;
  const text = Buffer.from(b64, "base64").toString("utf8");
  const i = text.indexOf(":");
  return i > 0 && text.slice(0, i) === ACR_REFRESH_TOKEN_USER ? text.slice(i + 1) : undefined;
}

async function readForm(req: IncomingMessage): Promise<URLSearchParams> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const c of req) {
    size += (c as Buffer).length;
    if (size > 64 * 1024) break; // a form of a few tokens; anything larger is not one
    chunks.push(c as Buffer);
  }
  return new URLSearchParams(Buffer.concat(chunks).toString("utf8"));
}

function sendJson(res: ServerResponse, status: number, body: object, headers: Record<string, string> = {}): void {
  const text = Buffer.from(JSON.stringify(body));
  res.writeHead(status, { "Content-Type": "application/json; charset=utf-8", "Content-Length": text.length, ...headers });
  res.end(text);
}

function sendError(res: ServerResponse, status: number, code: string, message: string, detail?: object, headers: Record<string, string> = {}): void {
  sendJson(res, status, { errors: [{ code, message, ...(detail ? { detail } : {}) }] }, headers);
}
