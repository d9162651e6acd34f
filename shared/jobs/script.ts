// The run-command script of a job. The platform variables arrive as run-command parameters
// (environment variables); the command itself is the script body after a fixed prologue, so
// the resource shows what runs. `VM_ROOT` is the local emulator's VM root (unset on Azure), so
// the same script finds the mounted share in both worlds.

/** Where the workspace share is mounted inside every VM (Azure ML's layout). */
export const SHARE_MOUNT_POINT = "/home/azureuser/cloudfiles/code";

export function jobScript(command: string): string {
  return [
    "#!/bin/bash",
    'export CI_SHARE="${VM_ROOT:-}${CI_SHARE}"',
    'JOB_DIR="${CI_SHARE}/Users/${CI_USER}"',
    'mkdir -p "$JOB_DIR" && cd "$JOB_DIR" || { echo "cannot enter $JOB_DIR" >&2; exit 125; }',
    command,
    "",
  ].join("\n");
}

export function jobParameters(p: { jobId: string; instance: string; user: string; gpuIndices: number[] }): Record<string, string> {
  return {
    JOB_ID: p.jobId,
    CI_NAME: p.instance,
    CI_USER: p.user,
    CI_SHARE: SHARE_MOUNT_POINT,
    // Always set: an empty value hides every GPU from a CPU job on a GPU machine.
    CUDA_VISIBLE_DEVICES: p.gpuIndices.join(","),
  };
}
