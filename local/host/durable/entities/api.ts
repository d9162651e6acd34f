// The entity routes of the Durable Functions HTTP API (the extension's HttpApiHandler), served
// under both /runtime/webhooks/durabletask/ and the client's rpcBaseUrl /durabletask/:
//   GET    entities/{name}/{key}      the entity's state: 200 with the state, 404 if it does not exist
//   POST   entities/{name}/{key}?op=  signal an operation; the body (if any) is its input; 202
//   DELETE entities/{name}/{key}      signal the "delete" operation; 202
//   GET    entities[/{name}]          list existing entities (top, fetchState, x-ms-continuation-token)
// A key of "$" stands for the empty key, as on Azure.
import type http from "node:http";
import { EngineError } from "../client/errors";
import type { EntityRuntime } from "./runtime";

function reply(res: http.ServerResponse, status: number, text = "", headers: Record<string, string> = {}): void {
  res.writeHead(status, { ...(text ? { "Content-Type": "application/json; charset=utf-8" } : {}), ...headers });
  res.end(text);
}

/** The operation input from the request body: JSON as sent when the content type says JSON, otherwise the text as a string. */
function operationInput(req: http.IncomingMessage, body: Buffer): string | undefined {
  if (body.length === 0) return undefined;
  const text = body.toString("utf8");
  const type = String(req.headers["content-type"] ?? "").split(";")[0]!.trim().toLowerCase();
  if (type !== "application/json") return JSON.stringify(text);
  try {
    return JSON.stringify(JSON.parse(text));
  } catch (err) {
    throw new EngineError(400, "InvalidJson", `operation input: could not parse JSON content: ${(err as Error).message}`);
  }
}

export async function entityRoute(
  entities: EntityRuntime,
  method: string,
  parts: string[],
  q: URLSearchParams,
  req: http.IncomingMessage,
  res: http.ServerResponse,
  body: Buffer,
): Promise<void> {
  const [, name, rawKey] = parts;
  const key = rawKey === "$" ? "" : rawKey;
  if (method === "GET" && name && key !== undefined && rawKey !== "") {
    const rec = await entities.read({ name, key });
    if (!rec || !rec.exists) return reply(res, 404);
    return reply(res, 200, rec.state ?? "null");
  }
  if (method === "GET") {
    const topText = q.get("top");
    const top = topText ? Number(topText) : undefined;
    if (top !== undefined && (!Number.isInteger(top) || top < 1)) throw new EngineError(400, "InvalidTop", `top: "${topText}" is not a positive integer`);
    const fetchState = (q.get("fetchState") ?? "").toLowerCase() === "true";
    const token = (req.headers["x-ms-continuation-token"] as string | undefined) || undefined;
    const page = await entities.store.list(name || undefined, top, token);
    const list = page.records.map((r) => ({
      entityId: { name: r.name, key: r.key },
      lastOperationTime: r.lastModifiedTime,
      ...(fetchState ? { state: r.state === undefined ? null : (JSON.parse(r.state) as unknown) } : {}),
    }));
    return reply(res, 200, JSON.stringify(list), page.continuationToken ? { "x-ms-continuation-token": page.continuationToken } : {});
  }
  if ((method === "POST" || method === "DELETE") && name && key !== undefined) {
    const op = method === "DELETE" ? "delete" : (q.get("op") ?? "");
    await entities.signal({ name, key }, op, operationInput(req, body));
    return reply(res, 202);
  }
  throw new EngineError(404, "NotFound", `no durable task route ${method} /${parts.join("/")}`);
}
