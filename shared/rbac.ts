import { ForbiddenError, NotFoundError, UnauthorizedError } from "./errors";

// Identity comes only from App Service Authentication's `x-ms-client-principal` (base64 JSON);
// locally, local/host injects the same header. Roles: admin (everything, may act for users),
// user (its own instances only), reader (reads everything, changes nothing). A user asking
// about someone else's instance gets 404, so instance names do not leak through 403s.

export const ROLES = ["admin", "user", "reader"] as const;
export type Role = (typeof ROLES)[number];

export interface Principal {
  userId: string;
  name: string;
  roles: Role[];
}

const OBJECT_ID_CLAIMS = ["http://schemas.microsoft.com/identity/claims/objectidentifier", "oid"];
const NAME_ID_CLAIMS = ["http://schemas.xmlsoap.org/ws/2005/05/identity/claims/nameidentifier", "sub"];
const NAME_CLAIMS = ["name", "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/name", "preferred_username"];
const ROLE_CLAIMS = ["roles", "role", "http://schemas.microsoft.com/ws/2008/06/identity/claims/role"];
const MAX_HEADER_LENGTH = 64 * 1024;

interface RawPrincipal {
  claims?: { typ?: unknown; val?: unknown }[];
  name_typ?: unknown;
  role_typ?: unknown;
  userId?: unknown;
  userDetails?: unknown;
  name?: unknown;
  userRoles?: unknown;
  roles?: unknown;
}

/** Parse the header value; a missing or unreadable header, or one without a user id, is a 401. */
export function parsePrincipalHeader(value: string | null | undefined): Principal {
  if (!value) throw new UnauthorizedError();
  if (value.length > MAX_HEADER_LENGTH) throw new UnauthorizedError("The client principal header is too large.");
  let raw: unknown;
  try {
    raw = JSON.parse(Buffer.from(value, "base64").toString("utf8"));
  } catch {
    throw new UnauthorizedError("The client principal header is not base64-encoded JSON.");
  }
  if (typeof raw !== "object" || raw === null || Array.isArray(raw)) {
    throw new UnauthorizedError("The client principal header is not a JSON object.");
  }
  const p = raw as RawPrincipal;
  const claims = Array.isArray(p.claims)
    ? p.claims.filter((c): c is { typ: string; val: string } => typeof c?.typ === "string" && typeof c.val === "string")
    : [];
  const claim = (types: readonly string[]) => claims.find((c) => types.includes(c.typ))?.val;

  const userId = claim(OBJECT_ID_CLAIMS) ?? claim(NAME_ID_CLAIMS) ?? str(p.userId);
  if (!userId) throw new UnauthorizedError("The client principal has no user id.");
  const nameType = str(p.name_typ);
  const name = claim(nameType ? [nameType, ...NAME_CLAIMS] : NAME_CLAIMS) ?? str(p.userDetails) ?? str(p.name) ?? userId;

  const roleType = str(p.role_typ);
  const roleTexts = [
    ...claims.filter((c) => ROLE_CLAIMS.includes(c.typ) || c.typ === roleType).map((c) => c.val),
    ...strings(p.userRoles),
    ...strings(p.roles),
  ];
  const roles = ROLES.filter((r) => roleTexts.some((t) => t.toLowerCase() === r));
  return { userId, name, roles };
}

export function encodePrincipalHeader(p: Principal): string {
  return Buffer.from(JSON.stringify({ userId: p.userId, userDetails: p.name, userRoles: p.roles }), "utf8").toString("base64");
}

export type Action =
  | "instance:create"
  | "instance:read"
  | "instance:list"
  | "instance:update"
  | "instance:start"
  | "instance:stop"
  | "instance:restart"
  | "instance:delete"
  | "instance:activity"
  | "job:submit"
  | "job:read"
  | "job:cancel"
  | "sizes:read"
  | "operation:read"
  | "audit:read";

const READS: ReadonlySet<Action> = new Set(["instance:read", "instance:list", "job:read", "sizes:read", "operation:read", "audit:read"]);

export function isReadAction(action: Action): boolean {
  return READS.has(action);
}

export interface InstanceRef {
  name: string;
  assignedUser: string;
}

export type Decision = { ok: true } | { ok: false; error: ForbiddenError | NotFoundError };

/**
 * `instance` is the existing instance the action targets (omit for list/sizes); for create,
 * `assignedUser` is the requested owner (default: the caller).
 */
export function authorize(principal: Principal, action: Action, target?: { instance?: InstanceRef; assignedUser?: string }): Decision {
  const roles = principal.roles;
  if (roles.includes("admin")) return { ok: true };
  const isUser = roles.includes("user");
  const isReader = roles.includes("reader");
  if (!isUser && !isReader) return deny(new ForbiddenError("You have no role in this workspace (admin, user or reader)."));

  if (action === "instance:create") {
    if (!isUser) return deny(new ForbiddenError("Readers cannot create instances."));
    const owner = target?.assignedUser ?? principal.userId;
    if (owner !== principal.userId) {
      return deny(new ForbiddenError("Only an admin can create an instance for another user.", "assignedUser"));
    }
    return { ok: true };
  }

  const instance = target?.instance;
  const own = instance === undefined || instance.assignedUser === principal.userId;
  if (isReadAction(action)) {
    if (isReader || own) return { ok: true };
    return deny(notFound(instance));
  }
  // A write.
  if (isUser && own) return { ok: true };
  if (isReader) return deny(new ForbiddenError("Readers cannot change anything."));
  return deny(notFound(instance));
}

export function assertAuthorized(principal: Principal, action: Action, target?: { instance?: InstanceRef; assignedUser?: string }): void {
  const decision = authorize(principal, action, target);
  if (!decision.ok) throw decision.error;
}

/** For lists: users see only their own instances; admins and readers see all. */
export function listScope(principal: Principal): { assignedUser?: string } {
  const r = principal.roles;
  return r.includes("admin") || r.includes("reader") ? {} : { assignedUser: principal.userId };
}

function notFound(instance: InstanceRef | undefined): NotFoundError {
  // Stryker disable next-line StringLiteral: unreachable — authorize denies only another user's instance, never a missing one
  const name = instance?.name ?? "";
  // Same message as for a name that does not exist.
  return NotFoundError.resource("Instance", name);
}

function deny(error: ForbiddenError | NotFoundError): Decision {
  return { ok: false, error };
}

function str(v: unknown): string | undefined {
  return typeof v === "string" && v.trim() !== "" ? v.trim() : undefined;
}

function strings(v: unknown): string[] {
  // Stryker disable next-line ArrayDeclaration: the mutant's placeholder text ("Stryker was here") names no role, so the roles are the same
  return Array.isArray(v) ? v.filter((x): x is string => typeof x === "string") : [];
}
