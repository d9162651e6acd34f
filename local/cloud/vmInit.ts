// What the VM's init system does at boot, as far as the emulator honours it: cloud-init's
// `write_files` (every boot here; harmless, same content) and `runcmd` (first boot only, as
// cloud-init's per-instance modules), then the systemd services enabled with
// `systemctl enable --now <unit>` in runcmd, on every boot, restarted per `Restart=`.
// Services are real processes in the VM's sandbox (killed with the VM on deallocate / power off /
// restart / delete) and reach the VM's IMDS (its managed identity, served by identity/service.ts)
// through AZURE_POD_IDENTITY_AUTHORITY_HOST. Paths in the cloud-init are VM paths: files land under the
// VM's root, runcmd scripts see VM_ROOT (as run commands do), and an ExecStart argument naming
// a file that exists under the VM's root is given that file.
import fs from "node:fs";
import path from "node:path";
import { installDocker } from "./containers";
import type { Ctx } from "./context";
import { obj, str } from "./http";
import { baseEnv } from "./runner";
import { VM_MARKER_ENV } from "./sandbox";
import { key, type VmRecord } from "./store";

export type WriteFile = { path: string; content: Buffer; permissions: number };

/** `write_files` entries of our shape: path, permissions, `encoding: b64`, content on one line. */
export function parseWriteFiles(cloudInit: string): WriteFile[] {
  const out: WriteFile[] = [];
  const lines = cloudInit.split(/\r?\n/);
  const start = lines.findIndex((l) => /^write_files:\s*$/.test(l));
  if (start < 0) return out;
  let cur: { path?: string; content?: string; encoding?: string; permissions?: string } | undefined;
  const flush = () => {
    if (cur?.path && cur.content !== undefined) {
      const content = cur.encoding === "b64" || cur.encoding === "base64" ? Buffer.from(cur.content, "base64") : Buffer.from(cur.content, "utf8");
      out.push({ path: cur.path, content, permissions: cur.permissions ? parseInt(cur.permissions, 8) : 0o644 });
    }
  };
  for (const line of lines.slice(start + 1)) {
    if (line.trim() === "" || line.trim().startsWith("#")) continue;
    if (!/^\s/.test(line) && !line.startsWith("-")) break;
    const m = /^\s*(-\s+)?(\w+):\s*(.*)$/.exec(line);
    if (!m) continue;
    if (m[1]) {
      flush();
      cur = {};
    }
    if (!cur) continue;
    const value = unquote(m[3] ?? "");
    if (m[2] === "path") cur.path = value;
    else if (m[2] === "content") cur.content = value;
    else if (m[2] === "encoding") cur.encoding = value;
    else if (m[2] === "permissions") cur.permissions = value;
  }
  flush();
  return out;
}

/** `runcmd` entries written as one double-quoted string each. */
export function parseRunCmd(cloudInit: string): string[] {
  const lines = cloudInit.split(/\r?\n/);
  const start = lines.findIndex((l) => /^runcmd:\s*$/.test(l));
  if (start < 0) return [];
  const out: string[] = [];
  for (const line of lines.slice(start + 1)) {
    if (line.trim() === "" || line.trim().startsWith("#")) continue;
    if (!/^\s/.test(line) && !line.startsWith("-")) break;
    const m = /^\s*-\s+(.*)$/.exec(line);
    if (m) out.push(m[1]!.startsWith('"') ? (JSON.parse(m[1]!) as string) : m[1]!);
  }
  return out;
}

export type Unit = { execStart: string[]; environment: Record<string, string>; restart: boolean; restartSec: number };

export function parseUnit(text: string): Unit {
  const unit: Unit = { execStart: [], environment: {}, restart: false, restartSec: 0.1 };
  for (const raw of text.split(/\r?\n/)) {
    const m = /^\s*(\w+)\s*=\s*(.*)$/.exec(raw);
    if (!m) continue;
    const [, k, v] = m as unknown as [string, string, string];
    if (k === "ExecStart") unit.execStart = v.trim().split(/\s+/);
    else if (k === "Environment") {
      const [name, ...rest] = unquote(v.trim()).split("=");
      if (name) unit.environment[name] = rest.join("=");
    } else if (k === "Restart") unit.restart = v.trim() === "always" || v.trim() === "on-failure";
    else if (k === "RestartSec") unit.restartSec = Number(v) || 0.1;
  }
  return unit;
}

const unquote = (s: string) => s.trim().replace(/^(['"])(.*)\1$/, "$2");

/** Per running VM: its boot generation (a restart after power off must not revive old services). */
const boots = new Map<string, number>();

/** Boots the VM's init: files, first-boot commands, services. Errors go to the emulator log. */
export async function bootVm(ctx: Ctx, vm: VmRecord): Promise<void> {
  const name = String(vm.body.name);
  const vmKey = key(vm.id);
  const generation = (boots.get(vmKey) ?? 0) + 1;
  boots.set(vmKey, generation);
  const root = ctx.sandbox.vmDir(name);
  const text = vm.cloudInit ?? "";
  const user = String(obj(obj(vm.body.properties)?.osProfile)?.adminUsername ?? "azureuser");
  const home = ctx.sandbox.homeDir(name, user);
  const imdsUrl = ctx.identity.imdsAuthorityHost(name);
  const env: Record<string, string> = {
    ...baseEnv(ctx, vm, home, user),
    HOME: "/root",
    AZURE_POD_IDENTITY_AUTHORITY_HOST: imdsUrl,
    NODE_EXTRA_CA_CERTS: ctx.opts.caCertFile,
    [VM_MARKER_ENV]: root,
  };
  // The VM image's container runtime (Docker on Azure ML VMs; here Podman behind a docker command).
  installDocker(root, ctx.opts.caCertFile, { name: VM_MARKER_ENV, value: root });
  for (const f of parseWriteFiles(text)) {
    const target = inVm(root, f.path);
    if (!target) continue;
    fs.mkdirSync(path.dirname(target), { recursive: true });
    fs.writeFileSync(target, f.content, { mode: f.permissions });
  }
  if (!vm.initDone) {
    for (const cmd of parseRunCmd(text)) {
      if (boots.get(vmKey) !== generation) return;
      const enable = /^systemctl\s+enable\s+--now\s+(\S+)$/.exec(cmd.trim());
      if (enable) {
        vm.enabledUnits = [...new Set([...(vm.enabledUnits ?? []), enable[1]!])];
        continue;
      }
      if (/^systemctl\s+daemon-reload$/.test(cmd.trim())) continue;
      const code = await runShell(ctx, name, cmd, env, root);
      ctx.log(`vm ${name}: runcmd exited ${code}: ${cmd.slice(0, 120)}`);
    }
    vm.initDone = true;
    ctx.store.save();
  }
  for (const unitName of vm.enabledUnits ?? []) startService(ctx, vm, unitName, env, generation);
}

/** The VM is going down: its services are not restarted. */
export function haltVm(_ctx: Ctx, vm: VmRecord): void {
  const vmKey = key(vm.id);
  boots.set(vmKey, (boots.get(vmKey) ?? 0) + 1);
}

function inVm(root: string, p: string): string | undefined {
  const target = path.join(root, path.posix.normalize(p).replace(/^\/+/, ""));
  return target.startsWith(root + path.sep) ? target : undefined;
}

function runShell(ctx: Ctx, vmName: string, cmd: string, env: Record<string, string>, root: string): Promise<number | null> {
  const logDir = path.join(root, "var", "log");
  fs.mkdirSync(logDir, { recursive: true });
  const child = ctx.sandbox.spawnProcess(vmName, "/bin/bash", ["-c", cmd], root, env, path.join(logDir, "cloud-init-output.log"));
  return new Promise((resolve) => child.once("exit", (code) => resolve(code)));
}

function startService(ctx: Ctx, vm: VmRecord, unitName: string, env: Record<string, string>, generation: number): void {
  const name = String(vm.body.name);
  const vmKey = key(vm.id);
  const root = ctx.sandbox.vmDir(name);
  const file = inVm(root, `/etc/systemd/system/${unitName.endsWith(".service") ? unitName : `${unitName}.service`}`);
  if (!file || !fs.existsSync(file)) {
    ctx.log(`vm ${name}: unit ${unitName} not found`);
    return;
  }
  const unit = parseUnit(fs.readFileSync(file, "utf8"));
  if (unit.execStart.length === 0) return;
  const [program, ...args] = unit.execStart as [string, ...string[]];
  const mapped = args.map((a) => {
    const p = a.startsWith("/") ? inVm(root, a) : undefined;
    return p && fs.existsSync(p) ? p : a;
  });
  const logDir = path.join(root, "var", "log");
  fs.mkdirSync(logDir, { recursive: true });
  const child = ctx.sandbox.spawnProcess(name, program, mapped, root, { ...env, ...unit.environment }, path.join(logDir, `${unitName.replace(/\.service$/, "")}.log`));
  ctx.log(`vm ${name}: service ${unitName} started (pid ${child.pid})`);
  child.once("exit", (code, signal) => {
    if (boots.get(vmKey) !== generation || ctx.stopped) return;
    ctx.log(`vm ${name}: service ${unitName} exited (${code ?? signal})${unit.restart ? "; restarting" : ""}`);
    if (unit.restart) setTimeout(() => boots.get(vmKey) === generation && !ctx.stopped && startService(ctx, vm, unitName, env, generation), unit.restartSec * 1000).unref();
  });
}
