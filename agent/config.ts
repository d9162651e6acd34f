// The agent's settings, read once from its environment (the systemd unit's Environment= lines,
// written by the VM's cloud-init). `VM_ROOT` is set only by the local cloud emulator, whose VMs
// are directories; every absolute path on the VM is prefixed with it, as the setup wrapper does.
import path from "node:path";

export type AgentConfig = {
  /** The app's base URL, e.g. https://ci-app.azurewebsites.net. */
  appUrl: string;
  /** The token audience of the app (App Service Authentication's application id URI). */
  appAudience: string;
  /** This instance's own job queue (no SAS: the VM identity holds a role scoped to it). */
  queueUrl: string;
  instance: string;
  user: string;
  /** The share's mount point as jobs see it (VM_ROOT included). */
  share: string;
  /** The share's mount point as a path on the VM (VM_ROOT not included): a container's default working directory is below it. */
  shareOnVm: string;
  /** The container runtime's CLI for jobs with an image (Docker's, or a compatible one). */
  containerRuntime: string;
  /** The workspace's container registry (login server): images from it are pulled with the VM's identity. */
  registry?: string;
  /** Runtime state on tmpfs (/run): the per-pull registry logins. */
  runDir: string;
  /** The journal (OS disk). */
  stateDir: string;
  heartbeatMs: number;
  /** Longest wait between two polls of an empty queue. */
  idlePollMs: number;
};

export const SHARE_MOUNT_POINT = "/home/azureuser/cloudfiles/code";
/** Docker with the NVIDIA container toolkit, as on the ML VM image. */
export const CONTAINER_RUNTIME = "/usr/bin/docker";

export function readConfig(env: NodeJS.ProcessEnv): AgentConfig {
  const need = (name: string): string => {
    const v = env[name]?.trim();
    if (!v) throw new Error(`the agent setting ${name} is missing`);
    return v;
  };
  const root = env.VM_ROOT ?? "";
  const positive = (name: string, fallback: number): number => {
    const n = Number(env[name]);
    return Number.isFinite(n) && n > 0 ? n : fallback;
  };
  return {
    appUrl: need("CI_AGENT_APP_URL").replace(/\/+$/, ""),
    appAudience: need("CI_AGENT_APP_AUDIENCE"),
    queueUrl: need("CI_AGENT_QUEUE_URL"),
    instance: need("CI_NAME"),
    user: need("CI_USER"),
    share: root + (env.CI_SHARE || SHARE_MOUNT_POINT),
    shareOnVm: env.CI_SHARE || SHARE_MOUNT_POINT,
    containerRuntime: root + (env.CI_AGENT_CONTAINER_RUNTIME || CONTAINER_RUNTIME),
    ...(env.CI_AGENT_REGISTRY?.trim() ? { registry: env.CI_AGENT_REGISTRY.trim().toLowerCase() } : {}),
    runDir: path.join(root || "/", "run", "ci-agent"),
    stateDir: path.join(root || "/", env.CI_AGENT_STATE_DIR || "/var/lib/ci-agent"),
    heartbeatMs: positive("CI_AGENT_HEARTBEAT_SECONDS", 30) * 1000,
    idlePollMs: positive("CI_AGENT_IDLE_POLL_MS", 500),
  };
}
