// The emulator as `npm start` runs it (dist/local/cloud/main.js), killed hard mid-run, then
// restarted on the same data: resources and run-command records survive, the lost run ends
// Failed, its orphaned process is killed, and the TLS certificate is reused.
import { spawn, type ChildProcess } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import type { CloudEmulator } from "../../local/cloud/emulator";
import { computeClient, type EmulatorEndpoint } from "./clients";
import { TokenIssuer } from "../../local/cloud/identity/issuer";
import { DEFAULT_TENANT_ID, OPERATOR } from "../../local/cloud/identity/service";
import { createVm, LOCATION, RG, startTestCloud, SUB, SUBNET_ID } from "./support";

const root = path.resolve(__dirname, "../..");
let child: ChildProcess | undefined;
let emu: CloudEmulator | undefined;
afterAll(async () => {
  child?.kill("SIGKILL");
  await emu?.stop();
});

function startMain(dataDir: string): Promise<number> {
  child = spawn(process.execPath, [path.join(root, "dist/local/cloud/main.js")], {
    env: {
      ...process.env, DATA_DIR: dataDir, CLOUD_PORT: "0", CLOUD_LATENCY_PROFILE: "none", AZURE_SUBSCRIPTION_ID: SUB,
      AZURE_RESOURCE_GROUP: RG, AZURE_LOCATION: LOCATION, ALLOWED_SUBNET_IDS: SUBNET_ID, QUOTA_VCPUS_PER_FAMILY: "{}",
    },
    stdio: ["ignore", "pipe", "pipe"],
  });
  return new Promise((resolve, reject) => {
    let out = "";
    child!.stdout!.on("data", (c: Buffer) => {
      out += c.toString();
      const m = /listening on https:\/\/127\.0\.0\.1:(\d+)/.exec(out);
      if (m) resolve(Number(m[1]));
    });
    child!.stderr!.on("data", (c: Buffer) => (out += c.toString()));
    child!.once("exit", (code) => reject(new Error(`emulator exited (${code}): ${out}`)));
  });
}

const alive = (pid: number) => {
  try {
    return !/^\d+ \(.*\) Z/.test(fs.readFileSync(`/proc/${pid}/stat`, "utf8"));
  } catch {
    return false;
  }
};

describe("restart", () => {
  it("keeps VMs and run-command records across a hard kill; the lost run ends Failed and its process is killed", async () => {
    const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "cloud-restart-"));
    const port = await startMain(dataDir);
    const certFile = path.join(dataDir, "cloud", "tls", "cert.pem");
    const cert = fs.readFileSync(certFile, "utf8");
    // Tokens signed with the key the emulator keeps in its data dir, for the deploying operator.
    const issuer = new TokenIssuer(DEFAULT_TENANT_ID, path.join(dataDir, "cloud", "identity"));
    const token = (audience: string) => issuer.issue({ principal: OPERATOR, audience }).token;
    const e: EmulatorEndpoint = {
      url: `https://127.0.0.1:${port}`, token: token("https://management.azure.com"), storageToken: token("https://storage.azure.com"), caCertPem: cert, subscriptionId: SUB,
    };
    await createVm(e, "survivor");
    const c = computeClient(e);
    await c.virtualMachineRunCommands.createOrUpdate(RG, "survivor", "done", { location: LOCATION, source: { script: "echo finished" } }, { updateIntervalInMs: 20 });
    await c.virtualMachineRunCommands.createOrUpdate(RG, "survivor", "lost", { location: LOCATION, source: { script: "sleep 60" }, asyncExecution: true }, { updateIntervalInMs: 20 });
    await new Promise((r) => setTimeout(r, 300)); // let the state file catch up
    const saved = JSON.parse(fs.readFileSync(path.join(dataDir, "cloud", "state.json"), "utf8")) as { runCommands: Record<string, { pid?: number }> };
    const pid = Object.entries(saved.runCommands).find(([k]) => k.endsWith("/lost"))![1].pid!;
    expect(alive(pid)).toBe(true);
    child!.kill("SIGKILL");
    await new Promise((r) => child!.once("exit", r));
    child = undefined;

    const restarted = await startTestCloud({ dataDir });
    emu = restarted.emu;
    expect(emu.caCertPem).toBe(cert);
    const c2 = computeClient(restarted.endpoint);
    const vm = await c2.virtualMachines.get(RG, "survivor", { expand: "instanceView" });
    expect(vm.instanceView?.statuses?.map((s) => s.code)).toContain("PowerState/running");
    const done = await c2.virtualMachineRunCommands.getByVirtualMachine(RG, "survivor", "done", { expand: "instanceView" });
    expect([done.instanceView?.executionState, done.instanceView?.output]).toEqual(["Succeeded", "finished\n"]);
    const lost = await c2.virtualMachineRunCommands.getByVirtualMachine(RG, "survivor", "lost", { expand: "instanceView" });
    expect(lost.instanceView?.executionState).toBe("Failed");
    expect(lost.instanceView?.executionMessage).toContain("restarted");
    expect(alive(pid)).toBe(false);
  });
});
