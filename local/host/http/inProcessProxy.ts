// The forwarded request of HTTP streaming, handed to the library's proxy server in memory.
//
// On Azure the library's server runs in the worker process, whose event loop does nothing but
// the app's work; here it shares the host's loop. Since libuv 1.45 (Node 20) a listening socket
// accepts one connection per loop iteration (libuv/libuv#3696), and a loaded host's iterations
// take tens of milliseconds: a burst of 128 new connections then waited up to 6 s to be
// accepted, and clients with an 8-s socket timeout (the worker's own e2e suite) gave up. The
// requests keep the library's server and its pairing by `x-ms-invocation-id`; only the TCP hop
// between two parts of one process is replaced by a stream pair, which Node's HTTP server takes
// as a connection ("any Duplex stream can be passed", net.Server 'connection' event).
import http from "node:http";
import net from "node:net";
import { duplexPair, type Duplex } from "node:stream";

/**
 * Runs `fn` (the library's capabilities handshake) and returns what it returned with the servers
 * that started listening meanwhile: the library creates its proxy server there and reports only
 * its address (HttpUri), so the host recognises it by port.
 */
export async function withListeningServers<T>(fn: () => Promise<T>): Promise<{ result: T; servers: net.Server[] }> {
  const servers: net.Server[] = [];
  const listen = net.Server.prototype.listen;
  net.Server.prototype.listen = function (this: net.Server, ...args: unknown[]) {
    servers.push(this);
    return (listen as (...a: unknown[]) => net.Server).apply(this, args);
  } as typeof listen;
  try {
    return { result: await fn(), servers };
  } finally {
    net.Server.prototype.listen = listen;
  }
}

/** The HTTP server among `servers` that listens on `httpUri`'s port, once it is listening. */
export async function serverAt(servers: net.Server[], httpUri: string): Promise<http.Server | undefined> {
  const port = Number(new URL(httpUri).port);
  for (const s of servers) {
    if (!(s instanceof http.Server)) continue;
    // One that fails to listen (or closes first) is not it; waiting only for 'listening' would hang.
    if (!s.listening) await new Promise((resolve) => ["listening", "error", "close"].forEach((e) => s.once(e, resolve)));
    const address = s.address();
    if (typeof address === "object" && address?.port === port) return s;
  }
  return undefined;
}

/** A connection to `server` without TCP: one end goes to the server, the other is returned. */
export function connectInMemory(server: http.Server): Duplex {
  const [client, serverSide] = duplexPair();
  // Either side going away takes the other with it, as a closed socket would.
  client.once("close", () => serverSide.destroy());
  serverSide.once("close", () => client.destroy());
  server.emit("connection", serverSide);
  return client;
}
