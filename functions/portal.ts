// The portal, served by the Function App itself from the site root (same origin as the API, so
// no CORS, and App Service Authentication's /.auth session covers both). Assets are named by
// content hash and cached for a year; index.html is revalidated on every load so a deploy shows
// at once. The page is static: identity and data come from /.auth/me and the API.
import fs from "node:fs";
import path from "node:path";
import type { HttpResponseInit } from "@azure/functions";
import { ROUTES } from "../shared/api/routes";
import { httpRoute } from "./http/api";

/** Written by `npm run build` (portal/build.ts). */
const WWW = path.join(__dirname, "..", "portal", "www");
const TYPES: Record<string, string> = { ".js": "text/javascript; charset=utf-8", ".css": "text/css; charset=utf-8", ".html": "text/html; charset=utf-8" };

/** Scripts and styles from this origin only; API calls only to it; never framed. */
const SECURITY_HEADERS = {
  "Content-Security-Policy":
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'",
  "X-Content-Type-Options": "nosniff",
  "Referrer-Policy": "same-origin",
};

/** The build does not change under a running app; files found are kept in memory. */
const cache = new Map<string, Buffer>();

async function file(name: string): Promise<Buffer | null> {
  const known = cache.get(name);
  if (known) return known;
  const read = await fs.promises.readFile(path.join(WWW, name)).catch(() => null);
  if (read) cache.set(name, read);
  return read;
}

const notFound: HttpResponseInit = { status: 404 };

httpRoute(ROUTES.portalPage, async (req): Promise<HttpResponseInit> => {
  const name = req.params.file ?? "";
  if (name !== "" && name !== "index.html") return notFound;
  const body = await file("index.html");
  if (!body) return { status: 404, body: "The portal is not built (npm run build).", headers: { "Content-Type": "text/plain; charset=utf-8" } };
  return { status: 200, body, headers: { ...SECURITY_HEADERS, "Content-Type": TYPES[".html"]!, "Cache-Control": "no-cache" } };
});

httpRoute(ROUTES.portalAsset, async (req): Promise<HttpResponseInit> => {
  const name = req.params.file ?? "";
  // Only the files the build wrote: hashed names, no paths.
  if (!/^[A-Za-z0-9_-]+\.(js|css)$/.test(name)) return notFound;
  const body = await file(path.join("assets", name));
  if (!body) return notFound;
  return {
    status: 200,
    body,
    headers: { ...SECURITY_HEADERS, "Content-Type": TYPES[path.extname(name)]!, "Cache-Control": "public, max-age=31536000, immutable" },
  };
});
