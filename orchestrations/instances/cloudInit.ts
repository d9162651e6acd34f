// What the VM runs: cloud-init that mounts the workspace share, and the wrapper every setup
// script runs in. No secret appears in either: the share is mounted over NFS 4.1 (Azure Files
// premium NFS shares authorise by network — the VM's subnet — not by a storage key), and a
// script's output goes to the share itself under Logs/<instance>/.

export const SHARE_MOUNT_POINT = "/home/azureuser/cloudfiles/code";

export function cloudInit(account: string, share: string): string {
  return [
    "#cloud-config",
    "packages: [nfs-common]",
    "mounts:",
    `  - [ "${account}.file.core.windows.net:/${account}/${share}", "${SHARE_MOUNT_POINT}", "nfs", "vers=4,minorversion=1,sec=sys,nofail,_netdev", "0", "0" ]`,
    "",
  ].join("\n");
}

/**
 * Runs as root through a run command. Waits (bounded) for the mount, keeps the log on the
 * share, runs the user's script (base64 in CI_SCRIPT_B64) in the user's folder, and ends with
 * the log's tail so the run command output carries it too. `VM_ROOT` is set only by the local
 * emulator, whose VMs are directories; on Azure it is empty.
 */
export const SETUP_WRAPPER = `#!/bin/bash
set -uo pipefail
SHARE="\${VM_ROOT:-}${SHARE_MOUNT_POINT}"
for _ in $(seq 1 120); do [ -d "$SHARE/Users" ] && break; sleep 1; done
if [ ! -d "$SHARE/Users" ]; then echo "the workspace share is not mounted at ${SHARE_MOUNT_POINT}" >&2; exit 90; fi
LOG_DIR="$SHARE/Logs/$CI_NAME"
mkdir -p "$LOG_DIR" "$SHARE/Users/$CI_USER"
LOG="$LOG_DIR/$CI_SCRIPT_KIND-$CI_OPERATION_ID.log"
export CI_SHARE="$SHARE"
stamp() { date -u +%Y-%m-%dT%H:%M:%SZ; }
if [ -n "\${CI_SSH_PUBLIC_KEY:-}" ]; then
  # The key can be replaced after create (PATCH sshPublicKey): install the current one.
  SSH_DIR="\${VM_ROOT:-}/home/azureuser/.ssh"
  mkdir -p "$SSH_DIR" && printf '%s\\n' "$CI_SSH_PUBLIC_KEY" >"$SSH_DIR/authorized_keys" && chmod 600 "$SSH_DIR/authorized_keys"
  [ -z "\${VM_ROOT:-}" ] && chown -R azureuser: "$SSH_DIR" 2>/dev/null
  echo "[$(stamp)] $CI_SCRIPT_KIND: SSH key installed" >>"$LOG"
fi
if [ -z "\${CI_SCRIPT_B64:-}" ]; then echo "[$(stamp)] $CI_SCRIPT_KIND: share mounted, no script" >>"$LOG"; exit 0; fi
SCRIPT="$(mktemp)"
printf '%s' "$CI_SCRIPT_B64" | base64 -d >"$SCRIPT"
echo "[$(stamp)] $CI_SCRIPT_KIND script started" >>"$LOG"
(cd "$SHARE/Users/$CI_USER" && bash "$SCRIPT") >>"$LOG" 2>&1
rc=$?
rm -f "$SCRIPT"
echo "[$(stamp)] $CI_SCRIPT_KIND script exited with $rc" >>"$LOG"
tail -c 3000 "$LOG"
exit $rc
`;

/** Seconds the wrapper may wait for the mount before the user's script starts. */
export const MOUNT_WAIT_SECONDS = 120;
