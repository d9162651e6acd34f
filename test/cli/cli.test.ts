// The CLI (cix) spawned as a user runs it, against the whole local stack: create from an
// az ml YAML file and wait with steps printed, list as table and JSON, jobs that return their
// exit code, logs that show output before the job ends, failures with the API's code, help.
import { spawn } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { REPO_ROOT } from "../support/host";
import { startStack, type Stack } from "../support/stack";

const CLI = path.join(REPO_ROOT, "dist", "cli", "main.js");

type Run = { code: number; stdout: string; stderr: string };

let stack: Stack;
let configDir: string;

type Hooks = { token?: string; onStdout?: (chunk: string, child: ReturnType<typeof spawn>) => void; onStderr?: (chunk: string, child: ReturnType<typeof spawn>) => void };

function cix(args: string[], opts: Hooks = {}): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, ...args], {
      env: { ...process.env, CIX_CONFIG_DIR: configDir, CIX_ENDPOINT: stack.baseUrl, CIX_TOKEN: opts.token ?? "alice-token" },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d: Buffer) => {
      stdout += d.toString();
      opts.onStdout?.(d.toString(), child);
    });
    child.stderr.on("data", (d: Buffer) => {
      stderr += d.toString();
      opts.onStderr?.(d.toString(), child);
    });
    child.on("error", reject);
    child.on("exit", (code) => resolve({ code: code ?? -1, stdout, stderr }));
  });
}

beforeAll(async () => {
  stack = await startStack();
  configDir = fs.mkdtempSync(path.join(os.tmpdir(), "cix-config-"));
});

afterAll(async () => {
  await stack?.stop();
  fs.rmSync(configDir, { recursive: true, force: true });
});

describe("cix", () => {
  it("creates from an az ml compute YAML file, waits, and prints each step", async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "cix-yaml-"));
    fs.writeFileSync(path.join(dir, "setup.sh"), "echo set up by cix > cix-setup.txt\n");
    fs.writeFileSync(
      path.join(dir, "instance.yaml"),
      [
        "$schema: https://azuremlschemas.azureedge.net/latest/computeInstance.schema.json",
        "name: cli-one",
        "type: computeinstance",
        "size: Standard_D2s_v5",
        "description: made by the CLI test",
        "idle_time_before_shutdown: PT45M",
        "schedules:",
        "  compute_start_stop:",
        "    - action: stop",
        "      trigger: {type: cron, expression: '0 19 * * 1-5', time_zone: W. Europe Standard Time}",
        "setup_scripts:",
        "  creation_script: {path: setup.sh, timeout_minutes: 5}",
        "tags: {team: vision}",
        "",
      ].join("\n"),
    );
    const r = await cix(["instance", "create", "-f", path.join(dir, "instance.yaml"), "-o", "json"]);
    expect(r.stderr).toMatch(/create cli-one: network Succeeded/);
    expect(r.stderr).toMatch(/create cli-one: vm Succeeded/);
    expect(r.stderr).toMatch(/create cli-one succeeded/);
    expect(r.code, r.stderr).toBe(0);
    const inst = JSON.parse(r.stdout) as { name: string; state: string; idleShutdownMinutes: number; schedules: { timeZone: string; action: string }[]; tags: Record<string, string> };
    expect(inst).toMatchObject({ name: "cli-one", state: "Running", idleShutdownMinutes: 45, tags: { team: "vision" } });
    // The Windows zone name az ml examples use became its IANA zone.
    expect(inst.schedules[0]).toMatchObject({ action: "Stop", timeZone: "Europe/Berlin" });
    expect(fs.readFileSync(path.join(stack.shareDir()!, "Users", "alice", "cix-setup.txt"), "utf8")).toContain("set up by cix");
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it("refuses YAML fields it does not support, by name, before calling the API", async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "cix-yaml-"));
    fs.writeFileSync(path.join(dir, "i.yaml"), "name: cli-two\ntype: computeinstance\nsize: Standard_D2s_v5\nenable_sso: true\n");
    const r = await cix(["instance", "create", "-f", path.join(dir, "i.yaml")]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("enable_sso is not supported");
    expect((await stack.api("GET", "/api/instances/cli-two", { as: "alice" })).status).toBe(404);
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it("lists as a table and as stable JSON", async () => {
    const t = await cix(["instance", "list", "-o", "table"]);
    expect(t.code, t.stderr).toBe(0);
    const [header, rule, row] = t.stdout.trim().split("\n");
    expect(header).toMatch(/^NAME\s+STATE\s+SIZE\s+VCPUS\s+GPUS\s+USER\s+JOBS/);
    expect(rule).toMatch(/^-+\s+-+/);
    expect(row).toMatch(/^cli-one\s+Running\s+Standard_D2s_v5\s+2\s+0\s+alice/);
    const j = await cix(["instance", "list"]); // piped: JSON by default
    const parsed = JSON.parse(j.stdout) as { value: { name: string; state: string; vmSize: string }[] };
    expect(parsed.value.map((i) => i.name)).toEqual(["cli-one"]);
    expect(Object.keys(parsed.value[0]!)).toEqual(expect.arrayContaining(["name", "state", "vmSize", "vCpus", "gpus", "assignedUser", "jobs"]));
    // bob sees none of alice's instances.
    expect(JSON.parse((await cix(["instance", "list"], { token: "bob-token" })).stdout)).toEqual({ value: [] });
  });

  it("job submit --wait streams the output and exits with the job's exit code", async () => {
    const ok = await cix(["job", "submit", "cli-one", "--wait", "--", "echo", "hello from cix"]);
    expect(ok.stdout).toContain("hello from cix");
    expect(ok.code, ok.stderr).toBe(0);
    const bad = await cix(["job", "submit", "cli-one", "--wait", "--", "sh -c 'echo oops >&2; exit 7'"]);
    expect(bad.stderr).toContain("oops");
    expect(bad.stderr).toMatch(/Failed \(exit code 7\)/);
    expect(bad.code).toBe(7);
  });

  it("logs --follow shows output before the job ends", async () => {
    const marker = path.join(stack.shareDir()!, "Users", "alice", "cix-release");
    const sub = await cix(["job", "submit", "cli-one", "-o", "json", "--", `echo first line; while [ ! -f cix-release ]; do sleep 0.2; done; echo last line`]);
    const id = (JSON.parse(sub.stdout) as { id: string }).id;
    let sawFirstWhileRunning = false;
    const r = await cix(["job", "logs", id, "--follow"], {
      onStdout: (chunk) => {
        if (chunk.includes("first line") && !fs.existsSync(marker)) {
          sawFirstWhileRunning = true;
          // Only now may the job end: its first line arrived while it was still running.
          fs.writeFileSync(marker, "");
        }
      },
    });
    expect(sawFirstWhileRunning).toBe(true);
    expect(r.stdout).toContain("last line");
    expect(r.code, r.stderr).toBe(0);
  });

  it("a refused request exits non-zero with the API's error code and message", async () => {
    const r = await cix(["instance", "stop", "no-such-instance"]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^error: NotFound/m);
    const q = await cix(["instance", "create", "big-one", "--size", "Standard_D2s_v5", "--idle-time-before-shutdown-minutes", "5"]);
    expect(q.code).toBe(1);
    expect(q.stderr).toMatch(/error: InvalidRequest/);
    expect(q.stderr).toContain("idleShutdownMinutes");
    const u = await cix(["instance", "create", "x1"]);
    expect(u.code).toBe(2);
    expect(u.stderr).toContain("--size is required");
  });

  it("stop --no-wait returns the operation; operation show --wait follows it", async () => {
    const r = await cix(["instance", "stop", "cli-one", "--no-wait", "-o", "json"]);
    expect(r.code, r.stderr).toBe(0);
    const { operationId } = JSON.parse(r.stdout) as { operationId: string };
    expect(operationId).toBeTruthy();
    const w = await cix(["operation", "show", operationId, "--wait", "-o", "json"]);
    expect(w.code, w.stderr).toBe(0);
    expect(JSON.parse(w.stdout)).toMatchObject({ id: operationId, status: "Succeeded" });
    const show = JSON.parse((await cix(["instance", "show", "cli-one"])).stdout) as { state: string };
    expect(show.state).toBe("Stopped");
  });

  it("Ctrl-C stops the waiting, not the operation, and says how to follow it", async () => {
    let interrupted = false;
    const r = await cix(["instance", "start", "cli-one"], {
      onStderr: (chunk, child) => {
        if (!interrupted && /start cli-one/.test(chunk)) {
          interrupted = true;
          child.kill("SIGINT");
        }
      },
    });
    expect(r.code).toBe(130);
    const follow = /cix operation show (\S+) --wait/.exec(r.stderr);
    expect(follow, r.stderr).not.toBeNull();
    const w = await cix(["operation", "show", follow![1]!, "--wait", "-o", "json"]);
    expect(w.code, w.stderr).toBe(0);
    expect(JSON.parse((await cix(["instance", "show", "cli-one"])).stdout)).toMatchObject({ state: "Running" });
  });

  it("prints help for every command", async () => {
    const commands = [
      [], ["login"], ["logout"], ["sizes"], ["operation", "show"],
      ...["create", "list", "show", "update", "start", "stop", "restart", "delete", "ssh"].map((c) => ["instance", c]),
      ...["submit", "list", "show", "cancel", "logs"].map((c) => ["job", c]),
    ];
    for (const c of commands) {
      const r = await cix([...c, "--help"]);
      expect(r.code, c.join(" ")).toBe(0);
      expect(r.stdout, c.join(" ")).toMatch(/^Usage: cix/);
    }
  });
});
