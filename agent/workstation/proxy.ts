// The agent's authenticating reverse proxy for the workstation's applications (HTTP and
// WebSocket), on the VM's private address. Nothing behind it is reachable without a session:
// a session starts only from a single-use ticket the app issued to the instance's assigned user
// (redeemed with the app, as this VM), and lives in an HttpOnly cookie scoped to that
// application's path. A connection alone is not use: only input (a WebSocket message from the
// browser, an HTTP request other than GET/HEAD) counts toward the busy signals.
import { randomBytes } from "node:crypto";
import http from "node:http";
import type { AddressInfo } from "node:net";
import type { Duplex } from "node:stream";
import { WebSocket, WebSocketServer } from "ws";

export type AppState = { state: "Available" | "NotInstalled"; message?: string };

export type ApplicationName = "terminal" | "jupyter" | "jupyterlab" | "vscode";

/** One application behind the proxy; its paths all start with /<name>/. */
export interface Application {
  readonly name: ApplicationName;
  readonly title: string;
  status(): AppState;
  http(req: http.IncomingMessage, res: http.ServerResponse): void;
  /** A browser WebSocket, already authenticated; `input` marks use. */
  websocket(req: http.IncomingMessage, accept: Acceptor, input: () => void): void;
  busy(): Promise<string[]>;
  stop(): void;
}

/** Completes the browser's upgrade (with the subprotocol the application chose, if any). */
export type Acceptor = (protocol?: string) => Promise<WebSocket>;

export type Redeem = (ticket: string, app: ApplicationName) => Promise<{ ok: true; user: string } | { ok: false; reason: string }>;

type Session = { user: string; app: ApplicationName; expiresAt: number };

/** A session lasts a working day; a new one starts from the portal with a new ticket. */
const SESSION_MS = 12 * 3600_000;
const cookieName = (app: ApplicationName) => `ci_session_${app}`;

export class AppProxy {
  private server: http.Server | undefined;
  private readonly sessions = new Map<string, Session>();
  private readonly lastInput = new Map<ApplicationName, number>();
  private readonly wss = new WebSocketServer({ noServer: true });
  private readonly apps: Map<string, Application>;
  url: string | undefined;

  constructor(
    apps: readonly Application[],
    private readonly redeem: Redeem,
    private readonly inputRecentMs: number,
    private readonly log: (line: string) => void,
  ) {
    this.apps = new Map(apps.map((a) => [a.name, a]));
  }

  async listen(host: string, port: number): Promise<string> {
    const server = http.createServer((req, res) => void this.onRequest(req, res));
    server.on("upgrade", (req, socket, head) => this.onUpgrade(req, socket, head));
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(port, host, () => resolve());
    });
    this.server = server;
    this.url = `http://${host}:${(server.address() as AddressInfo).port}`;
    return this.url;
  }

  stop(): void {
    for (const a of this.apps.values()) a.stop();
    this.server?.closeAllConnections();
    this.server?.close();
  }

  applications(): { name: ApplicationName; state: AppState["state"]; message?: string }[] {
    return [...this.apps.values()].map((a) => ({ name: a.name, ...a.status() }));
  }

  /** Sessions with recent input, and what the applications themselves report. */
  async busy(now = Date.now()): Promise<string[]> {
    const out: string[] = [];
    for (const a of this.apps.values()) {
      const last = this.lastInput.get(a.name);
      // Worded without a time, so a steady state reports the same signal (the app then skips the write).
      if (last !== undefined && now - last < this.inputRecentMs) out.push(`${a.title}: recent input`);
      out.push(...(await a.busy().catch(() => [])));
    }
    return out;
  }

  private markInput(app: ApplicationName): void {
    this.lastInput.set(app, Date.now());
  }

  private route(req: http.IncomingMessage): { app: Application | undefined; url: URL } {
    const url = new URL(req.url ?? "/", "http://proxy");
    const first = url.pathname.split("/")[1] ?? "";
    return { app: this.apps.get(first), url };
  }

  private session(req: http.IncomingMessage, app: ApplicationName): Session | undefined {
    const id = parseCookies(req.headers.cookie)[cookieName(app)];
    const s = id ? this.sessions.get(id) : undefined;
    if (!s || s.app !== app) return undefined;
    if (s.expiresAt <= Date.now()) {
      this.sessions.delete(id!);
      return undefined;
    }
    return s;
  }

  private async onRequest(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const { app, url } = this.route(req);
    if (!app) return text(res, 404, "No such application on this machine.");
    const ticket = url.searchParams.get("ticket");
    if (ticket !== null) {
      const answer = await this.redeem(ticket, app.name).catch((err: Error) => ({ ok: false as const, reason: `the ticket could not be checked (${err.message})` }));
      if (!answer.ok) {
        this.log(`proxy: ${app.name}: ticket refused (${answer.reason})`);
        return text(res, 403, `This link is not valid (${answer.reason}). Open ${app.title} again from the portal.`);
      }
      const id = randomBytes(32).toString("base64url");
      this.sessions.set(id, { user: answer.user, app: app.name, expiresAt: Date.now() + SESSION_MS });
      this.pruneSessions();
      url.searchParams.delete("ticket");
      res.writeHead(303, {
        location: `${url.pathname}${url.search}`,
        "set-cookie": `${cookieName(app.name)}=${id}; Path=/${app.name}/; HttpOnly; SameSite=Lax; Max-Age=${SESSION_MS / 1000}`,
        "cache-control": "no-store",
      });
      res.end();
      return;
    }
    if (!this.session(req, app.name)) return text(res, 401, `Not signed in. Open ${app.title} from the portal (it asks the API for a session).`);
    const status = app.status();
    if (status.state !== "Available") return text(res, 503, status.message ?? `${app.title} is not installed on this machine.`);
    if (req.method !== "GET" && req.method !== "HEAD") this.markInput(app.name);
    app.http(req, res);
  }

  private onUpgrade(req: http.IncomingMessage, socket: Duplex, head: Buffer): void {
    const { app } = this.route(req);
    const refuse = (status: string) => {
      socket.end(`HTTP/1.1 ${status}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
    };
    if (!app) return refuse("404 Not Found");
    if (!this.session(req, app.name)) return refuse("401 Unauthorized");
    if (app.status().state !== "Available") return refuse("503 Service Unavailable");
    socket.on("error", () => undefined);
    let accepted = false;
    const accept: Acceptor = (protocol) =>
      new Promise((resolve) => {
        accepted = true;
        const wss = protocol ? new WebSocketServer({ noServer: true, handleProtocols: () => protocol }) : this.wss;
        wss.handleUpgrade(req, socket, head, (ws) => resolve(ws));
      });
    app.websocket(req, accept, () => this.markInput(app.name));
    // An application that neither accepted nor refused leaves nothing half open.
    setTimeout(() => !accepted && !socket.destroyed && refuse("502 Bad Gateway"), 30_000).unref();
  }

  private pruneSessions(): void {
    const now = Date.now();
    for (const [id, s] of this.sessions) if (s.expiresAt <= now) this.sessions.delete(id);
  }
}

export function parseCookies(header: string | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const part of (header ?? "").split(";")) {
    const i = part.indexOf("=");
    if (i > 0) out[part.slice(0, i).trim()] = part.slice(i + 1).trim();
  }
  return out;
}

export function text(res: http.ServerResponse, status: number, body: string): void {
  res.writeHead(status, { "content-type": "text/plain; charset=utf-8", "cache-control": "no-store" });
  res.end(`${body}\n`);
}
