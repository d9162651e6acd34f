// Set-Cookie values for the cookies of a (non-streamed) HTTP response, written as the
// Functions host writes them: it appends each RpcHttpCookie through ASP.NET Core's response
// cookies, so attributes are lower case in the order expires, max-age, domain, path, secure,
// samesite, httponly; the path defaults to "/" (CookieOptions' default); the value is
// percent-encoded (Uri.EscapeDataString); SameSite "none" in the RPC enum means "not set" and
// "explicitNone" means `samesite=none`. (With HTTP streaming the library writes its own
// cookies, without the default path; that path does not come through here.)

/** An RpcHttpCookie as the library sends it: nullable fields may arrive wrapped as {value}. */
type RpcCookie = Record<string, unknown>;

const unwrap = (x: unknown): unknown => (x && typeof x === "object" && "value" in x ? (x as { value: unknown }).value : x);

/** .NET's Uri.EscapeDataString: everything but RFC 3986 unreserved characters is escaped. */
function escapeDataString(s: string): string {
  return encodeURIComponent(s).replace(/[!'()*]/g, (c) => "%" + c.charCodeAt(0).toString(16).toUpperCase());
}

/** Seconds + nanos (a protobuf Timestamp), a Date, or epoch milliseconds → Date. */
function toDate(x: unknown): Date | undefined {
  if (x instanceof Date) return x;
  if (typeof x === "number") return new Date(x);
  if (x && typeof x === "object" && "seconds" in x) {
    const t = x as { seconds?: number | string; nanos?: number };
    return new Date(Number(t.seconds ?? 0) * 1000 + Math.floor((t.nanos ?? 0) / 1e6));
  }
  return undefined;
}

export function setCookieHeader(c: RpcCookie): string {
  const name = unwrap(c.name);
  if (typeof name !== "string" || name === "") return "";
  const parts = [`${name}=${escapeDataString(String(unwrap(c.value) ?? ""))}`];
  const expires = toDate(unwrap(c.expires));
  if (expires && !Number.isNaN(expires.getTime())) parts.push(`expires=${expires.toUTCString()}`);
  const maxAge = unwrap(c.maxAge);
  if (typeof maxAge === "number" && Number.isFinite(maxAge)) parts.push(`max-age=${Math.trunc(maxAge)}`);
  const domain = unwrap(c.domain);
  if (typeof domain === "string" && domain !== "") parts.push(`domain=${domain}`);
  const path = unwrap(c.path);
  parts.push(`path=${typeof path === "string" && path !== "" ? path : "/"}`);
  if (unwrap(c.secure) === true) parts.push("secure");
  const sameSite = String(unwrap(c.sameSite) ?? "").toLowerCase();
  if (sameSite === "lax" || sameSite === "strict") parts.push(`samesite=${sameSite}`);
  else if (sameSite === "explicitnone") parts.push("samesite=none");
  if (unwrap(c.httpOnly) === true) parts.push("httponly");
  return parts.join("; ");
}
