// Who the user's programs run as: azureuser on a VM, where the agent runs as root; the
// emulator's own user locally (VM_ROOT set), where VMs are directories.
import { execFileSync } from "node:child_process";

export type RunAs = { uid?: number; gid?: number };

export function userProcessIdentity(root: string, user: string): RunAs {
  if (root || typeof process.getuid !== "function" || process.getuid() !== 0) return {};
  try {
    const uid = Number(execFileSync("id", ["-u", user], { encoding: "utf8" }).trim());
    const gid = Number(execFileSync("id", ["-g", user], { encoding: "utf8" }).trim());
    return Number.isInteger(uid) && Number.isInteger(gid) ? { uid, gid } : {};
  } catch {
    return {};
  }
}
