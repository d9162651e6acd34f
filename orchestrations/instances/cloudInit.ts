// What the VM runs: cloud-init that mounts the workspace share, and the wrapper every setup
// script runs in. No secret appears in either: the share is mounted over NFS 4.1 (Azure Files
// premium NFS shares authorise by network — the VM's subnet — not by a storage key), and a
// script's output goes to the share itself under Logs/<instance>/.

export const SHARE_MOUNT_POINT = "/home/azureuser/cloudfiles/code";

/** What the job agent needs to know (no secret: it authenticates with the VM's identity). */
export type AgentBoot = {
  appUrl: string;
  appAudience: string;
  queueUrl: string;
  instance: string;
  user: string;
  heartbeatSeconds: number;
  /** The workspace registry's login server: the agent pulls its images with the VM's identity. */
  registry?: string;
  /** How often the agent reports busy signals (AGENT_SIGNALS_SECONDS). */
  signalsSeconds: number;
  /** The application proxy's port (APPS_PROXY_PORT) and what counts as recent input. */
  proxyPort: number;
  inputRecentSeconds: number;
};

export const AGENT_UNIT = "ci-agent.service";
export const AGENT_PATH = "/opt/ci-agent/agent.js";

/**
 * The job agent as a systemd service. KillMode=process: restarting the agent leaves the jobs
 * (each its own process group) running; the next agent adopts them from its journal.
 * Node.js ≥ 20 runs it: the image's, or the one INSTALL_NODE puts there.
 */
export function agentUnit(a: AgentBoot): string {
  const env = (k: string, v: string) => `Environment="${k}=${v.replace(/["\\\n]/g, "")}"`;
  return [
    "[Unit]",
    "Description=Compute instance job agent",
    "After=network-online.target remote-fs.target",
    "Wants=network-online.target",
    "",
    "[Service]",
    env("CI_AGENT_APP_URL", a.appUrl),
    env("CI_AGENT_APP_AUDIENCE", a.appAudience),
    env("CI_AGENT_QUEUE_URL", a.queueUrl),
    env("CI_AGENT_HEARTBEAT_SECONDS", String(a.heartbeatSeconds)),
    ...(a.registry ? [env("CI_AGENT_REGISTRY", a.registry)] : []),
    env("CI_AGENT_SIGNALS_SECONDS", String(a.signalsSeconds)),
    env("CI_AGENT_PROXY_PORT", String(a.proxyPort)),
    env("CI_AGENT_INPUT_RECENT_SECONDS", String(a.inputRecentSeconds)),
    env("CI_NAME", a.instance),
    env("CI_USER", a.user),
    env("CI_SHARE", SHARE_MOUNT_POINT),
    `ExecStart=/usr/bin/env node ${AGENT_PATH}`,
    "Restart=always",
    "RestartSec=1",
    "KillMode=process",
    "",
    "[Install]",
    "WantedBy=multi-user.target",
    "",
  ].join("\n");
}

/** Node.js for the agent, installed where the image has none ≥ 20 (Node 20 left support in April 2026). */
export const NODE_VERSION = "v24.21.0";

/**
 * Puts Node.js NODE_VERSION in /opt/ci-node with a link in /usr/local/bin (first on systemd's
 * default PATH, so the unit's `/usr/bin/env node` finds it) where the image has no Node.js ≥ 20:
 * the agent is one bundled file and needs nothing else. The tarball is checked against the
 * release's SHASUMS256.txt. Never in the local emulator (VM_ROOT set), whose VMs run this
 * machine's Node.js.
 */
export const INSTALL_NODE =
  `[ -n "\${VM_ROOT:-}" ] || [ "$(node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0)" -ge 20 ] || (set -e; ` +
  `case "$(uname -m)" in aarch64) A=arm64;; *) A=x64;; esac; F=node-${NODE_VERSION}-linux-$A.tar.xz; cd /tmp; ` +
  `curl -fsSLO --retry 5 https://nodejs.org/dist/${NODE_VERSION}/$F; ` +
  `curl -fsSL --retry 5 https://nodejs.org/dist/${NODE_VERSION}/SHASUMS256.txt | grep " $F\$" | sha256sum -c -; ` +
  `mkdir -p /opt/ci-node; tar -xJf $F -C /opt/ci-node --strip-components=1; ln -sf /opt/ci-node/bin/node /usr/local/bin/node; rm -f $F) ` +
  `|| echo "Node.js ${NODE_VERSION} not installed: the job agent cannot start" >&2`;

/** code-server (VS Code in the browser), the version cloud-init installs where the image lacks it. */
export const CODE_SERVER_VERSION = "4.139.1";

/**
 * Installs code-server from its release (the project's install script picks the .deb on Ubuntu)
 * where the image has none, after the agent is up: a VM whose network cannot reach the release
 * still boots, and VS Code then says "not installed on this machine". Never in the local emulator
 * (VM_ROOT set), whose VMs are directories of this machine: it reports what this machine has.
 */
export const INSTALL_CODE_SERVER = `[ -n "\${VM_ROOT:-}" ] || command -v code-server >/dev/null || curl -fsSL --retry 5 https://code-server.dev/install.sh | sh -s -- --version ${CODE_SERVER_VERSION} || echo "code-server not installed: VS Code stays unavailable" >&2`;

export function cloudInit(account: string, share: string, agent?: AgentBoot): string {
  const lines = [
    "#cloud-config",
    "packages: [nfs-common]",
    "mounts:",
    `  - [ "${account}.file.core.windows.net:/${account}/${share}", "${SHARE_MOUNT_POINT}", "nfs", "vers=4,minorversion=1,sec=sys,nofail,_netdev", "0", "0" ]`,
  ];
  if (agent) {
    // The agent comes from the app itself (a public file); VM_ROOT is set only in the local emulator.
    const fetch = `mkdir -p "\${VM_ROOT:-}/opt/ci-agent" && curl -fsS --retry 10 --retry-connrefused -o "\${VM_ROOT:-}${AGENT_PATH}" "${agent.appUrl}/api/agent/agent.js"`;
    lines.push(
      "write_files:",
      `  - path: /etc/systemd/system/${AGENT_UNIT}`,
      "    permissions: '0644'",
      "    encoding: b64",
      `    content: ${Buffer.from(agentUnit(agent), "utf8").toString("base64")}`,
      "runcmd:",
      `  - ${JSON.stringify(INSTALL_NODE)}`,
      `  - ${JSON.stringify(fetch)}`,
      `  - ${JSON.stringify("systemctl daemon-reload")}`,
      `  - ${JSON.stringify(`systemctl enable --now ${AGENT_UNIT}`)}`,
      `  - ${JSON.stringify(INSTALL_CODE_SERVER)}`,
    );
  }
  lines.push("");
  return lines.join("\n");
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
