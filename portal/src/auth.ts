// Who is signed in, from the platform's /.auth/me (App Service Authentication in Azure, the
// local host's stand-in locally): the page never knows which it is.

export type Me = { userId: string; name: string; roles: string[] };

type Claim = { typ: string; val: string };
// Entra ID tokens carry roles as "roles"; App Service may also pass the long claim type.
const ROLE_TYPES = new Set(["roles", "role", "http://schemas.microsoft.com/ws/2008/06/identity/claims/role"]);
const NAME_TYPES = ["name", "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/name", "preferred_username"];
const OID_TYPES = ["http://schemas.microsoft.com/identity/claims/objectidentifier", "oid"];

/** The signed-in user, or null when there is no session. */
export async function whoAmI(): Promise<Me | null> {
  const res = await fetch("/.auth/me", { credentials: "same-origin", headers: { accept: "application/json" } });
  if (res.status === 401 || res.status === 404) return null;
  if (!res.ok) throw new Error(`/.auth/me answered ${res.status}`);
  const [entry] = (await res.json()) as { user_id?: string; user_claims?: Claim[] }[];
  if (!entry) return null;
  const claims = entry.user_claims ?? [];
  const first = (types: string[]) => types.map((t) => claims.find((c) => c.typ === t)?.val).find((v) => v);
  return {
    userId: first(OID_TYPES) ?? entry.user_id ?? "",
    name: first(NAME_TYPES) ?? entry.user_id ?? "",
    roles: claims.filter((c) => ROLE_TYPES.has(c.typ)).map((c) => c.val),
  };
}

export const signInUrl = () => `/.auth/login/aad?post_login_redirect_uri=${encodeURIComponent(location.pathname + location.hash)}`;
export const signOutUrl = () => "/.auth/logout?post_logout_redirect_uri=/";

/** Why this user may not change things, or undefined when they may (mirrors shared/rbac.ts: readers read only). */
export function readOnlyReason(me: Me): string | undefined {
  if (me.roles.includes("admin") || me.roles.includes("user")) return undefined;
  if (me.roles.includes("reader")) return "Readers can see everything but change nothing.";
  return "Your account has no role in this workspace; ask an admin for one.";
}
