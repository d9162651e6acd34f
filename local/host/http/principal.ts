// Stand-in for App Service Authentication ("Easy Auth"). In Azure the platform validates the
// caller and injects `x-ms-client-principal*` headers; the app trusts only those. Locally a
// bearer token is looked up in LOCAL_PRINCIPALS and the same headers are injected, in the
// shape App Service uses, so `request.user` in @azure/functions reads them unchanged.
export type LocalPrincipal = {
  userId: string;
  name: string;
  roles: string[];
  /** Further token claims App Service passes on (a managed identity's `xms_mirid`). */
  claims?: Record<string, string>;
};

/** Verifies an Entra-style JWT (locally: issued by the cloud emulator); undefined when it is not one we accept. */
export type TokenVerifier = (token: string) => LocalPrincipal | { error: string } | undefined;

export const PRINCIPAL_HEADER_PREFIX = "x-ms-client-principal";
const IDP = "aad";
export const NAME_TYP = "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/name";
export const ROLE_TYP = "http://schemas.microsoft.com/ws/2008/06/identity/claims/role";
export const OID_TYP = "http://schemas.microsoft.com/identity/claims/objectidentifier";

/** Parses LOCAL_PRINCIPALS; throws a message naming the bad entry. */
export function parseLocalPrincipals(raw: string | undefined): Map<string, LocalPrincipal> {
  const map = new Map<string, LocalPrincipal>();
  if (!raw) return map;
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch (err) {
    throw new Error(`setting LOCAL_PRINCIPALS is not valid JSON: ${(err as Error).message}`);
  }
  if (!parsed || typeof parsed !== "object" || Array.isArray(parsed)) {
    throw new Error("setting LOCAL_PRINCIPALS must be a JSON object: token → {userId, name, roles}");
  }
  for (const [token, value] of Object.entries(parsed as Record<string, unknown>)) {
    const v = value as Partial<LocalPrincipal> | null;
    if (
      !v ||
      typeof v.userId !== "string" ||
      typeof v.name !== "string" ||
      !Array.isArray(v.roles) ||
      !v.roles.every((r) => typeof r === "string")
    ) {
      throw new Error(`setting LOCAL_PRINCIPALS: entry for token "${token.slice(0, 4)}…" needs userId, name and roles[]`);
    }
    map.set(token, { userId: v.userId, name: v.name, roles: v.roles });
  }
  return map;
}

/** The claims App Service passes on for this principal (in x-ms-client-principal and /.auth/me). */
export function principalClaims(p: LocalPrincipal): { typ: string; val: string }[] {
  return [
    { typ: OID_TYP, val: p.userId },
    { typ: NAME_TYP, val: p.name },
    { typ: "name", val: p.name },
    ...p.roles.map((r) => ({ typ: ROLE_TYP, val: r })),
    ...Object.entries(p.claims ?? {}).map(([typ, val]) => ({ typ, val })),
  ];
}

/** The headers App Service would add for this principal. */
export function principalHeaders(p: LocalPrincipal): Record<string, string> {
  const body = {
    auth_typ: IDP,
    claims: principalClaims(p),
    name_typ: NAME_TYP,
    role_typ: ROLE_TYP,
  };
  return {
    "x-ms-client-principal": Buffer.from(JSON.stringify(body), "utf8").toString("base64"),
    "x-ms-client-principal-id": p.userId,
    "x-ms-client-principal-name": p.name,
    "x-ms-client-principal-idp": IDP,
  };
}

export type AuthOutcome =
  | { kind: "anonymous" }
  | { kind: "principal"; principal: LocalPrincipal }
  | { kind: "rejected"; message: string };

/** Decides from the Authorization header; never trusts client-sent principal headers. */
export function authenticate(authorization: string | undefined, principals: Map<string, LocalPrincipal>, verifyJwt?: TokenVerifier): AuthOutcome {
  if (!authorization) return { kind: "anonymous" };
  const m = /^Bearer\s+(\S+)\s*$/i.exec(authorization);
  if (!m) return { kind: "rejected", message: "The Authorization header must be 'Bearer <token>'." };
  const fromJwt = m[1]!.split(".").length === 3 ? verifyJwt?.(m[1]!) : undefined;
  if (fromJwt) return "error" in fromJwt ? { kind: "rejected", message: `The bearer token is not valid: ${fromJwt.error}.` } : { kind: "principal", principal: fromJwt };
  const principal = principals.get(m[1]!);
  if (!principal) return { kind: "rejected", message: "The bearer token is not valid." };
  return { kind: "principal", principal };
}
