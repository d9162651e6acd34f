// The workstation side of the agent (busy signals, the application proxy): its settings, from
// the same systemd unit environment as the job agent's (agent/config.ts). VM paths get VM_ROOT,
// set only by the local cloud emulator, whose VMs are directories.
import path from "node:path";

export type WorkstationConfig = {
  /** How often busy signals are reported (the app's answer may change it). */
  signalsMs: number;
  /** The optional custom probe: exit 0 = busy (first stdout line says why), 1 = not busy. */
  probePath: string;
  /** GPU utilisation at or above this counts as use. */
  gpuBusyPercent: number;
  /** Input on a session (terminal keys, notebook edits) within this counts as use; a connection alone does not. */
  inputRecentMs: number;
  /** Where the proxy listens: the VM's private address (IMDS on Azure), port (0 = any free one). */
  proxyPort: number;
  /** The VM's root ("" on Azure), the user applications run as, and their home (they start there). */
  root: string;
  user: string;
  home: string;
};

export const PROBE_PATH = "/etc/ci-agent/busy-probe";

export function readWorkstationConfig(env: NodeJS.ProcessEnv): WorkstationConfig {
  const root = env.VM_ROOT ?? "";
  const num = (name: string, fallback: number, min: number): number => {
    const raw = env[name];
    const n = raw === undefined || raw === "" ? NaN : Number(raw);
    return Number.isFinite(n) && n >= min ? n : fallback;
  };
  return {
    signalsMs: num("CI_AGENT_SIGNALS_SECONDS", 60, 1) * 1000,
    probePath: path.join(root || "/", env.CI_AGENT_PROBE_PATH || PROBE_PATH),
    gpuBusyPercent: num("CI_AGENT_GPU_BUSY_PERCENT", 10, 0),
    inputRecentMs: num("CI_AGENT_INPUT_RECENT_SECONDS", 300, 1) * 1000,
    proxyPort: num("CI_AGENT_PROXY_PORT", 8890, 0),
    root,
    user: env.CI_ADMIN_USER || "azureuser",
    home: path.join(root || "/", "home", env.CI_ADMIN_USER || "azureuser"),
  };
}
