// Stand-in for App Service Authentication's browser side: /.auth/login/aad, /.auth/me,
// /.auth/logout and the session cookie. In Azure the platform signs the user in with Entra ID
// and keeps a session in the HttpOnly cookie AppServiceAuthSession; every request carrying it
// reaches the app with x-ms-client-principal, exactly as one with a bearer token does. Locally
// the "identity provider" is a page offering the users of LOCAL_PRINCIPALS, and the cookie is a
// signed, expiring reference to one of them (no token in it), so nothing is kept in memory and
// a host restart keeps people signed in.
import { createHash, createHmac, timingSafeEqual } from "node:crypto";
import type http from "node:http";
import { principalClaims, type LocalPrincipal } from "./principal";

export const SESSION_COOKIE = "AppServiceAuthSession";
/** App Service's default session lifetime (authsettingsV2 login.cookieExpiration: 08:00:00). */
const SESSION_MS = 8 * 60 * 60 * 1000;

export type EasyAuth = {
  /** Answers /.auth/* requests; false when the path is not one of them. */
  handle(req: http.IncomingMessage, res: http.ServerResponse, body: Buffer): boolean;
  /** The principal of a valid session cookie, if the request has one. */
  principalOf(cookieHeader: string | undefined): LocalPrincipal | undefined;
};

/** A stable, non-secret id of a LOCAL_PRINCIPALS entry (never the token itself). */
const entryId = (token: string) => createHash("sha256").update(token).digest("base64url").slice(0, 16);

export function easyAuth(principals: Map<string, LocalPrincipal>, secret: string): EasyAuth {
  const byId = new Map([...principals].map(([token, p]) => [entryId(token), p]));
  const sign = (payload: string) => createHmac("sha256", secret).update(payload).digest("base64url");

  function issue(id: string, now = Date.now()): string {
    const payload = Buffer.from(JSON.stringify({ sub: id, exp: now + SESSION_MS })).toString("base64url");
    return `${payload}.${sign(payload)}`;
  }

  function principalOf(cookieHeader: string | undefined): LocalPrincipal | undefined {
    const value = readCookie(cookieHeader, SESSION_COOKIE);
    if (!value) return undefined;
    const [payload, mac] = value.split(".");
    if (!payload || !mac) return undefined;
    const want = Buffer.from(sign(payload));
    const got = Buffer.from(mac);
    if (want.length !== got.length || !timingSafeEqual(want, got)) return undefined;
    try {
      const { sub, exp } = JSON.parse(Buffer.from(payload, "base64url").toString("utf8")) as { sub?: string; exp?: number };
      if (typeof exp !== "number" || exp < Date.now() || typeof sub !== "string") return undefined;
      return byId.get(sub);
    } catch {
      return undefined;
    }
  }

  function handle(req: http.IncomingMessage, res: http.ServerResponse, body: Buffer): boolean {
    const url = new URL(req.url ?? "/", "http://127.0.0.1");
    const p = url.pathname.toLowerCase();
    if (!p.startsWith("/.auth/")) return false;
    const method = (req.method ?? "GET").toUpperCase();
    if (p === "/.auth/login/aad" && method === "GET") {
      html(res, 200, signInPage(byId, localRedirect(url.searchParams.get("post_login_redirect_uri"))));
    } else if (p === "/.auth/login/aad/callback" && method === "POST") {
      const form = new URLSearchParams(body.toString("utf8"));
      const id = form.get("user") ?? "";
      if (!byId.has(id)) {
        html(res, 400, page("Sign-in failed", "<p>That user is not one of LOCAL_PRINCIPALS.</p>"));
      } else {
        res.statusCode = 302;
        res.setHeader("Set-Cookie", sessionCookie(issue(id), SESSION_MS / 1000));
        res.setHeader("Location", localRedirect(form.get("post_login_redirect_uri")));
        res.end();
      }
    } else if (p === "/.auth/me" && method === "GET") {
      const who = principalOf(req.headers.cookie);
      res.setHeader("Cache-Control", "no-store");
      if (!who) {
        // App Service answers 401 here when there is no session.
        res.statusCode = 401;
        res.end();
      } else {
        res.statusCode = 200;
        res.setHeader("Content-Type", "application/json; charset=utf-8");
        res.end(JSON.stringify([{ provider_name: "aad", user_id: who.userId, user_claims: principalClaims(who) }]));
      }
    } else if (p === "/.auth/logout" && method === "GET") {
      res.statusCode = 302;
      res.setHeader("Set-Cookie", sessionCookie("", 0));
      const to = url.searchParams.get("post_logout_redirect_uri");
      res.setHeader("Location", to ? localRedirect(to) : "/.auth/logout/complete");
      res.end();
    } else if (p === "/.auth/logout/complete" && method === "GET") {
      html(res, 200, page("Signed out", '<p>You have signed out.</p><p><a href="/">Back to the portal</a></p>'));
    } else {
      res.statusCode = 404;
      res.end();
    }
    return true;
  }

  return { handle, principalOf };
}

/** HttpOnly (scripts cannot read it) and SameSite=Lax (other sites' forms and fetches do not send it). */
function sessionCookie(value: string, maxAgeSeconds: number): string {
  return `${SESSION_COOKIE}=${value}; Path=/; HttpOnly; SameSite=Lax; Max-Age=${Math.floor(maxAgeSeconds)}`;
}

export function readCookie(header: string | undefined, name: string): string | undefined {
  for (const part of (header ?? "").split(";")) {
    const i = part.indexOf("=");
    if (i > 0 && part.slice(0, i).trim() === name) return part.slice(i + 1).trim();
  }
  return undefined;
}

/** Only paths of this site: App Service refuses redirects elsewhere unless allowed by name. */
function localRedirect(to: string | null): string {
  return to && to.startsWith("/") && !to.startsWith("//") && !to.startsWith("/\\") ? to : "/";
}

const escape = (s: string) => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

function page(title: string, inner: string): string {
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1"><title>${escape(title)}</title>
<style>body{font:15px system-ui,sans-serif;max-width:28rem;margin:4rem auto;padding:0 1rem;color:#1b1b1b}button{display:block;width:100%;margin:.5rem 0;padding:.7rem 1rem;font:inherit;text-align:left;border:1px solid #8a8886;border-radius:4px;background:#fff;cursor:pointer}button:hover,button:focus{border-color:#0f6cbd;outline:2px solid #0f6cbd}small{color:#555}</style></head>
<body><main><h1>${escape(title)}</h1>${inner}</main></body></html>`;
}

function signInPage(byId: Map<string, LocalPrincipal>, redirect: string): string {
  const buttons = [...byId]
    .map(([id, p]) => `<button type="submit" name="user" value="${escape(id)}">${escape(p.name)} <small>(${escape(p.userId)}; ${escape(p.roles.join(", ") || "no role")})</small></button>`)
    .join("");
  return page(
    "Sign in",
    `<p>Local sign-in: choose one of the users of <code>LOCAL_PRINCIPALS</code>. In Azure this is Microsoft Entra ID.</p>
<form method="post" action="/.auth/login/aad/callback"><input type="hidden" name="post_login_redirect_uri" value="${escape(redirect)}">${buttons}</form>`,
  );
}

function html(res: http.ServerResponse, status: number, text: string): void {
  res.statusCode = status;
  res.setHeader("Content-Type", "text/html; charset=utf-8");
  res.setHeader("Cache-Control", "no-store");
  res.end(text);
}
