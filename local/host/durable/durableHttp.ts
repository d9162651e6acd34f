// Durable HTTP (`context.df.callHttp`), as the Durable extension runs it: each request is an
// internal activity named "BuiltIn::HttpActivity" (HttpOptions.HttpTaskActivityReservedName)
// whose input is the DurableHttpRequest and whose result is the DurableHttpResponse
// ({ statusCode, headers, content }). With the asynchronous pattern on (the default), a 202
// with a Location header is polled: a durable timer for Retry-After seconds (else
// durableTask.httpSettings.defaultAsyncRequestSleepTimeMilliseconds, 30 s), then a GET of the
// Location with the same headers (less x-functions-key) and token source, until the answer
// is not 202 (DurableOrchestrationContext.CallHttpAsync / CreateLocationPollRequest). The
// library's CallHttpWithPollingTask mirrors that loop, so both assign the same event ids.
// A ManagedIdentityTokenSource adds "Authorization: Bearer <token>" for its resource, the
// token coming from the host's managed identity (IDENTITY_ENDPOINT / IDENTITY_HEADER).
import { ManagedIdentityCredential, type TokenCredential } from "@azure/identity";

export const HTTP_ACTIVITY = "BuiltIn::HttpActivity";
export const DEFAULT_HTTP_ASYNC_SLEEP_MS = 30_000;

type HeaderValues = Record<string, string | string[]>;

export type DurableHttpRequestWire = {
  method: string;
  uri: string;
  content?: string | null;
  headers?: HeaderValues | null;
  tokenSource?: { kind?: string; resource?: string } | null;
  asynchronousPatternEnabled?: boolean;
  /** Ours: set on the GETs that poll a Location (they are logged as the extension logs them). */
  polling?: boolean;
};

export type DurableHttpResponseWire = { statusCode: number; headers: HeaderValues; content: string | null };

const header = (h: HeaderValues | null | undefined, name: string): string | undefined => {
  if (!h) return undefined;
  const key = Object.keys(h).find((k) => k.toLowerCase() === name.toLowerCase());
  const v = key === undefined ? undefined : h[key];
  return Array.isArray(v) ? v[0] : v;
};

/** The request of a CallHttp action, as the activity's input. */
export function httpRequestOf(action: { [field: string]: unknown }): DurableHttpRequestWire {
  const r = (action.httpRequest ?? {}) as DurableHttpRequestWire;
  return {
    method: String(r.method ?? ""),
    uri: String(r.uri ?? ""),
    content: r.content ?? null,
    headers: r.headers ?? null,
    tokenSource: r.tokenSource ?? null,
    asynchronousPatternEnabled: r.asynchronousPatternEnabled !== false,
  };
}

/**
 * If `resultJson` (the activity's result) is a 202 to poll, the delay before polling and the
 * GET request that polls; undefined when the call is finished.
 */
export function nextPoll(request: DurableHttpRequestWire, resultJson: string | null, defaultDelayMs: number): { delayMs: number; request: DurableHttpRequestWire } | undefined {
  if (request.asynchronousPatternEnabled === false || !resultJson) return undefined;
  let res: DurableHttpResponseWire;
  try {
    res = JSON.parse(resultJson) as DurableHttpResponseWire;
  } catch {
    return undefined;
  }
  const location = header(res?.headers, "Location");
  if (res?.statusCode !== 202 || !location) return undefined;
  const retryAfter = Number(header(res.headers, "Retry-After"));
  const delayMs = header(res.headers, "Retry-After") !== undefined && Number.isFinite(retryAfter) && retryAfter >= 0 ? retryAfter * 1000 : defaultDelayMs;
  const headers = Object.fromEntries(Object.entries(request.headers ?? {}).filter(([k]) => k.toLowerCase() !== "x-functions-key"));
  return { delayMs, request: { method: "GET", uri: new URL(location, request.uri).href, content: null, headers, tokenSource: request.tokenSource, asynchronousPatternEnabled: true, polling: true } };
}

/** Tokens of the host's managed identity, one credential per host (it caches tokens). */
export class ManagedIdentityTokens {
  private credential?: TokenCredential;
  async token(resource: string): Promise<string> {
    this.credential ??= new ManagedIdentityCredential();
    const scope = resource.endsWith("/.default") ? resource : `${resource.replace(/\/$/, "")}/.default`;
    const t = await this.credential.getToken(scope);
    if (!t) throw new Error(`the managed identity returned no token for ${resource}`);
    return t.token;
  }
}

/** The extension's DurableHttpClientFactory sets its HttpClient's Timeout to 240 s. */
const REQUEST_TIMEOUT_MS = 240_000;

/** Runs one DurableHttpRequest; throws (the activity fails) when it cannot be sent. */
export async function executeDurableHttp(input: string | undefined, tokens: ManagedIdentityTokens, log?: (message: string) => void): Promise<DurableHttpResponseWire> {
  const req = JSON.parse(input ?? "{}") as DurableHttpRequestWire;
  let url: URL;
  try {
    url = new URL(req.uri);
  } catch {
    throw new Error(`callHttp: uri "${req.uri}" is not an absolute URL`);
  }
  if (!req.method) throw new Error("callHttp: method is required");
  // The extension's words; the query string stays out of the log (it may hold a SAS token).
  if (req.polling) log?.(`Polling HTTP status at location ${url.origin}${url.pathname}`);
  const headers = new Headers();
  for (const [k, v] of Object.entries(req.headers ?? {})) for (const one of Array.isArray(v) ? v : [v]) headers.append(k, String(one));
  if (req.tokenSource) {
    if (req.tokenSource.kind !== undefined && req.tokenSource.kind !== "AzureManagedIdentity") throw new Error(`callHttp: token source kind "${req.tokenSource.kind}" is not supported`);
    if (!req.tokenSource.resource) throw new Error("callHttp: the token source names no resource");
    headers.set("Authorization", `Bearer ${await tokens.token(req.tokenSource.resource)}`);
  }
  const method = req.method.toUpperCase();
  const body = req.content === null || req.content === undefined || method === "GET" || method === "HEAD" ? undefined : req.content;
  const res = await fetch(url, { method, headers, body, redirect: "manual", signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS) });
  const out: HeaderValues = {};
  res.headers.forEach((value, key) => {
    out[key] = value;
  });
  const text = await res.text();
  return { statusCode: res.status, headers: out, content: text === "" && method === "HEAD" ? null : text };
}
