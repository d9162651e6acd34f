import { describe, expect, it } from "vitest";
import { ForbiddenError, NotFoundError, UnauthorizedError } from "../../shared/errors";
import { assertAuthorized, authorize, encodePrincipalHeader, listScope, parsePrincipalHeader, type Action, type Principal } from "../../shared/rbac";

const b64 = (v: unknown) => Buffer.from(typeof v === "string" ? v : JSON.stringify(v)).toString("base64");

describe("x-ms-client-principal parsing", () => {
  it("reads the App Service shape (claims)", () => {
    const header = b64({
      auth_typ: "aad",
      name_typ: "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/emailaddress",
      role_typ: "http://schemas.microsoft.com/ws/2008/06/identity/claims/role",
      claims: [
        { typ: "http://schemas.microsoft.com/identity/claims/objectidentifier", val: "0f0e-oid" },
        { typ: "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/emailaddress", val: "alice@contoso.com" },
        { typ: "roles", val: "user" },
        { typ: "http://schemas.microsoft.com/ws/2008/06/identity/claims/role", val: "Reader" },
        { typ: "roles", val: "superuser" },
      ],
    });
    expect(parsePrincipalHeader(header)).toEqual({ userId: "0f0e-oid", name: "alice@contoso.com", roles: ["user", "reader"] });
  });

  it("falls back to nameidentifier, then userId", () => {
    const header = b64({ claims: [{ typ: "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/nameidentifier", val: "nid" }, { typ: "name", val: "N" }] });
    expect(parsePrincipalHeader(header)).toEqual({ userId: "nid", name: "N", roles: [] });
    expect(parsePrincipalHeader(b64({ userId: "alice", userDetails: "Alice", userRoles: ["anonymous", "authenticated", "admin"] }))).toEqual({
      userId: "alice",
      name: "Alice",
      roles: ["admin"],
    });
  });

  it("round-trips the local host's encoding", () => {
    const p: Principal = { userId: "bob", name: "Bob Berg", roles: ["user"] };
    expect(parsePrincipalHeader(encodePrincipalHeader(p))).toEqual(p);
  });

  it("only role claims grant roles: a name or email whose value is a role name grants nothing", () => {
    const header = b64({
      claims: [
        { typ: "oid", val: "o-1" },
        { typ: "name", val: "admin" },
        { typ: "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/emailaddress", val: "Admin" },
        { typ: "groups", val: "reader" },
      ],
    });
    expect(parsePrincipalHeader(header)).toEqual({ userId: "o-1", name: "admin", roles: [] });
  });

  it.each([
    ["roles", "roles"],
    ["role", "role"],
    ["the WS-Fed role claim", "http://schemas.microsoft.com/ws/2008/06/identity/claims/role"],
  ])("a %s claim grants its role", (_label, typ) => {
    expect(parsePrincipalHeader(b64({ claims: [{ typ: "oid", val: "o-1" }, { typ, val: "Admin" }] })).roles).toEqual(["admin"]);
  });

  it("role_typ names an extra role claim type", () => {
    const header = b64({ role_typ: "custom/role", claims: [{ typ: "oid", val: "o-1" }, { typ: "custom/role", val: "reader" }] });
    expect(parsePrincipalHeader(header).roles).toEqual(["reader"]);
  });

  it("reads roles from userRoles and roles arrays, ignoring non-strings", () => {
    expect(parsePrincipalHeader(b64({ userId: "u", roles: ["user", 7, null] })).roles).toEqual(["user"]);
    expect(parsePrincipalHeader(b64({ userId: "u", userRoles: "admin" })).roles).toEqual([]);
  });

  it("prefers the object id over the name identifier, and either over userId", () => {
    const header = b64({
      userId: "plain",
      claims: [
        { typ: "sub", val: "the-sub" },
        { typ: "oid", val: "the-oid" },
      ],
    });
    expect(parsePrincipalHeader(header).userId).toBe("the-oid");
    expect(parsePrincipalHeader(b64({ userId: "plain", claims: [{ typ: "sub", val: "the-sub" }] })).userId).toBe("the-sub");
  });

  it("ignores malformed claims", () => {
    const header = b64({ userId: "u", claims: [null, { typ: "oid" }, { typ: "oid", val: 5 }, { typ: 1, val: "x" }, { typ: "roles", val: "admin" }] });
    expect(parsePrincipalHeader(header)).toEqual({ userId: "u", name: "u", roles: ["admin"] });
    expect(parsePrincipalHeader(b64({ userId: "u", claims: "oid" }))).toEqual({ userId: "u", name: "u", roles: [] });
  });

  it("name: a name claim (or name_typ's), then userDetails, then name, then the user id; trimmed", () => {
    const claims = [{ typ: "oid", val: "o-1" }, { typ: "email", val: "e@x" }];
    expect(parsePrincipalHeader(b64({ name_typ: "email", claims })).name).toBe("e@x");
    expect(parsePrincipalHeader(b64({ claims })).name).toBe("o-1");
    expect(parsePrincipalHeader(b64({ name_typ: "email", claims: [...claims.slice(0, 1), { typ: "preferred_username", val: "pu" }] })).name).toBe("pu");
    expect(parsePrincipalHeader(b64({ userId: "u", userDetails: "  Ud  ", name: "N" })).name).toBe("Ud");
    expect(parsePrincipalHeader(b64({ userId: "u", userDetails: " ", name: "N" })).name).toBe("N");
    expect(parsePrincipalHeader(b64({ userId: " u ", name: "" })).name).toBe("u");
  });

  it("name: Entra's name claim under its long type is read without name_typ", () => {
    const claims = [{ typ: "oid", val: "o-1" }, { typ: "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/name", val: "Alice Smith" }];
    expect(parsePrincipalHeader(b64({ claims, userDetails: "alice@contoso.com" })).name).toBe("Alice Smith");
  });

  it("a claim with a non-string value is not an id", () => {
    expect(parsePrincipalHeader(b64({ userId: "u", claims: [{ typ: "oid", val: 5 }] })).userId).toBe("u");
    expect(parsePrincipalHeader(b64({ userId: "u", roles: ["admin"], claims: [{ typ: "roles", val: ["admin"] }] })).roles).toEqual(["admin"]);
  });

  it("trims the user id", () => {
    expect(parsePrincipalHeader(b64({ userId: "  alice\t" })).userId).toBe("alice");
  });

  it.each([[" "], ["\t\n"]])("a whitespace-only user id %j is a 401", (userId) => {
    expect(() => parsePrincipalHeader(b64({ userId, userRoles: ["admin"] }))).toThrow(
      new UnauthorizedError("The client principal has no user id."),
    );
  });

  it("a header over 64 KiB is a 401 before it is decoded", () => {
    const big = b64({ userId: "u", pad: "x".repeat(48 * 1024) });
    expect(big.length).toBeGreaterThan(64 * 1024);
    expect(() => parsePrincipalHeader(big)).toThrow(new UnauthorizedError("The client principal header is too large."));
    const justFits = "x".repeat(64 * 1024);
    expect(() => parsePrincipalHeader(justFits)).not.toThrow(/too large/);
  });

  it.each<[string, string]>([
    [Buffer.from("{not json").toString("base64"), "The client principal header is not base64-encoded JSON."],
    [b64("[1]"), "The client principal header is not a JSON object."],
    [b64("null"), "The client principal header is not a JSON object."],
    [b64("3"), "The client principal header is not a JSON object."],
  ])("says why a header is refused (%s)", (header, message) => {
    expect(() => parsePrincipalHeader(header)).toThrow(new UnauthorizedError(message));
  });

  it.each([[undefined], [""], ["not base64 json!"], [b64("[1,2]")], [b64({ claims: [] })], [b64({ userId: 7 })], [b64("null")]])(
    "rejects %j with 401",
    (header) => {
      expect(() => parsePrincipalHeader(header)).toThrow(UnauthorizedError);
    },
  );
});

const alice: Principal = { userId: "alice", name: "Alice", roles: ["user"] };
const bob: Principal = { userId: "bob", name: "Bob", roles: ["user"] };
const admin: Principal = { userId: "admin", name: "Ada", roles: ["admin"] };
const reader: Principal = { userId: "reader", name: "Rita", roles: ["reader"] };
const nobody: Principal = { userId: "x", name: "X", roles: [] };
const alices = { name: "alice-1", assignedUser: "alice" };

type Expect = "ok" | 403 | 404;
const instanceActions: Action[] = [
  "instance:read", "instance:update", "instance:start", "instance:stop", "instance:restart", "instance:delete",
  "instance:activity", "job:submit", "job:read", "job:cancel", "operation:read",
];
const reads = new Set<Action>(["instance:read", "job:read", "operation:read"]);

// principal × action on alice's instance
const matrix: [string, Principal, Action, Expect][] = instanceActions.flatMap((action) => [
  ["admin", admin, action, "ok"],
  ["owner", alice, action, "ok"],
  ["other user", bob, action, 404],
  ["reader", reader, action, reads.has(action) ? "ok" : 403],
  ["no role", nobody, action, 403],
] as [string, Principal, Action, Expect][]);

describe("authorize: instance actions", () => {
  it.each(matrix)("%s %s: %s", (_who, principal, action, expected) => {
    const d = authorize(principal, action, { instance: alices });
    if (expected === "ok") return expect(d.ok).toBe(true);
    expect(d.ok).toBe(false);
    if (d.ok) return;
    expect(d.error.status).toBe(expected);
    expect(d.error).toBeInstanceOf(expected === 404 ? NotFoundError : ForbiddenError);
  });

  it("a 404 for someone else's instance reads like a missing one", () => {
    const d = authorize(bob, "instance:read", { instance: alices });
    expect(!d.ok && d.error.message).toBe("Instance 'alice-1' was not found.");
  });

  it.each<[string, Principal, Action, { assignedUser?: string; instance?: typeof alices }, string]>([
    ["no role", nobody, "instance:read", { instance: alices }, "You have no role in this workspace (admin, user or reader)."],
    ["reader creating", reader, "instance:create", {}, "Readers cannot create instances."],
    ["user creating for another", alice, "instance:create", { assignedUser: "bob" }, "Only an admin can create an instance for another user."],
    ["reader writing", reader, "instance:stop", { instance: alices }, "Readers cannot change anything."],
  ])("a 403 says why: %s", (_case, principal, action, target, message) => {
    expect(() => assertAuthorized(principal, action, target)).toThrow(message);
  });

  it("assertAuthorized lets an allowed action through", () => {
    expect(() => assertAuthorized(alice, "instance:stop", { instance: alices })).not.toThrow();
  });

  it("user+reader may read others but not change them (403, not 404)", () => {
    const both: Principal = { userId: "bob", name: "Bob", roles: ["user", "reader"] };
    expect(authorize(both, "instance:read", { instance: alices }).ok).toBe(true);
    const d = authorize(both, "instance:stop", { instance: alices });
    expect(!d.ok && d.error.status).toBe(403);
  });
});

describe("authorize: create and lists", () => {
  it.each<[string, Principal, string | undefined, Expect]>([
    ["user for self (default)", alice, undefined, "ok"],
    ["user for self (explicit)", alice, "alice", "ok"],
    ["user for someone else", alice, "bob", 403],
    ["admin for a user", admin, "alice", "ok"],
    ["admin for self", admin, undefined, "ok"],
    ["reader", reader, undefined, 403],
    ["no role", nobody, undefined, 403],
  ])("%s", (_case, principal, assignedUser, expected) => {
    const d = authorize(principal, "instance:create", { assignedUser });
    expect(d.ok ? "ok" : d.error.status).toBe(expected);
    if (!d.ok && principal === alice) expect(d.error.target).toBe("assignedUser");
  });

  it.each<[Principal, Action, Expect]>([
    [alice, "instance:list", "ok"],
    [reader, "instance:list", "ok"],
    [nobody, "instance:list", 403],
    [reader, "sizes:read", "ok"],
    [alice, "sizes:read", "ok"],
  ])("%j %s", (principal, action, expected) => {
    const d = authorize(principal, action);
    expect(d.ok ? "ok" : d.error.status).toBe(expected);
  });

  it("list scope: users see their own, admins and readers all", () => {
    expect(listScope(alice)).toEqual({ assignedUser: "alice" });
    expect(listScope(admin)).toEqual({});
    expect(listScope(reader)).toEqual({});
  });
});
