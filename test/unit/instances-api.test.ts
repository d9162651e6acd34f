// Unit tests of what the instance API and workflows add on top of shared/: the response view,
// the activity outcome encoding, the orchestrator's reading of failures, and the VM's
// cloud-init and setup wrapper (no secrets).
import { describe, expect, test } from "vitest";
import { spawnSync } from "node:child_process";
import path from "node:path";
import { INSTALL_CODE_SERVER, INSTALL_NODE, SETUP_WRAPPER, cloudInit } from "../../orchestrations/instances/cloudInit";
import { parseRunCmd } from "../../local/cloud/vmInit";
import { asOutcome } from "../../orchestrations/instances/outcome";
import { toStepError } from "../../orchestrations/instances/steps";
import { toInstanceResponse } from "../../functions/instanceView";
import { CloudError, ConflictError, QuotaExceededError } from "../../shared/errors";
import type { InstanceRecord } from "../../shared/instances/record";
import { instanceResponse } from "../../shared/schemas/instance";
import { shareMounts } from "../../local/cloud/cloudInit";

const base: InstanceRecord = {
  name: "Alice-1", state: "Running", vmSize: "Standard_D2s_v5", family: "standardDSv5Family", vCpus: 2, gpus: 0, memoryGb: 8,
  assignedUser: "alice", createdBy: "admin", createdAt: "2025-01-06T08:00:00.000Z", updatedAt: "2025-01-06T08:00:00.000Z",
  sshPublicAccess: "Disabled", subnetId: "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Network/virtualNetworks/v/subnets/c",
  enablePublicIp: false, idleShutdownMinutes: 60, schedules: [], jobsPerCore: 2, tags: {}, jobs: { queued: 0, running: 0, cap: 4 }, requestHash: "h",
};

describe("toInstanceResponse", () => {
  const now = new Date("2025-01-06T08:30:00Z");
  test.each([
    ["ssh disabled, private IP", { privateIp: "10.0.0.4" }, { publicAccess: "Disabled", adminUserName: "azureuser" }, 4],
    ["ssh enabled, private IP", { sshPublicAccess: "Enabled" as const, privateIp: "10.0.0.4" }, { publicAccess: "Enabled", adminUserName: "azureuser", address: "10.0.0.4", port: 22 }, 4],
    ["ssh enabled, public IP wins", { sshPublicAccess: "Enabled" as const, privateIp: "10.0.0.4", publicIp: "198.18.0.9" }, { publicAccess: "Enabled", adminUserName: "azureuser", address: "198.18.0.9", port: 22 }, 4],
    ["no address yet", {}, { publicAccess: "Disabled", adminUserName: "azureuser" }, 4],
  ])("%s", (_n, over, ssh, apps) => {
    const view = toInstanceResponse({ ...base, ...over }, now, { idleShutdownMinMinutes: 15 });
    expect(instanceResponse.strict().safeParse(view).error).toBeUndefined();
    expect(view.ssh).toEqual(ssh);
    expect(view.applications).toHaveLength(apps);
  });

  test("autoStop explains why a Running instance without activity is not idle", () => {
    const view = toInstanceResponse({ ...base, privateIp: "10.0.0.4" }, now, { idleShutdownMinMinutes: 15 });
    expect(view.autoStop?.notIdleBecause).toContain("no activity recorded yet");
    const active = toInstanceResponse({ ...base, lastActivityAt: "2025-01-06T08:20:00.000Z" }, now, { idleShutdownMinMinutes: 15 });
    expect(active.autoStop?.idleShutdownAt).toBe("2025-01-06T09:20:00.000Z");
  });

  test("applications: what the agent reported, with the proxy's URL only where one is available", () => {
    const none = toInstanceResponse({ ...base, privateIp: "10.0.0.4" }, now, { idleShutdownMinMinutes: 15 }).applications;
    expect(none.map((a) => [a.name, a.state])).toEqual([["terminal", "Unavailable"], ["jupyter", "Unavailable"], ["jupyterlab", "Unavailable"], ["vscode", "Unavailable"]]);
    const agentApps = { proxyUrl: "http://10.0.0.4:8890", applications: [{ name: "terminal", state: "Available" as const }, { name: "jupyter", state: "NotInstalled" as const, message: "Jupyter is not installed on this machine." }] };
    const apps = toInstanceResponse({ ...base, agentApps }, now, { idleShutdownMinMinutes: 15 }).applications;
    expect(apps[0]).toEqual({ name: "terminal", title: "Terminal", state: "Available", url: "http://10.0.0.4:8890/terminal/" });
    expect(apps[1]).toMatchObject({ name: "jupyter", state: "NotInstalled", message: "Jupyter is not installed on this machine." });
    expect(apps[1]!.url).toBeUndefined();
    expect(toInstanceResponse({ ...base, state: "Stopped", agentApps }, now, { idleShutdownMinMinutes: 15 }).applications[0]).toMatchObject({ state: "Unavailable", message: "The instance is Stopped." });
  });
});

describe("activity outcomes", () => {
  test.each([
    ["success", async () => 5, { ok: true, value: 5 }],
    ["business failure comes back as data", async () => { throw new QuotaExceededError({ family: "f", used: 1, limit: 1, requested: 1, scope: "workspace" }); }, { ok: false, error: { code: "QuotaExceeded" } }],
    ["non-retryable conflict", async () => { throw new ConflictError("x", { retryable: false }); }, { ok: false, error: { code: "Conflict" } }],
  ])("%s", async (_n, run, expected) => {
    expect(await asOutcome(run)).toMatchObject(expected);
  });

  test.each([
    ["transient cloud error", new CloudError("TooManyRequests", "slow down", { httpStatus: 429 }), "[TooManyRequests] slow down"],
    ["unknown error", new TypeError("bug"), "[InternalError] bug"],
  ])("%s throws [Code] message for retries", async (_n, err, message) => {
    await expect(asOutcome(async () => { throw err; })).rejects.toThrow(message);
  });

  test.each([
    ["[TooManyRequests] slow down \n stack", "TooManyRequests", "slow down"],
    ["Activity function 'x' failed: [InternalServerError] boom\nat ...", "InternalServerError", "boom"],
    ["plain failure\nmore", "InternalError", "plain failure"],
  ])("toStepError(%j)", (text, code, message) => {
    const e = toStepError(new Error(text));
    expect([e.code, e.message]).toEqual([code, message]);
  });
});

describe("what the VM gets", () => {
  test("cloud-init mounts the share over NFS at the documented path, with no secret", () => {
    const text = cloudInit("wslocalfiles", "workspace");
    expect(shareMounts(text)).toEqual([{ account: "wslocalfiles", share: "workspace", subPath: "", target: "/home/azureuser/cloudfiles/code" }]);
    expect(text).not.toMatch(/key|password|sig=|credentials/i);
  });

  test("with the agent, cloud-init installs code-server after the agent is up, and not in the emulator", () => {
    const agent = { appUrl: "https://app.example", appAudience: "api://x", queueUrl: "https://q.example/q", instance: "i1", user: "alice", heartbeatSeconds: 30, signalsSeconds: 60, proxyPort: 8890, inputRecentSeconds: 300 };
    const cmds = parseRunCmd(cloudInit("wslocalfiles", "workspace", agent));
    expect(cmds.indexOf(INSTALL_CODE_SERVER)).toBeGreaterThan(cmds.findIndex((c) => c.startsWith("systemctl enable --now")));
    expect(parseRunCmd(cloudInit("wslocalfiles", "workspace"))).not.toContain(INSTALL_CODE_SERVER);
    // As cloud-init runs it (sh). The emulator's VMs are this machine's directories: with VM_ROOT set nothing is fetched.
    const local = spawnSync("/bin/sh", ["-c", INSTALL_CODE_SERVER], { env: { VM_ROOT: "/nonexistent", PATH: "" }, encoding: "utf8" });
    expect([local.status, local.stderr]).toEqual([0, ""]);
    const azure = spawnSync("/bin/sh", ["-c", INSTALL_CODE_SERVER], { env: { PATH: "" }, encoding: "utf8" });
    expect(azure.stderr).toMatch(/curl|code-server not installed/);
  });

  test("with the agent, cloud-init installs Node.js before the agent starts where the image lacks it, and not in the emulator", () => {
    const agent = { appUrl: "https://app.example", appAudience: "api://x", queueUrl: "https://q.example/q", instance: "i1", user: "alice", heartbeatSeconds: 30, signalsSeconds: 60, proxyPort: 8890, inputRecentSeconds: 300 };
    const cmds = parseRunCmd(cloudInit("wslocalfiles", "workspace", agent));
    expect(cmds.indexOf(INSTALL_NODE)).toBeGreaterThanOrEqual(0);
    expect(cmds.indexOf(INSTALL_NODE)).toBeLessThan(cmds.findIndex((c) => c.startsWith("systemctl enable --now")));
    // This machine's Node.js (≥ 20) is enough: nothing is fetched.
    const present = spawnSync("/bin/sh", ["-c", INSTALL_NODE], { env: { PATH: path.dirname(process.execPath) + ":/usr/bin:/bin" }, encoding: "utf8" });
    expect([present.status, present.stderr]).toEqual([0, ""]);
    const local = spawnSync("/bin/sh", ["-c", INSTALL_NODE], { env: { VM_ROOT: "/nonexistent", PATH: "" }, encoding: "utf8" });
    expect([local.status, local.stderr]).toEqual([0, ""]);
    // No Node.js and no network tools: it says the agent cannot start.
    const bare = spawnSync("/bin/sh", ["-c", INSTALL_NODE], { env: { PATH: "" }, encoding: "utf8" });
    expect(bare.stderr).toMatch(/Node\.js v\d+\.\d+\.\d+ not installed: the job agent cannot start/);
  });

  test("the setup wrapper logs to Logs/<instance> on the share and carries no secret", () => {
    expect(SETUP_WRAPPER).toContain('LOG_DIR="$SHARE/Logs/$CI_NAME"');
    expect(SETUP_WRAPPER).not.toMatch(/AccountKey|sig=|password/i);
  });
});
