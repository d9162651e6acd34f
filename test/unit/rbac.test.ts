import { describe, expect, it } from "vitest";
import { ForbiddenError, NotFoundError, UnauthorizedError } from "../../shared/errors";
import { authorize, encodePrincipalHeader, listScope, parsePrincipalHeader, type Action, type Principal } from "../../shared/rbac";

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
