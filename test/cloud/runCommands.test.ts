import fs from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { BlobServiceClient, ContainerSASPermissions, generateBlobSASQueryParameters, StorageSharedKeyCredential } from "@azure/storage-blob";
import type { CloudEmulator } from "../../local/cloud/emulator";
import { DEV_ACCOUNT, DEV_KEY } from "../../local/shared/azurite";
import { startTestAzurite, type AzuriteProcess } from "../support/azurite";
import { armRequest, computeClient, shareServiceClient, type EmulatorEndpoint } from "./clients";
import { cloudConfig, createVm, LOCATION, RG, rcPath, startTestCloud } from "./support";

let emu: CloudEmulator;
let e: EmulatorEndpoint;
let azurite: AzuriteProcess;
const API = "api-version=2024-07-01";
const fast = { updateIntervalInMs: 25 };

beforeAll(async () => {
  [azurite, { emu, endpoint: e }] = await Promise.all([startTestAzurite(), startTestCloud()]);
  const mounts = cloudConfig([["//wslocalfiles.file.core.windows.net/workspace", "/mnt/workspace", "cifs", "nofail,vers=3.0", "0", "0"]]);
  await Promise.all([createVm(e, "rc-cpu", "Standard_D2s_v5", mounts), createVm(e, "rc-gpu", "Standard_NC48ads_A100_v4")]);
});
afterAll(async () => {
  await emu?.stop();
  await azurite?.stop();
});

const run = (vm: string, name: string, script: string, extra: Record<string, unknown> = {}) =>
  computeClient(e).virtualMachineRunCommands.createOrUpdate(RG, vm, name, { location: LOCATION, source: { script }, ...extra }, fast);
const view = async (vm: string, name: string) =>
  (await computeClient(e).virtualMachineRunCommands.getByVirtualMachine(RG, vm, name, { expand: "instanceView" })).instanceView!;
async function until<T>(f: () => Promise<T>, ok: (v: T) => boolean, ms = 15000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await f();
    if (ok(v) || Date.now() > end) return v;
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe("run commands", () => {
  it("runs a script as a real process with parameters as env, HOME/cwd in the VM, protected values never echoed", async () => {
    const rc = await run("rc-cpu", "hello", 'echo "hi $GREETING from $(pwd) home=$HOME"; echo "len=${#SECRET}"; echo oops >&2', {
      parameters: [{ name: "GREETING", value: "there" }], protectedParameters: [{ name: "SECRET", value: "s3cr3t-value" }],
    });
    expect(rc.provisioningState).toBe("Succeeded");
    expect(JSON.stringify(rc)).not.toContain("s3cr3t-value");
    const iv = await view("rc-cpu", "hello");
    const home = path.join(emu.getState().vms.find((v) => v.name === "rc-cpu")!.dir, "home", "azureuser");
    expect(iv.executionState).toBe("Succeeded");
    expect(iv.exitCode).toBe(0);
    expect(iv.output).toBe(`hi there from ${home} home=${home}\nlen=12\n`);
    expect(iv.error).toBe("oops\n");
    expect(iv.startTime).toBeInstanceOf(Date);
    expect(iv.endTime).toBeInstanceOf(Date);
    const raw = await armRequest(e, "GET", `${rcPath("rc-cpu", "hello")}?${API}&$expand=instanceView`);
    expect(raw.body).not.toContain("s3cr3t-value");
    expect(fs.readFileSync(path.join(emu.dataDir, "cloud", "state.json"), "utf8")).not.toContain("s3cr3t-value");
  });

  it("does nothing new on an identical PUT, and re-runs when the body changes", async () => {
    await run("rc-cpu", "counter", "echo run >> $HOME/count.txt");
    await run("rc-cpu", "counter", "echo run >> $HOME/count.txt");
    const home = path.join(emu.getState().vms.find((v) => v.name === "rc-cpu")!.dir, "home", "azureuser");
    expect(fs.readFileSync(path.join(home, "count.txt"), "utf8")).toBe("run\n");
    await run("rc-cpu", "counter", "echo run >> $HOME/count.txt", { parameters: [{ name: "X", value: "1" }] });
    expect(fs.readFileSync(path.join(home, "count.txt"), "utf8")).toBe("run\nrun\n");
  });

  it("reports a failing script as Failed with its exit code, and as a deployment failure when asked", async () => {
    await run("rc-cpu", "fails", "echo bad >&2; exit 3");
    const iv = await view("rc-cpu", "fails");
    expect([iv.executionState, iv.exitCode, iv.error]).toEqual(["Failed", 3, "bad\n"]);
    const err = await run("rc-cpu", "fails-hard", "exit 4", { treatFailureAsDeploymentFailure: true }).then(() => undefined, (x: Error) => x);
    expect(err?.message).toContain("exit code 4");
  });

  it("times out a long script (TimedOut) and cancels a running one on DELETE", async () => {
    await run("rc-cpu", "slow", "sleep 30", { timeoutInSeconds: 1 });
    expect((await view("rc-cpu", "slow")).executionState).toBe("TimedOut");
    const started = await run("rc-cpu", "cancel-me", "echo started; sleep 30", { asyncExecution: true });
    expect(started.provisioningState).toBe("Succeeded");
    await until(() => view("rc-cpu", "cancel-me"), (v) => v.output === "started\n");
    expect((await view("rc-cpu", "cancel-me")).executionState).toBe("Running");
    await computeClient(e).virtualMachineRunCommands.delete(RG, "rc-cpu", "cancel-me", fast);
    expect(emu.getState().runCommands.some((r) => r.id.endsWith("cancel-me"))).toBe(false);
    expect(emu.getState().vms.find((v) => v.name === "rc-cpu")!.processes).toBe(0);
  });

  it("exposes the size's GPUs as CUDA_VISIBLE_DEVICES indices, overridable by a parameter", async () => {
    await run("rc-gpu", "gpus", 'echo "$CUDA_VISIBLE_DEVICES|$GPU_COUNT"');
    expect((await view("rc-gpu", "gpus")).output).toBe("0,1|2\n");
    await run("rc-gpu", "gpus1", 'echo "$CUDA_VISIBLE_DEVICES"', { parameters: [{ name: "CUDA_VISIBLE_DEVICES", value: "1" }] });
    expect((await view("rc-gpu", "gpus1")).output).toBe("1\n");
  });

  it("writes into the mounted workspace share, visible in the share directory and through the Files API", async () => {
    const share = shareServiceClient(e, "wslocalfiles").getShareClient("workspace");
    await share.createIfNotExists({ quota: 100 });
    await run("rc-cpu", "share-write", 'mkdir -p "$VM_ROOT/mnt/workspace/Users/alice" && echo "from vm" > "$VM_ROOT/mnt/workspace/Users/alice/hello.txt"');
    expect((await view("rc-cpu", "share-write")).executionState).toBe("Succeeded");
    const shareDir = emu.getState().shares.find((s) => s.name === "workspace")!.dir;
    expect(fs.readFileSync(path.join(shareDir, "Users", "alice", "hello.txt"), "utf8")).toBe("from vm\n");
    const file = share.getDirectoryClient("Users/alice").getFileClient("hello.txt");
    expect((await file.downloadToBuffer()).toString()).toBe("from vm\n");
  });

  it("streams output and error to SAS blob URLs in Azurite", async () => {
    const blobs = BlobServiceClient.fromConnectionString(azurite.connectionString);
    const container = blobs.getContainerClient("runlogs");
    await container.createIfNotExists();
    const sas = generateBlobSASQueryParameters({
      containerName: "runlogs", permissions: ContainerSASPermissions.parse("racw"), expiresOn: new Date(Date.now() + 3600_000),
    }, new StorageSharedKeyCredential(DEV_ACCOUNT, DEV_KEY)).toString();
    const url = (name: string) => `${container.getBlockBlobClient(name).url}?${sas}`;
    await run("rc-cpu", "to-blob", "for i in 1 2 3; do echo line $i; done; echo warn >&2", { outputBlobUri: url("out.txt"), errorBlobUri: url("err.txt") });
    expect((await container.getBlobClient("out.txt").downloadToBuffer()).toString()).toBe("line 1\nline 2\nline 3\n");
    expect((await container.getBlobClient("err.txt").downloadToBuffer()).toString()).toBe("warn\n");
  });

  it("ends running commands as Failed when the VM is deallocated, and refuses new ones while it is down", async () => {
    await run("rc-cpu", "long", "sleep 30", { asyncExecution: true });
    await until(() => view("rc-cpu", "long"), (v) => v.executionState === "Running");
    await computeClient(e).virtualMachines.deallocate(RG, "rc-cpu", fast);
    const iv = await until(() => view("rc-cpu", "long"), (v) => v.executionState !== "Running");
    expect(iv.executionState).toBe("Failed");
    expect(iv.executionMessage).toContain("deallocated");
    const err = await run("rc-cpu", "while-down", "true").then(() => undefined, (x: { code?: string }) => x);
    expect(err?.code).toBe("OperationNotAllowed");
    await computeClient(e).virtualMachines.start(RG, "rc-cpu", fast);
  });
});
