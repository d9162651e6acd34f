// HTTP streaming (`app.setup({ enableHttpStream: true })`), as the Functions host does it:
// the library runs its own HTTP server and reports its address as the `HttpUri` capability
// (azure-functions-nodejs-library src/http/httpProxy.ts, src/ProgrammingModel.ts). For each
// request the host starts the invocation and, at the same time, forwards the request to that
// server with the header `x-ms-invocation-id`; the library pairs the two, hands the function
// the request body as a stream, and writes the function's response (streamed too) back on
// that connection. Nothing is buffered here: the body size limit is enforced while piping.
import http from "node:http";
import { pipeline } from "node:stream";
import type { InvocationOutcome } from "../extensions";
import { BodyTooLargeError, limitStream } from "./bodyLimit";
import { connectInMemory } from "./inProcessProxy";
import { sendError } from "./respond";

/** Hop-by-hop headers (RFC 9110 §7.6.1) are per connection and never forwarded. */
const HOP_BY_HOP = new Set(["connection", "keep-alive", "proxy-connection", "te", "trailer", "transfer-encoding", "upgrade"]);

const agent = new http.Agent({ keepAlive: true });

export type StreamedInvocation = {
  /** The `HttpUri` capability, e.g. http://localhost:55000/ */
  proxyUri: string;
  /** The library's server itself, when it runs in this process: reached in memory, not over TCP. */
  proxyServer?: http.Server;
  invocationId: string;
  functionName: string;
  /** Request body limit in bytes (FUNCTIONS_REQUEST_BODY_SIZE_LIMIT). */
  limit: number;
  /** Starts the invocation (through the library, which waits for the forwarded request). */
  invoke(): Promise<InvocationOutcome>;
  log(level: "information" | "warning" | "error", message: string): void;
};

/** Resolves once the client has its whole response (or the exchange was abandoned). */
export function streamToFunction(req: http.IncomingMessage, res: http.ServerResponse, s: StreamedInvocation): Promise<void> {
  return new Promise<void>((resolve) => {
    res.once("close", () => resolve());

    const headers: http.OutgoingHttpHeaders = {};
    for (const [k, v] of Object.entries(req.headers)) if (v !== undefined && !HOP_BY_HOP.has(k) && k !== "host") headers[k] = v;
    headers["x-ms-invocation-id"] = s.invocationId;
    headers["x-forwarded-host"] = req.headers.host ?? "127.0.0.1";
    headers["x-forwarded-proto"] = "http";
    const proxyServer = s.proxyServer;
    const transport: http.RequestOptions = proxyServer ? { createConnection: () => connectInMemory(proxyServer) } : { agent };
    const proxyReq = http.request(new URL(req.url ?? "/", s.proxyUri), { method: req.method, headers, ...transport });

    let answered = false;
    let abandoned = false;
    /** Answers the client from the host itself, when the function's response will not come. */
    const answer = (status: number, code: string, message: string, errorId?: string) => {
      abandoned = true;
      proxyReq.destroy();
      if (answered) return;
      answered = true;
      if (status === 204) {
        res.statusCode = 204;
        res.end();
      } else sendError(res, status, code, message, errorId);
    };

    proxyReq.on("response", (proxyRes) => {
      if (answered) return void proxyRes.destroy();
      answered = true;
      for (const [k, v] of Object.entries(proxyRes.headers)) if (v !== undefined && !HOP_BY_HOP.has(k)) res.setHeader(k, v);
      res.statusCode = proxyRes.statusCode ?? 200;
      pipeline(proxyRes, res, () => undefined);
    });
    proxyReq.on("error", (err) => {
      if (abandoned) return; // we destroyed it ourselves
      if (!answered) s.log("error", `Forwarding the request of ${s.functionName} to the worker failed: ${err.message}`);
      answer(502, "BadGateway", "The function's worker did not answer.");
    });
    // A client that goes away takes the forwarded request with it (the function sees its body end in an error).
    res.once("close", () => {
      if (res.writableFinished) return;
      abandoned = true;
      proxyReq.destroy();
    });

    // Not `pipeline`: on an error it would destroy the client's socket before the 413 reaches it.
    const limiter = limitStream(s.limit);
    req.pipe(limiter).pipe(proxyReq);
    limiter.once("error", (err) => {
      req.unpipe(limiter);
      req.resume(); // discard the rest; the connection closes after the answer
      if (err instanceof BodyTooLargeError) {
        res.setHeader("Connection", "close");
        answer(413, "PayloadTooLarge", err.message);
      }
    });

    const started = Date.now();
    s.invoke().then(
      (outcome) => {
        s.log("information", `Executed 'Functions.${s.functionName}' (Succeeded, Id=${s.invocationId}, Duration=${Date.now() - started}ms)`);
        // The library has already written the response when the function set one; otherwise none is coming.
        if (!outcome.httpOutputSet) answer(204, "", "");
      },
      (err: unknown) => {
        s.log("error", `Executed 'Functions.${s.functionName}' (Failed, Id=${s.invocationId}): ${(err as Error)?.stack ?? String(err)}`);
        answer(500, "InternalServerError", `Function "${s.functionName}" failed; see the host log for errorId ${s.invocationId}.`, s.invocationId);
      },
    );
  });
}
