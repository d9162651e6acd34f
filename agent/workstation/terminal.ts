// The terminal application: a real login shell on the VM, one per browser connection, over a
// WebSocket. There is no native pty module here: `script` (util-linux, on every Ubuntu image)
// gives the shell a real pseudo-terminal, and the agent talks to `script` through pipes. The
// window size is fixed (script takes no resize from a pipe), and the page is a plain line
// terminal, not a full-screen emulator.
//
// Busy: a command running in a shell (the shell has a child process) is use, however long it
// runs without input; a connected shell at its prompt is not.
import { spawn, type ChildProcess } from "node:child_process";
import fs from "node:fs";
import type http from "node:http";
import type { Application, Acceptor, AppState } from "./proxy";
import { text } from "./proxy";
import type { RunAs } from "./users";

type Shell = { child: ChildProcess };

export class Terminal implements Application {
  readonly name = "terminal" as const;
  readonly title = "Terminal";
  private readonly shells = new Set<Shell>();

  constructor(
    private readonly cwd: string,
    private readonly env: NodeJS.ProcessEnv,
    private readonly runAs: RunAs,
    private readonly log: (line: string) => void,
  ) {}

  status(): AppState {
    return fs.existsSync("/usr/bin/script") || fs.existsSync("/bin/script") ? { state: "Available" } : { state: "NotInstalled", message: "The terminal needs `script` (util-linux), which is not installed on this machine." };
  }

  http(req: http.IncomingMessage, res: http.ServerResponse): void {
    const path = new URL(req.url ?? "/", "http://x").pathname;
    if (path !== "/terminal/" || (req.method !== "GET" && req.method !== "HEAD")) return text(res, 404, "Not found.");
    res.writeHead(200, { "content-type": "text/html; charset=utf-8", "cache-control": "no-store", "content-security-policy": "default-src 'self'; script-src 'unsafe-inline'; style-src 'unsafe-inline'" });
    res.end(PAGE);
  }

  websocket(req: http.IncomingMessage, accept: Acceptor, input: () => void): void {
    if (new URL(req.url ?? "/", "http://x").pathname !== "/terminal/ws") {
      void accept().then((ws) => ws.close(1008, "not found"));
      return;
    }
    void accept().then((ws) => {
      const child = spawn("script", ["-qfec", "/bin/bash -l", "/dev/null"], {
        cwd: fs.existsSync(this.cwd) ? this.cwd : "/",
        env: { ...this.env, TERM: "xterm-256color", COLUMNS: "120", LINES: "40", HOME: this.cwd },
        detached: true,
        stdio: ["pipe", "pipe", "pipe"],
        ...this.runAs,
      });
      const shell: Shell = { child };
      this.shells.add(shell);
      const send = (b: Buffer) => ws.readyState === ws.OPEN && ws.send(b.toString("utf8"));
      child.stdout?.on("data", send);
      child.stderr?.on("data", send);
      child.once("exit", (code) => {
        this.shells.delete(shell);
        if (ws.readyState === ws.OPEN) ws.close(1000, `shell exited (${code ?? "signal"})`);
      });
      child.once("error", (err) => {
        this.log(`terminal: ${err.message}`);
        ws.close(1011, "the shell could not start");
      });
      ws.on("message", (data) => {
        input();
        child.stdin?.write(Buffer.isBuffer(data) ? data : Buffer.from(data as ArrayBuffer));
      });
      ws.on("close", () => killGroup(child));
    });
  }

  /** "terminal: <command> running" for each shell that runs something. */
  async busy(): Promise<string[]> {
    const out: string[] = [];
    const table = processTable();
    for (const { child } of this.shells) {
      if (child.pid === undefined) continue;
      // script → bash → the command: the shell's children are what runs.
      for (const shell of table.childrenOf(child.pid)) {
        const running = table.childrenOf(shell);
        if (running.length > 0) out.push(`terminal: ${table.comm(running[0]!)} running`);
      }
    }
    return out;
  }

  stop(): void {
    for (const { child } of this.shells) killGroup(child);
  }
}

function killGroup(child: ChildProcess): void {
  if (child.pid === undefined) return;
  try {
    process.kill(-child.pid, "SIGHUP");
  } catch {
    // gone
  }
}

/** Parent/child relations from /proc, read once per check. */
export function processTable(): { childrenOf(pid: number): number[]; comm(pid: number): string } {
  const children = new Map<number, number[]>();
  const comms = new Map<number, string>();
  for (const entry of fs.existsSync("/proc") ? fs.readdirSync("/proc") : []) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = fs.readFileSync(`/proc/${entry}/stat`, "utf8");
      // pid (comm) state ppid …; comm may contain spaces and parentheses.
      const close = stat.lastIndexOf(")");
      const comm = stat.slice(stat.indexOf("(") + 1, close);
      const [state, ppid] = stat.slice(close + 2).split(" ");
      if (state === "Z") continue;
      const pid = Number(entry);
      comms.set(pid, comm);
      const list = children.get(Number(ppid)) ?? [];
      list.push(pid);
      children.set(Number(ppid), list);
    } catch {
      // exited meanwhile
    }
  }
  return { childrenOf: (pid) => children.get(pid) ?? [], comm: (pid) => comms.get(pid) ?? "a command" };
}

const PAGE = `<!doctype html>
<meta charset="utf-8"><title>Terminal</title>
<style>body{margin:0;background:#111;color:#ddd;font:14px monospace}#out{white-space:pre-wrap;padding:8px;height:calc(100vh - 48px);overflow:auto;margin:0}
form{display:flex;gap:4px;padding:4px}#in{flex:1;background:#222;color:#eee;border:1px solid #444;font:inherit}</style>
<pre id="out"></pre>
<form id="f"><input id="in" autocomplete="off" autofocus placeholder="command, then Enter"><button type="button" id="c">Ctrl-C</button></form>
<script>
const out=document.getElementById("out"),inp=document.getElementById("in");
const ws=new WebSocket((location.protocol==="https:"?"wss://":"ws://")+location.host+"/terminal/ws");
const strip=s=>s.replace(/\\x1b\\[[0-9;?]*[A-Za-z]|\\x1b\\][^\\x07]*\\x07|\\r/g,"");
ws.onmessage=e=>{out.textContent+=strip(e.data);out.scrollTop=out.scrollHeight};
ws.onclose=e=>{out.textContent+="\\n[disconnected: "+(e.reason||e.code)+"]\\n"};
document.getElementById("f").onsubmit=e=>{e.preventDefault();ws.send(inp.value+"\\r");inp.value=""};
document.getElementById("c").onclick=()=>ws.send("\\x03");
</script>
`;
