// A VM on this machine: DATA_DIR/cloud/vms/<name>/ with home/<adminUsername>, share mounts as
// symlinks where cloud-init asks, and the run-command processes it owns (each in its own
// process group, so killing the VM's processes also kills whatever they started).
import { spawn, type ChildProcess } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { shareMounts } from "./cloudInit";
import { forgetVmRuntime, removeVmContainers } from "./containers";

export const MARKER_ENV = "CLOUD_EMULATOR_RUN";
/** Set on every service process of a VM (value: the VM's folder); whatever they start inherits it. */
export const VM_MARKER_ENV = "CLOUD_EMULATOR_VM";

export class Sandbox {
  private procs = new Map<string, Set<ChildProcess>>();

  constructor(readonly cloudDir: string) {}

  vmDir(vmName: string): string {
    return path.join(this.cloudDir, "vms", vmName.toLowerCase());
  }
  homeDir(vmName: string, user: string): string {
    return path.join(this.vmDir(vmName), "home", user);
  }
  shareDir(account: string, share: string): string {
    return path.join(this.cloudDir, "shares", account.toLowerCase(), share.toLowerCase());
  }

  /** First boot and every start: home, authorized_keys, and the cloud-init share mounts. */
  provision(vmName: string, user: string, authorizedKeys: string[], cloudInit: string | undefined): void {
    const home = this.homeDir(vmName, user);
    fs.mkdirSync(path.join(home, ".ssh"), { recursive: true });
    fs.writeFileSync(path.join(home, ".ssh", "authorized_keys"), authorizedKeys.map((k) => `${k.trim()}\n`).join(""));
    for (const m of shareMounts(cloudInit)) {
      const target = path.join(this.vmDir(vmName), path.posix.normalize(m.target).replace(/^\/+/, ""));
      if (!target.startsWith(this.vmDir(vmName) + path.sep)) continue; // ignore mount points escaping the VM
      const source = path.join(this.shareDir(m.account, m.share), m.subPath);
      fs.mkdirSync(source, { recursive: true });
      fs.mkdirSync(path.dirname(target), { recursive: true });
      const st = fs.lstatSync(target, { throwIfNoEntry: false });
      if (st?.isSymbolicLink()) fs.unlinkSync(target);
      else if (st?.isDirectory() && fs.readdirSync(target).length === 0) fs.rmdirSync(target);
      else if (st) continue; // a real, non-empty path is there: mount would shadow it; leave it
      fs.symlinkSync(source, target, "dir");
    }
  }

  spawn(vmName: string, scriptFile: string, cwd: string, env: NodeJS.ProcessEnv): ChildProcess {
    const child = spawn("/bin/bash", [scriptFile], { cwd, env, detached: true, stdio: ["ignore", "pipe", "pipe"] });
    this.track(vmName, child);
    return child;
  }

  /** A VM process with its output appended to `logFile` (services, cloud-init commands). */
  spawnProcess(vmName: string, program: string, args: string[], cwd: string, env: NodeJS.ProcessEnv, logFile: string): ChildProcess {
    const fd = fs.openSync(logFile, "a");
    try {
      const child = spawn(program, args, { cwd, env, detached: true, stdio: ["ignore", fd, fd] });
      this.track(vmName, child);
      return child;
    } finally {
      fs.closeSync(fd);
    }
  }

  private track(vmName: string, child: ChildProcess): void {
    const k = vmName.toLowerCase();
    const set = this.procs.get(k) ?? new Set();
    set.add(child);
    this.procs.set(k, set);
    child.once("exit", () => set.delete(child));
    child.once("error", () => set.delete(child));
  }

  killGroup(child: ChildProcess): void {
    if (child.pid === undefined) return;
    try {
      process.kill(-child.pid, "SIGKILL");
    } catch {
      // the group is already gone
    }
  }

  /** Power-off semantics: every process of the VM dies at once. */
  killAll(vmName: string): void {
    for (const child of this.procs.get(vmName.toLowerCase()) ?? []) this.killGroup(child);
    // Processes that left their parent's group (the agent starts each job as its own group).
    killMarked(VM_MARKER_ENV, new Set([this.vmDir(vmName)]));
    this.removeContainers(this.vmDir(vmName));
  }

  /** Containers of jobs are the VM's processes too (only VMs that ever ran one have a store). */
  private removeContainers(vmDir: string): void {
    if (fs.existsSync(path.join(vmDir, "var", "lib", "containers"))) removeVmContainers(vmDir);
    forgetVmRuntime(vmDir); // the runtime's /run state goes with the power, as on a VM
  }

  running(vmName: string): number {
    return this.procs.get(vmName.toLowerCase())?.size ?? 0;
  }

  remove(vmName: string): void {
    this.killAll(vmName);
    fs.rmSync(this.vmDir(vmName), { recursive: true, force: true });
  }

  stopAll(): void {
    for (const set of this.procs.values()) for (const c of set) this.killGroup(c);
    killMarked(VM_MARKER_ENV, new Set([...this.procs.keys()].map((vm) => this.vmDir(vm))));
    for (const vm of this.procs.keys()) this.removeContainers(this.vmDir(vm));
  }
}

/**
 * After a restart: kill leftover processes of runs that died with the previous emulator.
 * Only processes carrying one of our run markers in their environment are touched.
 */
export function killOrphans(markers: Set<string>): number {
  return killMarked(MARKER_ENV, markers);
}

/** Kills every process whose environment has `name` set to one of `values`. */
export function killMarked(name: string, values: Set<string>): number {
  if (values.size === 0 || !fs.existsSync("/proc")) return 0;
  const markers = values;
  let killed = 0;
  for (const entry of fs.readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    let environ: string;
    try {
      environ = fs.readFileSync(`/proc/${entry}/environ`, "latin1");
    } catch {
      continue;
    }
    const m = new RegExp(`(?:^|\\0)${name}=([^\\0]+)`).exec(environ);
    if (m && markers.has(m[1])) {
      try {
        process.kill(Number(entry), "SIGKILL");
        killed++;
      } catch {
        // exited meanwhile
      }
    }
  }
  return killed;
}
