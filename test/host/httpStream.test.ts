// HTTP streaming on the local host: the library's HTTP proxy, reached through the HttpUri
// capability, carries request and response bodies as streams both ways.
import http from "node:http";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestAzurite, type AzuriteProcess } from "../support/azurite";
import { REPO_ROOT, startHost, type TestHost } from "../support/host";
import { eventually } from "../support/stack";

const APP = path.join(REPO_ROOT, "test", "fixtures", "host-http-stream");
const LIMIT = 64 * 1024;

let host: TestHost;
let azurite: AzuriteProcess;

beforeAll(async () => {
  azurite = await startTestAzurite();
  host = await startHost({
    appDir: APP,
    env: { AzureWebJobsStorage: azurite.connectionString, FUNCTIONS_REQUEST_BODY_SIZE_LIMIT: String(LIMIT) },
  });
});
afterAll(async () => {
  await host?.stop();
  await azurite?.stop();
});

/** A request whose body the test writes piece by piece; resolves the response when it starts. */
function openRequest(method: string, p: string, headers: http.OutgoingHttpHeaders = {}) {
  const req = http.request(host.baseUrl + p, { method, headers });
  const response = new Promise<http.IncomingMessage>((resolve, reject) => {
    req.once("response", resolve);
    req.once("error", reject);
  });
  return { req, response };
}

function readAll(res: http.IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    let text = "";
    res.setEncoding("utf8");
    res.on("data", (c: string) => (text += c));
    res.once("end", () => resolve(text));
    res.once("error", reject);
  });
}

function firstChunk(res: http.IncomingMessage): Promise<string> {
  return new Promise((resolve) => res.once("data", (c: Buffer) => resolve(c.toString("utf8"))));
}

describe("HTTP streaming", () => {
  it("reports its proxy through the capabilities handshake and serves requests through it", async () => {
    const res = await fetch(`${host.baseUrl}/api/echo?dupe=1&dupe=2&x=y`, { headers: { "x-test": "hi" } });
    expect(res.status).toBe(201);
    const body = (await res.json()) as Record<string, unknown>;
    // The library builds the request from the forwarded one: the client's URL, its headers, and
    // (unlike the non-streamed path) repeated query keys kept apart.
    expect(body).toMatchObject({
      url: `${host.baseUrl}/api/echo?dupe=1&dupe=2&x=y`,
      header: "hi",
      query: { dupe: "2", x: "y" },
      dupe: ["1", "2"],
    });
    // Cookies are written by the library itself when streaming: no default path.
    expect(res.headers.get("set-cookie")).toBe("c=v; Max-Age=60");
  });

  it("passes route parameters", async () => {
    const res = await fetch(`${host.baseUrl}/api/items/42`);
    expect(await res.json()).toEqual({ id: "42" });
  });

  it("puts query values but `code` into request.params, route values over them, as the host's binding data does", async () => {
    // The durable extension's own Node e2e app reads `request.params.orchestrationName` from `?orchestrationName=`.
    const res = await fetch(`${host.baseUrl}/api/items/42?id=7&name=n&code=secret`);
    expect(await res.json()).toEqual({ id: "42", name: "n" });
  });

  it("streams a chunked request body to the function", async () => {
    const { req, response } = openRequest("POST", "/api/count");
    for (let i = 0; i < 10; i++) req.write(Buffer.alloc(4096, i));
    req.end();
    const res = await response;
    expect(await readAll(res)).toBe(`bytes=${10 * 4096}`);
  });

  it("lets the function answer before the client has finished sending", async () => {
    const { req, response } = openRequest("POST", "/api/firstChunk");
    req.write("hello");
    // The request stays open: only a streamed body lets the function see its first chunk now.
    const res = await response;
    expect(await readAll(res)).toBe("first=hello");
    req.destroy();
  });

  it("streams the response: the first part arrives while the function is still producing", async () => {
    const res = await new Promise<http.IncomingMessage>((resolve, reject) =>
      http.get(`${host.baseUrl}/api/twoParts`, resolve).once("error", reject),
    );
    expect(res.statusCode).toBe(200);
    // Without streaming the host would hold everything until the function ended, which it
    // cannot do before /release is called, so this read would never complete.
    expect(await firstChunk(res)).toBe("part1;");
    const rest = readAll(res);
    expect(await (await fetch(`${host.baseUrl}/api/release`, { method: "POST" })).text()).toBe("released");
    expect(await rest).toBe("part2");
  });

  it("refuses a body over FUNCTIONS_REQUEST_BODY_SIZE_LIMIT, declared or streamed", async () => {
    const declared = await fetch(`${host.baseUrl}/api/count`, { method: "POST", body: Buffer.alloc(LIMIT + 1) });
    expect(declared.status).toBe(413);

    const { req, response } = openRequest("POST", "/api/count");
    req.on("error", () => undefined); // the host may close the connection while we still write
    for (let i = 0; i < 4; i++) req.write(Buffer.alloc(LIMIT / 2));
    req.end();
    const res = await response;
    expect(res.statusCode).toBe(413);
    expect(JSON.parse(await readAll(res))).toMatchObject({ error: { code: "PayloadTooLarge" } });
  });

  it("answers 500 for a function that throws, and 204 for one that returns nothing", async () => {
    const failed = await fetch(`${host.baseUrl}/api/fails`);
    expect(failed.status).toBe(500);
    expect(((await failed.json()) as { error: { code: string } }).error.code).toBe("InternalServerError");
    const nothing = await fetch(`${host.baseUrl}/api/nothing`);
    expect(nothing.status).toBe(204);
  });

  it("serves a burst of requests, each on its own connection, to a function with synchronous work", async () => {
    // The library's proxy shares the host's event loop here (on Azure it is in the worker
    // process): the forwarded requests reach it in memory and functions start one per loop turn,
    // so neither waits for the other's connections to be accepted.
    const send = (i: number) =>
      new Promise<string>((resolve, reject) => {
        const req = http.request(`${host.baseUrl}/api/busy`, { method: "POST", agent: false }, (res) => readAll(res).then(resolve, reject));
        req.once("error", reject);
        req.end(`n${i}`);
      });
    const bodies = await Promise.all(Array.from({ length: 256 }, (_, i) => send(i)));
    expect(bodies).toEqual(Array.from({ length: 256 }, (_, i) => `echo=n${i}`));
    expect(host.output()).toMatch(/HTTP streaming: the library's proxy at http:\/\/localhost:\d+\/ is reached in memory/);
  });

  it("a client that goes away mid-body ends the function's body in an error", async () => {
    const { req, response } = openRequest("POST", "/api/watchBody");
    response.catch(() => undefined);
    req.on("error", () => undefined);
    req.write("part");
    await eventually(async () => (await fetch(`${host.baseUrl}/api/bodyOutcome`)).text(), (t) => t === "reading", 10_000, 50);
    req.destroy();
    expect(await eventually(async () => (await fetch(`${host.baseUrl}/api/bodyOutcome`)).text(), (t) => t !== "reading", 10_000, 50)).toBe("failed");
  });

  it("still answers a bare 404 for no function", async () => {
    const res = await fetch(`${host.baseUrl}/api/doesNotExist`);
    expect(res.status).toBe(404);
    expect(await res.text()).toBe("");
  });
});
