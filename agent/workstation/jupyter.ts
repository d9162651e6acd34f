// Jupyter (classic Notebook) and JupyterLab: started on demand as the user's service, bound to
// 127.0.0.1 on a free port with a random token that only the proxy knows (so nothing on the VM
// listens unauthenticated), and reached through the proxy under /jupyter/ or /jupyterlab/ (the
// server's base URL, so paths pass unchanged). Where the image has no Jupyter the application
// says "not installed on this machine".
//
// Busy: a kernel that is executing (Jupyter's own /api/sessions and /api/kernels) is use, with
// the notebook it belongs to; an idle kernel, or an open tab, is not.
import { spawn, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import fs from "node:fs";
import http from "node:http";
import net from "node:net";
import path from "node:path";
import { WebSocket } from "ws";
import type { Acceptor, Application, AppState } from "./proxy";
import { text } from "./proxy";
import type { RunAs } from "./users";

type Kind = { name: "jupyter" | "jupyterlab"; title: string; program: string };

export const JUPYTER: Kind = { name: "jupyter", title: "Jupyter", program: "jupyter-notebook" };
export const JUPYTERLAB: Kind = { name: "jupyterlab", title: "JupyterLab", program: "jupyter-lab" };

/** Where images put Jupyter besides PATH (the Data Science VM's conda). */
const EXTRA_DIRS = ["/anaconda/bin", "/opt/conda/bin", "/usr/local/bin", "/usr/bin"];

export function findProgram(program: string, envPath: string | undefined): string | undefined {
  for (const dir of [...(envPath ?? "").split(":").filter(Boolean), ...EXTRA_DIRS]) {
    const p = path.join(dir, program);
    try {
      fs.accessSync(p, fs.constants.X_OK);
      return p;
    } catch {
      // next
    }
  }
  return undefined;
}

type Server = { child: ChildProcess; port: number; token: string; ready: Promise<void> };

export class Jupyter implements Application {
  readonly name: Kind["name"];
  readonly title: string;
  private server: Server | undefined;
  private program: string | undefined;

  constructor(
    private readonly kind: Kind,
    private readonly cwd: string,
    private readonly env: NodeJS.ProcessEnv,
    private readonly runAs: RunAs,
    private readonly log: (line: string) => void,
  ) {
    this.name = kind.name;
    this.title = kind.title;
  }

  status(): AppState {
    // Looked up until found: a setup script (or the image's first boot) may install it after the agent started.
    this.program ??= findProgram(this.kind.program, this.env.PATH);
    return this.program ? { state: "Available" } : { state: "NotInstalled", message: `${this.title} is not installed on this machine (no ${this.kind.program}).` };
  }

  http(req: http.IncomingMessage, res: http.ServerResponse): void {
    void this.started().then(
      (s) => {
        const upstream = http.request(
          { host: "127.0.0.1", port: s.port, method: req.method, path: req.url, headers: this.upstreamHeaders(req.headers, s) },
          (up) => {
            res.writeHead(up.statusCode ?? 502, up.headers);
            up.pipe(res);
          },
        );
        upstream.on("error", (err) => !res.headersSent && text(res, 502, `${this.title} did not answer: ${err.message}`));
        req.pipe(upstream);
      },
      (err: Error) => text(res, 502, `${this.title} could not start: ${err.message}`),
    );
  }

  websocket(req: http.IncomingMessage, accept: Acceptor, input: () => void): void {
    void this.started().then(async (s) => {
      const protocols = String(req.headers["sec-websocket-protocol"] ?? "").split(",").map((p) => p.trim()).filter(Boolean);
      const upstream = new WebSocket(`ws://127.0.0.1:${s.port}${req.url ?? "/"}`, protocols, { headers: this.upstreamHeaders({}, s) });
      upstream.once("error", (err) => this.log(`${this.name}: websocket: ${err.message}`));
      await new Promise<void>((resolve, reject) => {
        upstream.once("open", () => resolve());
        upstream.once("error", reject);
      }).catch(async () => (await accept()).close(1011, `${this.title} refused the connection`));
      if (upstream.readyState !== WebSocket.OPEN) return;
      const client = await accept(upstream.protocol || undefined);
      client.on("message", (data, isBinary) => {
        input();
        if (upstream.readyState === WebSocket.OPEN) upstream.send(data, { binary: isBinary });
      });
      upstream.on("message", (data, isBinary) => client.readyState === WebSocket.OPEN && client.send(data, { binary: isBinary }));
      client.on("close", () => upstream.close());
      upstream.on("close", () => client.readyState === WebSocket.OPEN && client.close());
    }, async () => (await accept()).close(1011, `${this.title} could not start`));
  }

  /** "kernel busy in train.ipynb" for every executing kernel. */
  async busy(): Promise<string[]> {
    const s = this.server;
    if (!s) return [];
    await s.ready;
    const base = `http://127.0.0.1:${s.port}/${this.name}`;
    const get = async <T>(p: string): Promise<T> => {
      const res = await fetch(`${base}${p}`, { headers: { authorization: `token ${s.token}` }, signal: AbortSignal.timeout(5000) });
      if (!res.ok) throw new Error(`${p}: ${res.status}`);
      return (await res.json()) as T;
    };
    const [sessions, kernels] = await Promise.all([
      get<{ path?: string; kernel?: { id: string; execution_state?: string } }[]>("/api/sessions"),
      get<{ id: string; name?: string; execution_state?: string }[]>("/api/kernels"),
    ]);
    const out: string[] = [];
    const named = new Set<string>();
    for (const x of sessions) {
      if (!x.kernel) continue;
      named.add(x.kernel.id);
      const k = kernels.find((k) => k.id === x.kernel!.id) ?? x.kernel;
      if (k.execution_state === "busy") out.push(`kernel busy in ${x.path ?? "a notebook"}`);
    }
    for (const k of kernels) if (!named.has(k.id) && k.execution_state === "busy") out.push(`kernel ${k.name ?? k.id} busy`);
    return out;
  }

  stop(): void {
    const s = this.server;
    this.server = undefined;
    if (s?.child.pid !== undefined) {
      try {
        process.kill(-s.child.pid, "SIGTERM");
      } catch {
        // gone
      }
    }
  }

  private upstreamHeaders(h: http.IncomingHttpHeaders, s: Server): http.OutgoingHttpHeaders {
    const out: http.OutgoingHttpHeaders = { ...h };
    // The proxy's cookie stays here; Jupyter sees its own origin and the token only the agent knows.
    delete out.cookie;
    out.host = `127.0.0.1:${s.port}`;
    if (out.origin) out.origin = `http://127.0.0.1:${s.port}`;
    if (out.referer) delete out.referer;
    out.authorization = `token ${s.token}`;
    return out;
  }

  /** The running server, started on first use (and again after it exited). */
  private started(): Promise<Server> {
    if (this.status().state !== "Available" || !this.program) return Promise.reject(new Error("not installed"));
    if (this.server && this.server.child.exitCode === null && this.server.child.signalCode === null) return this.server.ready.then(() => this.server!);
    return this.start(this.program);
  }

  private async start(program: string): Promise<Server> {
    const port = await freePort();
    const token = randomBytes(24).toString("hex");
    const base = `/${this.name}/`;
    const args = [
      "--no-browser",
      "--ip=127.0.0.1",
      `--port=${port}`,
      "--port-retries=0",
      // Classic Notebook (6) reads NotebookApp, Jupyter Server apps (Lab, Notebook 7) ServerApp; each ignores the other's.
      `--NotebookApp.base_url=${base}`,
      `--ServerApp.base_url=${base}`,
      `--notebook-dir=${fs.existsSync(this.cwd) ? this.cwd : "/"}`,
    ];
    // Only where it would run as root anyway (the local emulator run by root); on a VM it runs as the user.
    if (this.runAs.uid === undefined && process.getuid?.() === 0) args.push("--allow-root");
    const logFile = path.join(this.env.VM_ROOT || "/", "var", "log", `ci-${this.name}.log`);
    fs.mkdirSync(path.dirname(logFile), { recursive: true });
    const fd = fs.openSync(logFile, "a");
    let child: ChildProcess;
    try {
      // The token goes through the environment, not the command line other users could read.
      child = spawn(program, args, { cwd: this.cwd, env: { ...this.env, JUPYTER_TOKEN: token, HOME: this.cwd }, detached: true, stdio: ["ignore", fd, fd], ...this.runAs });
    } finally {
      fs.closeSync(fd);
    }
    const ready = waitReady(port, base, token, child);
    const server: Server = { child, port, token, ready };
    this.server = server;
    child.once("exit", (code) => this.log(`${this.name}: exited (${code ?? "signal"})`));
    this.log(`${this.name}: started on 127.0.0.1:${port} (pid ${child.pid})`);
    await ready;
    return server;
  }
}

async function waitReady(port: number, base: string, token: string, child: ChildProcess): Promise<void> {
  const until = Date.now() + 90_000;
  while (Date.now() < until) {
    if (child.exitCode !== null || child.signalCode !== null) throw new Error(`it exited (${child.exitCode ?? child.signalCode})`);
    try {
      const res = await fetch(`http://127.0.0.1:${port}${base}api/status`, { headers: { authorization: `token ${token}` }, signal: AbortSignal.timeout(2000) });
      if (res.ok) return;
    } catch {
      // not yet
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error("it did not answer within 90 s");
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const port = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(port));
    });
  });
}
