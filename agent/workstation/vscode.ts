// VS Code in the browser: code-server, started on demand as the user's service and reached
// through the proxy under /vscode/. It listens on a Unix socket in a directory only the user
// can open (the agent is root), never on a TCP port, so its own password can stay off without
// anything listening unauthenticated. code-server serves relative URLs, so the proxy strips
// /vscode and passes the rest. Where the image has no code-server the application says
// "not installed on this machine" (cloud-init installs it on Azure; see cloudInit.ts).
//
// Busy: a command running in one of its integrated terminals. Input: only messages of VS Code's
// remote protocol that carry data count; its keep-alives and acknowledgements, which an idle
// open tab sends every few seconds, do not (a connected editor is not use).
import { spawn, type ChildProcess } from "node:child_process";
import fs from "node:fs";
import http from "node:http";
import os from "node:os";
import path from "node:path";
import { WebSocket, type RawData } from "ws";
import { findProgram } from "./jupyter";
import type { Acceptor, Application, AppState } from "./proxy";
import { text } from "./proxy";
import { processTable } from "./terminal";
import type { RunAs } from "./users";

export const CODE_SERVER = "code-server";
const PREFIX = "/vscode";
const SHELLS = new Set(["bash", "sh", "zsh", "fish", "dash"]);

type Server = { child: ChildProcess; socket: string; dir: string; ready: Promise<void> };

export class VsCode implements Application {
  readonly name = "vscode" as const;
  readonly title = "VS Code";
  private server: Server | undefined;
  private program: string | undefined;

  constructor(
    private readonly cwd: string,
    private readonly env: NodeJS.ProcessEnv,
    private readonly runAs: RunAs,
    private readonly log: (line: string) => void,
  ) {}

  status(): AppState {
    // Looked up each time: cloud-init or a setup script may install it after the agent started.
    this.program ??= findProgram(CODE_SERVER, this.env.PATH);
    return this.program ? { state: "Available" } : { state: "NotInstalled", message: `VS Code (browser) is not installed on this machine (no ${CODE_SERVER}).` };
  }

  http(req: http.IncomingMessage, res: http.ServerResponse): void {
    void this.started().then(
      (s) => {
        const upstream = http.request({ socketPath: s.socket, method: req.method, path: upstreamPath(req.url), headers: withoutSessionCookies(req.headers) }, (up) => {
          res.writeHead(up.statusCode ?? 502, up.headers);
          up.pipe(res);
        });
        upstream.on("error", (err) => !res.headersSent && text(res, 502, `${this.title} did not answer: ${err.message}`));
        req.pipe(upstream);
      },
      (err: Error) => text(res, 502, `${this.title} could not start: ${err.message}`),
    );
  }

  websocket(req: http.IncomingMessage, accept: Acceptor, input: () => void): void {
    void this.started().then(async (s) => {
      const protocols = String(req.headers["sec-websocket-protocol"] ?? "").split(",").map((p) => p.trim()).filter(Boolean);
      // Host and Origin as the browser sent them: code-server refuses a WebSocket whose origin is not its host.
      const upstream = new WebSocket(`ws+unix:${s.socket}:${upstreamPath(req.url)}`, protocols, {
        headers: { host: req.headers.host ?? "localhost", ...(req.headers.cookie ? { cookie: withoutSessionCookies(req.headers).cookie ?? "" } : {}) },
        ...(req.headers.origin ? { origin: req.headers.origin } : {}),
      });
      upstream.once("error", (err) => this.log(`vscode: websocket: ${err.message}`));
      await new Promise<void>((resolve, reject) => {
        upstream.once("open", () => resolve());
        upstream.once("error", reject);
      }).catch(async () => (await accept()).close(1011, `${this.title} refused the connection`));
      if (upstream.readyState !== WebSocket.OPEN) return;
      const client = await accept(upstream.protocol || undefined);
      client.on("message", (data, isBinary) => {
        if (carriesInput(data, isBinary)) input();
        if (upstream.readyState === WebSocket.OPEN) upstream.send(data, { binary: isBinary });
      });
      upstream.on("message", (data, isBinary) => client.readyState === WebSocket.OPEN && client.send(data, { binary: isBinary }));
      client.on("close", () => upstream.close());
      upstream.on("close", () => client.readyState === WebSocket.OPEN && client.close());
    }, async () => (await accept()).close(1011, `${this.title} could not start`));
  }

  /** "VS Code terminal: <command> running" for each integrated terminal that runs something. */
  async busy(): Promise<string[]> {
    const pid = this.server?.child.pid;
    if (pid === undefined) return [];
    return terminalCommands(processTable(), pid).map((c) => `VS Code terminal: ${c} running`);
  }

  stop(): void {
    const s = this.server;
    this.server = undefined;
    if (!s) return;
    if (s.child.pid !== undefined) {
      try {
        process.kill(-s.child.pid, "SIGTERM");
      } catch {
        // gone
      }
    }
    fs.rmSync(s.dir, { recursive: true, force: true });
  }

  /** The running server, started on first use (and again after it exited). */
  private started(): Promise<Server> {
    const program = this.status().state === "Available" ? this.program : undefined;
    if (!program) return Promise.reject(new Error("not installed"));
    if (this.server && this.server.child.exitCode === null && this.server.child.signalCode === null) return this.server.ready.then(() => this.server!);
    if (this.server) fs.rmSync(this.server.dir, { recursive: true, force: true });
    return this.start(program);
  }

  private async start(program: string): Promise<Server> {
    // A short path (Unix socket paths are limited to ~107 bytes), private to the user.
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "ci-vscode-"));
    if (this.runAs.uid !== undefined) fs.chownSync(dir, this.runAs.uid, this.runAs.gid ?? this.runAs.uid);
    fs.chmodSync(dir, 0o700);
    const socket = path.join(dir, "cs.sock");
    const args = ["--socket", socket, "--socket-mode", "600", "--auth", "none", "--disable-telemetry", "--disable-update-check", fs.existsSync(this.cwd) ? this.cwd : "/"];
    const logFile = path.join(this.env.VM_ROOT || "/", "var", "log", "ci-vscode.log");
    fs.mkdirSync(path.dirname(logFile), { recursive: true });
    const fd = fs.openSync(logFile, "a");
    let child: ChildProcess;
    try {
      child = spawn(program, args, { cwd: this.cwd, env: { ...this.env, HOME: this.cwd }, detached: true, stdio: ["ignore", fd, fd], ...this.runAs });
    } finally {
      fs.closeSync(fd);
    }
    const ready = waitReady(socket, child);
    const server: Server = { child, socket, dir, ready };
    this.server = server;
    child.once("exit", (code) => this.log(`vscode: exited (${code ?? "signal"})`));
    this.log(`vscode: started on ${socket} (pid ${child.pid})`);
    await ready;
    return server;
  }
}

/** /vscode/x?y → /x?y (code-server lives at the root of its socket). */
export function upstreamPath(url: string | undefined): string {
  const u = url ?? "/";
  const rest = u.startsWith(PREFIX) ? u.slice(PREFIX.length) : u;
  return rest.startsWith("/") ? rest : `/${rest}`;
}

/** The browser's cookies less the proxy's own session cookies, which stay with the proxy. */
function withoutSessionCookies(h: http.IncomingHttpHeaders): http.OutgoingHttpHeaders {
  const out: http.OutgoingHttpHeaders = { ...h };
  const kept = String(h.cookie ?? "")
    .split(";")
    .map((c) => c.trim())
    .filter((c) => c && !c.startsWith("ci_session_"));
  if (kept.length > 0) out.cookie = kept.join("; ");
  else delete out.cookie;
  return out;
}

// VS Code's remote protocol frames (vs/base/parts/ipc/common/ipc.net.ts): a 13-byte header whose
// first byte is the type. 3 = acknowledgement, 9 = keep-alive: sent by an idle tab on its own.
const HEADER_BYTES = 13;
const NOT_INPUT = new Set([3, 9]);

/** Whether a browser→VS Code WebSocket message is more than the protocol keeping itself alive. */
export function carriesInput(data: RawData, isBinary: boolean): boolean {
  if (!isBinary) return true;
  const buf = Array.isArray(data) ? Buffer.concat(data) : Buffer.from(data as ArrayBuffer);
  if (buf.length < HEADER_BYTES) return true;
  return !NOT_INPUT.has(buf[0]!);
}

/** Commands run by shells anywhere under `root` (code-server → its terminal host → shells → commands). */
export function terminalCommands(table: { childrenOf(pid: number): number[]; comm(pid: number): string }, root: number): string[] {
  const out: string[] = [];
  const seen = new Set<number>();
  const walk = (pid: number, depth: number) => {
    if (depth > 8 || seen.has(pid)) return;
    seen.add(pid);
    for (const child of table.childrenOf(pid)) {
      if (SHELLS.has(table.comm(child))) {
        const running = table.childrenOf(child);
        if (running.length > 0) out.push(table.comm(running[0]!));
      } else walk(child, depth + 1);
    }
  };
  walk(root, 0);
  return out;
}

async function waitReady(socket: string, child: ChildProcess): Promise<void> {
  const until = Date.now() + 90_000;
  while (Date.now() < until) {
    if (child.exitCode !== null || child.signalCode !== null) throw new Error(`it exited (${child.exitCode ?? child.signalCode})`);
    const ok = await new Promise<boolean>((resolve) => {
      const req = http.get({ socketPath: socket, path: "/healthz", timeout: 2000 }, (res) => {
        res.resume();
        resolve(res.statusCode === 200);
      });
      req.on("error", () => resolve(false));
      req.on("timeout", () => req.destroy());
    });
    if (ok) return;
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error("it did not answer within 90 s");
}
