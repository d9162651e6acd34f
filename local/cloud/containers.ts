// The container runtime of the emulator's VMs. An Azure ML VM has Docker (with the NVIDIA
// container toolkit) at /usr/bin/docker; here each VM gets a `docker` command at that path that
// speaks the part of Docker's CLI the job agent uses (image inspect, login, pull, run, stop, rm) over
// Debian's Podman (daemonless), with the VM's own image store on the VM's disk, so images are
// cached per VM and a new VM pulls again, as on Azure. Podman needs runc here: crun refuses this
// machine's hybrid cgroup layout. What it isolates, and what it does not, is in the README.
import { execFileSync } from "node:child_process";
import crypto from "node:crypto";
import fs from "node:fs";
import path from "node:path";

let available: boolean | undefined;

/** Whether Podman and runc are on this machine (checked once). */
export function containerRuntimeAvailable(): boolean {
  if (available === undefined) {
    try {
      execFileSync("sh", ["-c", "command -v podman && command -v runc"], { stdio: "ignore" });
      available = true;
    } catch {
      available = false;
    }
  }
  return available;
}

/** The VM's `docker`, as a path on the VM. */
export const VM_DOCKER = "/usr/bin/docker";

/** Podman's run folder for a VM: short (Podman refuses a runroot over 50 characters), on tmpfs as a VM's /run is. */
function runRoot(vmRoot: string): string {
  return `/run/ci-vm/${crypto.createHash("sha256").update(vmRoot).digest("hex").slice(0, 16)}`;
}

/** Writes the VM's `docker` (every boot); nothing when Podman is missing (container jobs then fail with "not on this VM"). */
export function installDocker(vmRoot: string, caCertFile: string, vmMarker: { name: string; value: string }): void {
  if (!containerRuntimeAvailable()) return;
  const certDir = path.join(vmRoot, "etc", "docker", "certs.d", "cloud-emulator");
  fs.mkdirSync(certDir, { recursive: true });
  // The VM trusts the emulator's CA (as Azure VMs trust Azure's), also for the registry.
  fs.copyFileSync(caCertFile, path.join(certDir, "ca.crt"));
  const file = path.join(vmRoot, VM_DOCKER.slice(1));
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, shim(vmRoot, runRoot(vmRoot), certDir, vmMarker), { mode: 0o755 });
}

/** Power off / delete: the VM's containers go with it (their processes carry the VM marker too). */
export function removeVmContainers(vmRoot: string): void {
  const docker = path.join(vmRoot, VM_DOCKER.slice(1));
  if (!fs.existsSync(docker)) return;
  try {
    execFileSync(docker, ["rm", "--force", "--all"], { stdio: "ignore", timeout: 30_000 });
  } catch {
    // nothing to remove, or the store is gone
  }
}

/** After the VM's disk is deleted: its Podman run folder too. */
export function forgetVmRuntime(vmRoot: string): void {
  fs.rmSync(runRoot(vmRoot), { recursive: true, force: true });
}

const q = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;

function shim(vmRoot: string, runroot: string, certDir: string, marker: { name: string; value: string }): string {
  return `#!/bin/bash
# This VM's docker (written by the cloud emulator): Docker's CLI as the job agent uses it, over Podman.
P=(podman --root ${q(path.join(vmRoot, "var/lib/containers/storage"))} --runroot ${q(runroot)} --runtime runc --cgroup-manager cgroupfs --events-backend file)
# Docker keeps registry credentials in $DOCKER_CONFIG/config.json (default ~/.docker): this VM's
# own, never the machine's (Podman's default auth file is shared by every VM here).
D=${q(path.join(vmRoot, "root", ".docker"))}
AUTH="\${DOCKER_CONFIG:-$D}/config.json"
auth() { [ -s "$AUTH" ] || { mkdir -p -m 700 "$(dirname "$AUTH")" && echo '{"auths":{}}' >"$AUTH"; }; }
sub="$1"; shift
case "$sub" in
  pull)
    # The registry's certificate is the emulator's (HTTPS, as ACR).
    auth; exec "\${P[@]}" pull --authfile "$AUTH" --cert-dir ${q(certDir)} "$@" ;;
  login)
    auth; exec "\${P[@]}" login --authfile "$AUTH" --cert-dir ${q(certDir)} "$@" ;;
  logout)
    auth; exec "\${P[@]}" logout --authfile "$AUTH" "$@" ;;
  run)
    # --gpus "device=1,2" as Docker with the NVIDIA toolkit does it: only those GPUs in the
    # container, named in NVIDIA_VISIBLE_DEVICES (this machine has none to pass through).
    # This sandbox cannot raise rlimits (no CAP_SYS_RESOURCE): the container gets the caller's
    # open-files limit and a process limit runc can set, where Podman's defaults are higher.
    args=(run --ulimit "nofile=$(ulimit -n):$(ulimit -Hn)" --ulimit nproc=4096:4096 -e ${q(`${marker.name}=${marker.value}`)})
    while [ $# -gt 0 ]; do
      case "$1" in
        --gpus) g="\${2//\\"/}"; args+=(-e "NVIDIA_VISIBLE_DEVICES=\${g#device=}"); shift 2 ;;
        --name|-v|--volume|-w|--workdir|-e|--env) args+=("$1" "$2"); shift 2 ;;
        -*) args+=("$1"); shift ;;
        *) break ;;
      esac
    done
    exec "\${P[@]}" "\${args[@]}" "$@" ;;
  *)
    exec "\${P[@]}" "$sub" "$@" ;;
esac
`;
}
