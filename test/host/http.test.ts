// The local host's HTTP extension, exercised through a real host child process.
import fs from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestAzurite, type AzuriteProcess } from "../support/azurite";
import { REPO_ROOT, startHost, type TestHost } from "../support/host";

const APP = path.join(REPO_ROOT, "test", "fixtures", "host-http");
const PRINCIPALS = JSON.stringify({
  "alice-token": { userId: "alice", name: "Alice Andersson", roles: ["user"] },
  "admin-token": { userId: "admin", name: "Ada Admin", roles: ["admin"] },
});

let host: TestHost;
let azurite: AzuriteProcess;
const get = (p: string, init?: RequestInit) => fetch(host.baseUrl + p, init);
const json = async (p: string, init?: RequestInit) => {
  const res = await get(p, init);
  return { status: res.status, headers: res.headers, body: (await res.json()) as Record<string, unknown> };
};

beforeAll(async () => {
  // The host's storage, as in Azure (extensions such as durable keep their state there).
  azurite = await startTestAzurite();
  host = await startHost({ appDir: APP, env: { LOCAL_PRINCIPALS: PRINCIPALS, AzureWebJobsStorage: azurite.connectionString } });
});
afterAll(async () => {
  await host?.stop();
  await azurite?.stop();
});

describe("routes", () => {
  it("binds route parameters", async () => {
    const r = await json("/api/hello/bob?x=1");
    expect(r.status).toBe(200);
    expect(r.body).toEqual({ fn: "helloName", params: { name: "bob" }, method: "GET", query: { x: "1" } });
  });

  it("prefers a literal segment over a parameter", async () => {
    expect((await json("/api/hello/world")).body.fn).toBe("helloWorld");
  });

  it("applies int and alpha constraints", async () => {
    expect((await json("/api/items/42")).body).toMatchObject({ fn: "itemById", params: { id: "42" } });
    expect((await json("/api/items/abc")).body).toMatchObject({ fn: "itemByName", params: { name: "abc" } });
    expect((await get("/api/items/a1")).status).toBe(404);
  });

  it("applies regex constraints", async () => {
    expect((await json("/api/codes/beef01")).body).toMatchObject({ fn: "code", params: { code: "beef01" } });
    expect((await get("/api/codes/xyz")).status).toBe(404);
  });

  it("supports optional and catch-all parameters and complex segments", async () => {
    expect((await json("/api/opt")).body).toMatchObject({ fn: "optional", params: {} });
    expect((await json("/api/opt/7")).body).toMatchObject({ fn: "optional", params: { x: "7" } });
    expect((await json("/api/files/a/b/c.txt")).body).toMatchObject({ fn: "files", params: { rest: "a/b/c.txt" } });
    expect((await json("/api/docs/report.v2.pdf")).body).toMatchObject({ fn: "fileExt", params: { name: "report.v2", ext: "pdf" } });
  });

  it("uses the function name as the default route, case-insensitively", async () => {
    expect((await json("/api/DefaultRoute")).body.fn).toBe("DefaultRoute");
    expect((await json("/API/defaultroute")).body.fn).toBe("DefaultRoute");
  });

  it("answers 404 outside any route and 405 with Allow for a wrong method", async () => {
    // As the Functions host: a bare 404, no body.
    const nf = await get("/api/no/such/route");
    expect(nf.status).toBe(404);
    expect(await nf.text()).toBe("");
    expect((await get("/elsewhere")).status).toBe(404);
    const na = await json("/api/items/42", { method: "POST" });
    expect(na.status).toBe(405);
    expect(na.headers.get("allow")).toBe("GET, DELETE");
  });

  it("passes bodies, status, headers and cookies through the library", async () => {
    const r = await json("/api/echo", { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ a: 1 }) });
    expect(r.status).toBe(201);
    expect(r.headers.get("x-echo")).toBe("yes");
    expect(r.headers.get("set-cookie")).toContain("seen=1");
    expect(r.body).toEqual({ body: { a: 1 }, contentType: "application/json" });
    expect((await get("/api/nothing")).status).toBe(204);
  });
});

describe("what the Functions host does before the worker", () => {
  it("joins repeated query keys with a comma", async () => {
    const r = await json("/api/query-echo?a=1&b=x&a=2");
    expect(r.body).toEqual({ query: { a: "1,2", b: "x" }, all: ["1,2"] });
  });

  it("writes cookies with lower-case attributes and path=/ by default", async () => {
    const res = await get("/api/cookies");
    expect(res.headers.getSetCookie()).toEqual([
      "plain=v; max-age=120; path=/",
      "scoped=a%20b; path=/api; secure; samesite=strict; httponly",
    ]);
  });
});

describe("auth levels", () => {
  const keys = () => JSON.parse(fs.readFileSync(path.join(host.dataDir, "host", "keys.json"), "utf8")) as { functionKey: string; masterKey: string };

  it("keeps generated keys in DATA_DIR and never prints them", () => {
    const k = keys();
    expect(k.functionKey.length).toBeGreaterThan(20);
    expect(host.output()).not.toContain(k.functionKey);
    expect(host.output()).not.toContain(k.masterKey);
  });

  it("needs a function key (header or code) for authLevel function", async () => {
    const k = keys();
    expect((await get("/api/keyed")).status).toBe(401);
    expect((await get("/api/keyed", { headers: { "x-functions-key": "wrong" } })).status).toBe(401);
    expect((await get("/api/keyed", { headers: { "x-functions-key": k.functionKey } })).status).toBe(200);
    expect((await get(`/api/keyed?code=${encodeURIComponent(k.functionKey)}`)).status).toBe(200);
    expect((await get(`/api/keyed?code=${encodeURIComponent(k.masterKey)}`)).status).toBe(200);
  });

  it("needs the master key for authLevel admin", async () => {
    const k = keys();
    expect((await get("/api/admin-only", { headers: { "x-functions-key": k.functionKey } })).status).toBe(401);
    expect((await get("/api/admin-only", { headers: { "x-functions-key": k.masterKey } })).status).toBe(200);
  });
});

describe("App Service Authentication stand-in", () => {
  it("injects the principal for a known bearer token, readable as request.user", async () => {
    const r = await json("/api/whoami", { headers: { authorization: "Bearer alice-token" } });
    expect(r.status).toBe(200);
    expect(r.body.user).toEqual({ id: "alice", username: "Alice Andersson", type: "AppService", identityProvider: "aad" });
    expect(r.body.principalId).toBe("alice");
    const p = r.body.principal as { auth_typ: string; role_typ: string; claims: { typ: string; val: string }[] };
    expect(p.auth_typ).toBe("aad");
    expect(p.claims.filter((c) => c.typ === p.role_typ).map((c) => c.val)).toEqual(["user"]);
    expect(p.claims.some((c) => c.typ.endsWith("/objectidentifier") && c.val === "alice")).toBe(true);
  });

  it("strips a forged principal header", async () => {
    const forged = Buffer.from(JSON.stringify({ auth_typ: "aad", claims: [{ typ: "roles", val: "admin" }] })).toString("base64");
    const anon = await json("/api/whoami", {
      headers: { "x-ms-client-principal": forged, "x-ms-client-principal-id": "admin", "x-ms-client-principal-name": "x", "x-ms-client-principal-idp": "aad" },
    });
    expect(anon.body).toEqual({ user: null, principal: null, principalId: null });
    const withToken = await json("/api/whoami", { headers: { authorization: "Bearer alice-token", "x-ms-client-principal": forged } });
    expect(withToken.body.principalId).toBe("alice");
    expect(JSON.stringify(withToken.body.principal)).not.toContain("admin");
  });

  it("rejects an unknown bearer token with 401", async () => {
    const r = await json("/api/whoami", { headers: { authorization: "Bearer mallory-token" } });
    expect(r.status).toBe(401);
    expect((r.body.error as { code: string }).code).toBe("Unauthorized");
  });
});

describe("browser sign-in (/.auth) stand-in", () => {
  /** Signs in as the LOCAL_PRINCIPALS entry whose button names `who`; returns the session cookie. */
  async function signIn(who: string): Promise<string> {
    const page = await (await get("/.auth/login/aad?post_login_redirect_uri=/#/instances")).text();
    expect(page).not.toContain("alice-token"); // tokens never reach the browser
    const id = new RegExp(`name="user" value="([^"]+)">${who}`).exec(page)?.[1];
    expect(id, page).toBeTruthy();
    const res = await get("/.auth/login/aad/callback", {
      method: "POST",
      redirect: "manual",
      headers: { "content-type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams({ user: id!, post_login_redirect_uri: "/#/instances" }).toString(),
    });
    expect(res.status).toBe(302);
    expect(res.headers.get("location")).toBe("/#/instances");
    const cookie = res.headers.get("set-cookie")!;
    expect(cookie).toMatch(/^AppServiceAuthSession=[^;]+; Path=\/; HttpOnly; SameSite=Lax; Max-Age=\d+$/);
    return cookie.split(";")[0]!;
  }

  it("turns the session cookie into the same principal a bearer token gives", async () => {
    const cookie = await signIn("Alice Andersson");
    const viaCookie = await json("/api/whoami", { headers: { cookie } });
    const viaToken = await json("/api/whoami", { headers: { authorization: "Bearer alice-token" } });
    expect(viaCookie.body).toEqual(viaToken.body);
    const me = await get("/.auth/me", { headers: { cookie } });
    expect(me.status).toBe(200);
    const [entry] = (await me.json()) as { provider_name: string; user_id: string; user_claims: { typ: string; val: string }[] }[];
    expect(entry!.provider_name).toBe("aad");
    expect(entry!.user_id).toBe("alice");
    expect(entry!.user_claims.filter((c) => c.typ.endsWith("/role")).map((c) => c.val)).toEqual(["user"]);
  });

  it("refuses an edited cookie, and /.auth/me is 401 without a session", async () => {
    const cookie = await signIn("Alice Andersson");
    const [name, value] = cookie.split("=");
    const [payload, mac] = value!.split(".");
    const forgedPayload = Buffer.from(JSON.stringify({ sub: "x", exp: Date.now() + 1e6 })).toString("base64url");
    for (const bad of [`${name}=${forgedPayload}.${mac}`, `${name}=${payload}.${mac!.slice(1)}x`, `${name}=garbage`]) {
      expect((await json("/api/whoami", { headers: { cookie: bad } })).body.principalId).toBeNull();
      expect((await get("/.auth/me", { headers: { cookie: bad } })).status).toBe(401);
    }
  });

  it("logout clears the cookie; redirects stay on the site", async () => {
    const out = await get("/.auth/logout?post_logout_redirect_uri=/", { redirect: "manual" });
    expect(out.status).toBe(302);
    expect(out.headers.get("set-cookie")).toMatch(/^AppServiceAuthSession=; .*Max-Age=0/);
    const away = await get("/.auth/logout?post_logout_redirect_uri=https://evil.example/", { redirect: "manual" });
    expect(away.headers.get("location")).toBe("/");
  });
});

describe("a throwing function", () => {
  it("answers 500 with an error id; the stack is only in the log", async () => {
    const res = await get("/api/boom");
    expect(res.status).toBe(500);
    const text = await res.text();
    const body = JSON.parse(text) as { error: { code: string; errorId: string; message: string } };
    expect(body.error.code).toBe("InternalServerError");
    expect(body.error.errorId).toMatch(/^[0-9a-f-]{36}$/);
    expect(text).not.toContain("kaboom");
    expect(text).not.toContain("app.js");
    await host.waitForOutput(body.error.errorId);
    expect(host.output()).toContain("kaboom: secret-detail-42");
    expect(host.output()).toMatch(/at .*app\.js/);
  });
});
