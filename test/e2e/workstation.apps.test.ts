// The workstation's applications end to end: the agent on the emulator's VM runs its
// authenticating proxy on the VM's own loopback address; the API issues single-use tickets to
// the assigned user only. Alice runs a command in the VM's sandbox through the terminal URL;
// bob, an admin, a reader, an unauthenticated client and a replayed ticket are refused; a long
// terminal command holds idle off, a connected but idle terminal does not; Jupyter runs a cell
// (where Debian's python3-notebook is installed) and a busy kernel holds idle off.
import fs from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { WebSocket } from "ws";
import { eventually, startStack, type Stack } from "../support/stack";

type App = { name: string; state: string; url?: string; message?: string };

/**
 * How long a wait may last before the test gives up: a bound for a stack that hangs, not a
 * speed requirement (under parallel load a Python kernel may take a minute to start).
 */
const SLOW = 180_000;
type Instance = { state: string; applications: App[]; autoStop?: { notIdleBecause?: string[] } };

let stack: Stack;
beforeAll(async () => {
  stack = await startStack({ env: { AGENT_SIGNALS_SECONDS: "1", APPS_INPUT_RECENT_SECONDS: "3" } });
  const res = await stack.api("PUT", "/api/instances/apps-a", { as: "alice", body: { vmSize: "Standard_D2s_v5", idleShutdownMinutes: 60 } });
  expect(res.status, res.text).toBe(201);
  await eventually(() => get(), (i) => i.state === "Running" && i.applications.some((a) => a.state !== "Unavailable"), SLOW, 500);
}, 2 * SLOW);
afterAll(() => stack?.stop());

const get = async () => (await stack.api<Instance>("GET", "/api/instances/apps-a", { as: "alice" })).body;
const reasons = async () => (await get()).autoStop?.notIdleBecause ?? [];

/** A session URL from the API, then the ticket exchanged for the proxy's cookie. */
async function open(app: string): Promise<{ url: string; cookie: string; base: string }> {
  const s = await stack.api<{ url: string; expiresAt: string }>("POST", `/api/instances/apps-a/applications/${app}/sessions`, { as: "alice" });
  expect(s.status, s.text).toBe(201);
  const res = await fetch(s.body.url, { redirect: "manual" });
  expect(res.status).toBe(303);
  const setCookie = res.headers.get("set-cookie") ?? "";
  expect(setCookie).toMatch(/HttpOnly/);
  expect(setCookie).toContain(`Path=/${app}/`);
  const u = new URL(s.body.url);
  return { url: s.body.url, cookie: setCookie.split(";")[0]!, base: `${u.protocol}//${u.host}` };
}

/** The IMDS base of an instance's VM, from its agent process's environment. */
function agentImds(instance: string): string {
  for (const entry of fs.readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const env = fs.readFileSync(`/proc/${entry}/environ`, "latin1").split("\0");
      if (env.includes(`CI_NAME=${instance}`) && env.some((kv) => kv.startsWith("CI_AGENT_QUEUE_URL="))) {
        return env.find((kv) => kv.startsWith("AZURE_POD_IDENTITY_AUTHORITY_HOST="))!.split("=").slice(1).join("=");
      }
    } catch {
      // gone meanwhile
    }
  }
  throw new Error(`no agent for ${instance}`);
}

function connect(url: string, cookie?: string): Promise<WebSocket> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, cookie ? { headers: { cookie } } : {});
    ws.once("open", () => resolve(ws));
    ws.once("unexpected-response", (_req, res) => reject(new Error(`HTTP ${res.statusCode}`)));
    ws.once("error", reject);
  });
}

/** Collects a WebSocket's text; resolves when `pred` holds for it. */
function collect(ws: WebSocket): { text: () => string; until: (pred: (t: string) => boolean, ms?: number) => Promise<string> } {
  let buf = "";
  ws.on("message", (d) => (buf += d.toString()));
  return {
    text: () => buf,
    until: (pred, ms = SLOW) => eventually(async () => buf, pred, ms, 100),
  };
}

type KernelMessage = { channel?: string; msg_type?: string; header?: { msg_id?: string; msg_type?: string }; parent_header?: { msg_id?: string }; content?: Record<string, unknown> };

/**
 * The Jupyter kernel protocol over the notebook server's WebSocket, waiting on the protocol's
 * own conditions rather than on time: ready once a kernel_info request was answered on shell
 * AND seen on iopub (a ZMQ subscriber that joins late misses what was published before), and a
 * request settled when iopub says the kernel went idle after it (its output all came before).
 */
function kernelChannels(ws: WebSocket) {
  const messages: KernelMessage[] = [];
  ws.on("message", (d) => messages.push(JSON.parse(d.toString()) as KernelMessage));
  let n = 0;
  const send = (msgType: string, content: Record<string, unknown>): string => {
    const id = `test-${msgType}-${++n}`;
    ws.send(JSON.stringify({
      header: { msg_id: id, username: "alice", session: "test-session", msg_type: msgType, version: "5.3", date: new Date().toISOString() },
      parent_header: {}, metadata: {}, channel: "shell", buffers: [], content,
    }));
    return id;
  };
  const type = (m: KernelMessage) => m.msg_type ?? m.header?.msg_type;
  const answered = (id: string, channel: string, t?: string) => messages.some((m) => m.parent_header?.msg_id === id && m.channel === channel && (t === undefined || type(m) === t));
  return {
    async ready(): Promise<void> {
      const asked: string[] = [];
      await eventually(
        async () => {
          asked.push(send("kernel_info_request", {}));
          return asked;
        },
        (ids) => ids.some((id) => answered(id, "shell", "kernel_info_reply") && answered(id, "iopub")),
        SLOW,
        500,
      );
    },
    execute: (code: string) => send("execute_request", { code, silent: false, store_history: true, user_expressions: {}, allow_stdin: false, stop_on_error: true }),
    async settled(id: string): Promise<void> {
      await eventually(async () => messages.some((m) => m.parent_header?.msg_id === id && m.channel === "iopub" && type(m) === "status" && m.content?.execution_state === "idle"), Boolean, SLOW, 100);
    },
    stdout: (id: string) => messages.filter((m) => m.parent_header?.msg_id === id && type(m) === "stream" && m.content?.name === "stdout").map((m) => String(m.content?.text ?? "")).join(""),
    close: () => ws.close(),
  };
}

describe("applications", () => {
  it("the instance lists its applications with state and URL; the proxy listens on the VM's loopback address", async () => {
    const apps = (await get()).applications;
    const terminal = apps.find((a) => a.name === "terminal")!;
    expect(terminal.state).toBe("Available");
    expect(terminal.url).toMatch(/^http:\/\/127\.\d+\.\d+\.\d+:\d+\/terminal\/$/);
    expect(new URL(terminal.url!).hostname).not.toBe("127.0.0.1");
    const lab = apps.find((a) => a.name === "jupyterlab")!;
    if (!fs.existsSync("/usr/bin/jupyter-lab")) expect(lab).toMatchObject({ state: "NotInstalled", message: expect.stringContaining("not installed on this machine") });
    // All four, VS Code (code-server) included; what the machine lacks says so.
    expect(apps.map((a) => a.name)).toEqual(["terminal", "jupyter", "jupyterlab", "vscode"]);
    const vscode = apps.find((a) => a.name === "vscode")!;
    if (!["/usr/bin", "/usr/local/bin"].some((d) => fs.existsSync(`${d}/code-server`))) expect(vscode).toMatchObject({ state: "NotInstalled", message: expect.stringContaining("not installed on this machine (no code-server)") });
  });

  it("only the assigned user gets a session; no cookie, a replayed ticket and a forged cookie are refused", async () => {
    expect((await stack.api("POST", "/api/instances/apps-a/applications/terminal/sessions", { as: "bob" })).status).toBe(404);
    expect((await stack.api("POST", "/api/instances/apps-a/applications/terminal/sessions", { as: "admin" })).status).toBe(403);
    expect((await stack.api("POST", "/api/instances/apps-a/applications/terminal/sessions", { as: "reader" })).status).toBe(403);
    expect((await stack.api("POST", "/api/instances/apps-a/applications/terminal/sessions")).status).toBe(401);
    expect((await stack.api("POST", "/api/instances/apps-a/applications/rstudio/sessions", { as: "alice" })).status).toBe(404);

    const { url, base } = await open("terminal");
    // Unauthenticated: the page, the WebSocket.
    expect((await fetch(`${base}/terminal/`)).status).toBe(401);
    await expect(connect(`${base.replace("http", "ws")}/terminal/ws`)).rejects.toThrow("HTTP 401");
    await expect(connect(`${base.replace("http", "ws")}/terminal/ws`, "ci_session_terminal=forged")).rejects.toThrow("HTTP 401");
    // The ticket was used once (by open): a replay gets no session.
    const replay = await fetch(url, { redirect: "manual" });
    expect(replay.status).toBe(403);
    expect(replay.headers.get("set-cookie")).toBeNull();
  });

  it("only the instance's own VM redeems its tickets: a user, or another instance's VM, is refused and the ticket stays unused", async () => {
    const s = await stack.api<{ url: string }>("POST", "/api/instances/apps-a/applications/terminal/sessions", { as: "alice" });
    expect(s.status, s.text).toBe(201);
    const ticket = new URL(s.body.url).searchParams.get("ticket")!;
    const body = { ticket, application: "terminal" };
    expect((await stack.api("POST", "/api/agent/instances/apps-a/tickets", { as: "alice", body })).status).toBe(403);
    // apps-a's VM identity, asking as if it were the VM of another instance.
    const imds = agentImds("apps-a");
    const tok = await fetch(`${imds}/metadata/identity/oauth2/token?api-version=2018-02-01&resource=${encodeURIComponent(stack.settings.JOBS_AGENT_APP_AUDIENCE!)}`, { headers: { Metadata: "true" } });
    const { access_token } = (await tok.json()) as { access_token: string };
    const other = await fetch(`${stack.baseUrl}/api/agent/instances/other-b/tickets`, { method: "POST", headers: { authorization: `Bearer ${access_token}`, "content-type": "application/json" }, body: JSON.stringify(body) });
    expect(other.status).toBe(403);
    // Still single-use and unused: the browser's first use works.
    expect((await fetch(s.body.url, { redirect: "manual" })).status).toBe(303);
  });

  it("alice runs a command in the VM's sandbox through the terminal; a long command holds idle off, a connected idle terminal does not", async () => {
    const { cookie, base } = await open("terminal");
    const page = await fetch(`${base}/terminal/`, { headers: { cookie } });
    expect(page.status).toBe(200);
    const ws = await connect(`${base.replace("http", "ws")}/terminal/ws`, cookie);
    const out = collect(ws);
    ws.send('cd cloudfiles/code/Users/alice && echo "from the terminal on $(hostname -s)" > terminal.txt && echo done-$((6*7)) && tty\r');
    // Both lines, whichever output chunk brings them (the tty line can come after the first read).
    await out.until((t) => t.includes("done-42") && /\/dev\/pts\/\d+/.test(t));
    expect(fs.readFileSync(path.join(stack.shareDir()!, "Users", "alice", "terminal.txt"), "utf8")).toMatch(/^from the terminal on /);

    ws.send("sleep 600\r");
    await eventually(reasons, (r) => r.includes("terminal: sleep running"), SLOW, 250);
    ws.send("\x03");
    // Still connected, no command, no input for longer than APPS_INPUT_RECENT_SECONDS: nothing holds.
    const after = await eventually(reasons, (r) => !r.some((x) => x.startsWith("Terminal") || x.startsWith("terminal")), SLOW, 250);
    expect(after.join("|")).not.toMatch(/terminal/i);
    expect(ws.readyState).toBe(WebSocket.OPEN);
    ws.close();
  }, 4 * SLOW);

  it.runIf(fs.existsSync("/usr/bin/jupyter-notebook"))("Jupyter runs a cell; a busy kernel holds idle off", async () => {
    const { cookie, base } = await open("jupyter");
    const headers = { cookie, "content-type": "application/json" };
    // The first request starts Jupyter on the VM; the proxy answers once it is up.
    const tree = await fetch(`${base}/jupyter/tree`, { headers: { cookie } });
    expect(tree.status).toBe(200);
    const created = await fetch(`${base}/jupyter/api/sessions`, { method: "POST", headers, body: JSON.stringify({ path: "train.ipynb", type: "notebook", name: "train.ipynb", kernel: { name: "python3" } }) });
    expect(created.status, await created.clone().text()).toBe(201);
    const kernelId = ((await created.json()) as { kernel: { id: string } }).kernel.id;
    const kernel = kernelChannels(await connect(`${base.replace("http", "ws")}/jupyter/api/kernels/${kernelId}/channels?session_id=test-session`, cookie));
    await kernel.ready();

    const first = kernel.execute("print(6*7)");
    await kernel.settled(first);
    expect(kernel.stdout(first)).toBe("42\n");

    const sleeping = kernel.execute("import time; time.sleep(600)");
    await eventually(reasons, (r) => r.includes("kernel busy in train.ipynb"), SLOW, 250);
    const interrupted = await fetch(`${base}/jupyter/api/kernels/${kernelId}/interrupt`, { method: "POST", headers });
    expect(interrupted.status).toBe(204);
    await kernel.settled(sleeping);
    await eventually(reasons, (r) => !r.includes("kernel busy in train.ipynb"), SLOW, 250);
    kernel.close();
  }, 10 * SLOW);

  it.runIf(!fs.existsSync("/usr/bin/jupyter-notebook"))("without Jupyter on the machine it says so and issues no ticket", async () => {
    const jupyter = (await get()).applications.find((a) => a.name === "jupyter")!;
    expect(jupyter).toMatchObject({ state: "NotInstalled", message: expect.stringContaining("not installed on this machine") });
    const r = await stack.api<{ error: { code: string } }>("POST", "/api/instances/apps-a/applications/jupyter/sessions", { as: "alice" });
    expect(r.status).toBe(409);
    expect(r.body.error.code).toBe("ApplicationNotAvailable");
  });
});
