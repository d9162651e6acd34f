// The provider layer (shared/azure) against local/cloud through the same client factory the
// app uses: endpoint, the app's managed identity and the emulator CA from configuration only.
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { generateKeyPairSync } from "node:crypto";
import sshpk from "sshpk";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { connectionStringStorage } from "../../shared/azure/storageConnection";
import { createArmClients, createFilesClients, type ArmClients, type FilesClients } from "../../shared/azure/clients";
import {
  getOperationStatus, getVmStatus, listVmSkus, listVmUsages, startCreateOrUpdateVm, startDeallocateVm, startDeleteVm, startVm,
  type VmStatus,
} from "../../shared/azure/compute";
import { ensureDirectory, ensureShare, listDirectory, readFile, writeFile } from "../../shared/azure/files";
import {
  deleteNic, deleteNsg, deletePublicIp, ensureNic, ensureNsg, ensurePublicIp, getNic, getNsg, getSubnet, type NsgRuleSpec,
} from "../../shared/azure/network";
import { deleteRunCommand, getRunCommand, isTerminal, listRunCommands, putRunCommand, type RunCommandStatus } from "../../shared/azure/runCommands";
import { CloudError, NotFoundError } from "../../shared/errors";
import { startCloudEmulator, type CloudEmulator } from "../../local/cloud/emulator";
import { createStorageClients, type StorageClients } from "../../shared/azure/clients";
import { blobSasUrl, ensureContainer, readBlobText } from "../../shared/azure/blobs";
import { startTestAzurite, type AzuriteProcess } from "../support/azurite";
import { testAzureConfig, useEmulatorIdentity } from "./support";
import type { IdentityChoice } from "../../shared/azure/credential";
import { armRequest } from "../cloud/clients";

const SUB = "00000000-0000-0000-0000-0000000000ab";
const RG = "rg-activities";
const SUBNET = `/subscriptions/${SUB}/resourceGroups/${RG}/providers/Microsoft.Network/virtualNetworks/vnet-a/subnets/compute`;

let emu: CloudEmulator;
let arm: ArmClients;
let files: FilesClients;
let dataDir: string;
let azurite: AzuriteProcess;
let storage: StorageClients;
let identity: IdentityChoice;

beforeAll(async () => {
  dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "activities-cloud-"));
  emu = await startCloudEmulator({
    dataDir, port: 0, subscriptionId: SUB, resourceGroup: RG, location: "westeurope", allowedSubnetIds: [SUBNET],
    latencyProfile: "none", identity: { workspaceStorageAccount: "wsactivities" }, config: { nicReservationSeconds: 1 },
  });
  identity = useEmulatorIdentity(emu);
  const config = testAzureConfig({
    subscriptionId: SUB,
    resourceGroup: RG,
    armEndpoint: emu.url,
    identity,
    armTlsCaFile: emu.caCertFile,
    filesAccount: "wsactivities",
    filesEndpoint: `${emu.url}/files/wsactivities`,
    pollIntervalMs: 20,
  });
  arm = createArmClients(config);
  files = createFilesClients(config);
  azurite = await startTestAzurite();
  storage = createStorageClients(testAzureConfig({ storage: connectionStringStorage(azurite.connectionString) }));
});

afterAll(async () => {
  await emu?.stop();
  await azurite?.stop();
  if (dataDir) fs.rmSync(dataDir, { recursive: true, force: true });
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Polls like an orchestrator would (but with a plain sleep), bounded by a count, not a clock. */
async function pollUntil<T>(read: () => Promise<T>, done: (v: T) => boolean, tries = 200): Promise<T> {
  let v = await read();
  for (let i = 0; i < tries && !done(v); i++) {
    await sleep(50);
    v = await read();
  }
  return v;
}

function sshKey(): string {
  const { publicKey } = generateKeyPairSync("ed25519");
  return sshpk.parseKey(publicKey.export({ type: "spki", format: "pem" }).toString(), "pem").toString("ssh");
}

const sshRule: NsgRuleSpec = {
  name: "allow-ssh", priority: 1000, direction: "Inbound", access: "Allow", protocol: "Tcp",
  sourceAddressPrefixes: ["203.0.113.0/24", "198.51.100.17/32"], destinationPortRanges: ["22"],
};

async function network(name: string) {
  const nsg = await ensureNsg(arm, { name: `${name}-nsg`, rules: [sshRule] });
  const nic = await ensureNic(arm, { name: `${name}-nic`, subnetId: SUBNET, nsgId: nsg.id });
  return { nsg, nic };
}

describe("clients", () => {
  it("reach the emulator only as the app's identity and with its CA (no global TLS switch)", async () => {
    const base = { subscriptionId: SUB, resourceGroup: RG, armEndpoint: emu.url, maxRetries: 0 };
    // An identity the platform does not give this app: no token, so nothing reaches ARM.
    const stranger = createArmClients(testAzureConfig({ ...base, identity: { kind: "managedIdentity", clientId: "0f0f0f0f-0000-4000-8000-000000000001" }, armTlsCaFile: emu.caCertFile }));
    const denied = await getNsg(stranger, "x").catch((e: unknown) => e);
    expect(denied).toBeInstanceOf(Error);
    expect((denied as CloudError).retryable ?? false).toBe(false);
    const untrusted = createArmClients(testAzureConfig({ ...base, identity }));
    const tls = await getNsg(untrusted, "x").catch((e: unknown) => e);
    expect(tls).toMatchObject({ code: "TlsError", retryable: false });
  });
});

describe("transient failures", () => {
  it("surface as retryable errors after the SDK's own retries", async () => {
    const quick = createArmClients(
      testAzureConfig({ subscriptionId: SUB, resourceGroup: RG, armEndpoint: emu.url, identity, armTlsCaFile: emu.caCertFile, maxRetries: 1 }),
    );
    try {
      emu.setConfig({ faults: { rate500: 1 } });
      const e500 = await getNsg(quick, "x").catch((e: unknown) => e);
      expect(e500).toMatchObject({ retryable: true, httpStatus: 500 });
      emu.setConfig({ faults: { rate500: 0, rate429: 1, retryAfterSeconds: 0 } });
      const e429 = await ensureNsg(quick, { name: "t-nsg", rules: [] }).catch((e: unknown) => e);
      expect(e429).toBeInstanceOf(CloudError);
      expect(e429).toMatchObject({ retryable: true, httpStatus: 429 });
    } finally {
      emu.setConfig({ faults: { rate500: 0, rate429: 0 } });
    }
    expect(await getNsg(quick, "x")).toBeUndefined();
  });
});

describe("network", () => {
  it("sends * and service tags in the singular rule fields, which ARM accepts (lists are refused)", async () => {
    const denyAll: NsgRuleSpec = {
      name: "DenyAllInbound", priority: 4096, direction: "Inbound", access: "Deny", protocol: "*",
      sourceAddressPrefixes: ["*"], destinationPortRanges: ["*"],
    };
    const fromInternet: NsgRuleSpec = { ...sshRule, name: "ssh-any", priority: 1000, sourceAddressPrefixes: ["Internet"] };
    const nsg = await ensureNsg(arm, { name: "singular-nsg", rules: [fromInternet, denyAll] });
    expect(nsg.rules.map((r) => [r.name, r.sourceAddressPrefixes, r.destinationPortRanges])).toEqual([
      ["ssh-any", ["Internet"], ["22"]],
      ["DenyAllInbound", ["*"], ["*"]],
    ]);
    const raw = await arm.network.networkSecurityGroups.get(RG, "singular-nsg");
    expect(raw.securityRules?.find((r) => r.name === "DenyAllInbound")).toMatchObject({ sourceAddressPrefix: "*", destinationPortRange: "*" });
    await deleteNsg(arm, "singular-nsg");
  });

  it("ensures NSG, public IP and NIC idempotently and reads the rules back", async () => {
    const nsg1 = await ensureNsg(arm, { name: "n1-nsg", rules: [sshRule], tags: { instance: "n1" } });
    const nsg2 = await ensureNsg(arm, { name: "n1-nsg", rules: [sshRule], tags: { instance: "n1" } });
    expect(nsg2).toEqual(nsg1);
    expect(nsg1.provisioningState).toBe("Succeeded");
    const read = await getNsg(arm, "n1-nsg");
    expect(read?.rules).toEqual([sshRule]);

    const pip1 = await ensurePublicIp(arm, { name: "n1-pip" });
    const pip2 = await ensurePublicIp(arm, { name: "n1-pip" });
    expect(pip2.id).toBe(pip1.id);
    expect(pip2.ipAddress).toBe(pip1.ipAddress);

    const nic1 = await ensureNic(arm, { name: "n1-nic", subnetId: SUBNET, nsgId: nsg1.id, publicIpId: pip1.id });
    const nic2 = await ensureNic(arm, { name: "n1-nic", subnetId: SUBNET, nsgId: nsg1.id, publicIpId: pip1.id });
    expect(nic2).toEqual(nic1);
    expect(nic1.privateIp).toMatch(/^\d+\.\d+\.\d+\.\d+$/);
    expect(nic1.nsgId?.toLowerCase()).toBe(nsg1.id.toLowerCase());
    expect(nic1.publicIpId?.toLowerCase()).toBe(pip1.id.toLowerCase());
    expect((await getSubnet(arm, SUBNET))?.id.toLowerCase()).toBe(SUBNET.toLowerCase());

    for (let i = 0; i < 2; i++) {
      // Second round: everything is already gone, and that is success.
      await deleteNic(arm, "n1-nic");
      await deletePublicIp(arm, "n1-pip");
      await deleteNsg(arm, "n1-nsg");
    }
    expect(await getNic(arm, "n1-nic")).toBeUndefined();
    expect(await getNsg(arm, "n1-nsg")).toBeUndefined();
  });
});

describe("compute", () => {
  it("creates a VM without waiting, polls it to running, deallocates, starts and deletes it", async () => {
    const { nic } = await network("vm1");
    const spec = { name: "vm1", size: "Standard_D2s_v5", nicId: nic.id, adminUsername: "azureuser", sshPublicKeys: [sshKey()] };
    await startCreateOrUpdateVm(arm, spec);
    await startCreateOrUpdateVm(arm, spec); // a retried activity: same PUT, no second VM
    const ready = await pollUntil(() => getVmStatus(arm, "vm1"), (s) => s?.provisioningState === "Succeeded");
    expect(ready).toMatchObject({ provisioningState: "Succeeded", powerState: "running", vmSize: "Standard_D2s_v5" });

    const deallocation = await startDeallocateVm(arm, "vm1");
    expect(deallocation).toMatch(/\/providers\/Microsoft\.Compute\/locations\/westeurope\/operations\//);
    const op = await pollUntil(() => getOperationStatus(arm, deallocation!), (o) => o?.status !== "InProgress");
    expect(op).toEqual({ status: "Succeeded" });
    const stopped = await pollUntil(() => getVmStatus(arm, "vm1"), (s) => s?.powerState === "deallocated");
    expect(stopped?.powerState).toBe("deallocated");
    await startVm(arm, "vm1");
    const running = await pollUntil(() => getVmStatus(arm, "vm1"), (s) => s?.powerState === "running");
    expect(running?.powerState).toBe("running");

    await startDeleteVm(arm, "vm1");
    const gone = await pollUntil(() => getVmStatus(arm, "vm1"), (s: VmStatus | undefined) => s === undefined);
    expect(gone).toBeUndefined();
    await startDeleteVm(arm, "vm1"); // 404 = done
    await expect(startVm(arm, "vm1")).rejects.toBeInstanceOf(NotFoundError);
    // Azure keeps the NIC reserved for the deleted VM for a while and says how long.
    const reserved = await deleteNic(arm, "vm1-nic").catch((e: unknown) => e);
    expect(reserved).toMatchObject({ code: "NicReservedForAnotherVm", retryable: false, retryAfterMs: 1000 });
    await sleep(1000);
    await pollUntil(() => deleteNic(arm, "vm1-nic").then(() => true, () => false), (done) => done);
    expect(await getNic(arm, "vm1-nic")).toBeUndefined();
    await deleteNsg(arm, "vm1-nsg");
  });

  it("turns an unknown VM size into a non-retryable error with the ARM code", async () => {
    const { nic } = await network("vm2");
    const err = await startCreateOrUpdateVm(arm, {
      name: "vm2", size: "Standard_Nope_v9", nicId: nic.id, adminUsername: "azureuser", sshPublicKeys: [sshKey()],
    }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CloudError);
    expect((err as CloudError).retryable).toBe(false);
    expect((err as CloudError).code).toMatch(/^(SkuNotAvailable|InvalidParameter)$/);
    expect((err as CloudError).message).toContain("create VM vm2");
    expect(await getVmStatus(arm, "vm2")).toBeUndefined();
  });

  it("lists SKUs with vCPUs/GPUs and subscription usages", async () => {
    const skus = await listVmSkus(arm);
    const d2 = skus.find((s) => s.name === "Standard_D2s_v5");
    expect(d2).toMatchObject({ vCpus: 2, gpus: 0 });
    expect(d2?.family).toBeTruthy();
    expect(skus.some((s) => s.gpus > 0)).toBe(true);
    const usages = await listVmUsages(arm);
    expect(usages.length).toBeGreaterThan(0);
    for (const u of usages) expect(u.limit).toBeGreaterThanOrEqual(0);
  });
});

describe("run commands", () => {
  it("puts a run command once by name, polls it to its result, and deletes it (twice)", async () => {
    const { nic } = await network("vm3");
    await startCreateOrUpdateVm(arm, { name: "vm3", size: "Standard_D2s_v5", nicId: nic.id, adminUsername: "azureuser", sshPublicKeys: [sshKey()] });
    await pollUntil(() => getVmStatus(arm, "vm3"), (s) => s?.provisioningState === "Succeeded");

    const spec = {
      script: 'echo "hello $GREETING"; echo oops >&2; echo run >> "$HOME/runs.txt"; exit 3',
      parameters: { GREETING: "world" },
      protectedParameters: { SECRET: "s3cret" },
      timeoutInSeconds: 60,
    };
    await putRunCommand(arm, "vm3", "job-1", spec);
    await putRunCommand(arm, "vm3", "job-1", spec); // idempotent: does not start a second run
    const done = await pollUntil(() => getRunCommand(arm, "vm3", "job-1"), (s: RunCommandStatus | undefined) => !!s && isTerminal(s.state));
    expect(done).toMatchObject({ state: "Failed", exitCode: 3 });
    expect(done?.output).toContain("hello world");
    expect(done?.error).toContain("oops");
    expect(done?.startTime && done?.endTime && done.startTime <= done.endTime).toBe(true);
    await putRunCommand(arm, "vm3", "job-1", spec);
    const again = await getRunCommand(arm, "vm3", "job-1");
    expect(again?.startTime).toBe(done?.startTime);

    await putRunCommand(arm, "vm3", "job-2", { script: "cat \"$HOME/runs.txt\" | wc -l", timeoutInSeconds: 60 });
    const count = await pollUntil(() => getRunCommand(arm, "vm3", "job-2"), (s) => !!s && isTerminal(s.state));
    expect(count).toMatchObject({ state: "Succeeded", exitCode: 0 });
    expect(count?.output?.trim()).toBe("1");
    expect((await listRunCommands(arm, "vm3")).sort()).toEqual(["job-1", "job-2"]);

    await deleteRunCommand(arm, "vm3", "job-1");
    await deleteRunCommand(arm, "vm3", "job-1");
    expect(await getRunCommand(arm, "vm3", "job-1")).toBeUndefined();

    // stdout/stderr streamed to blobs through SAS URLs (how job logs reach GET /api/jobs/{id}/logs).
    await ensureContainer(storage, "job-logs");
    const sas = (blob: string) => blobSasUrl(storage, "job-logs", blob, { permissions: "racw", expiresInMinutes: 30 });
    await putRunCommand(arm, "vm3", "job-3", {
      script: "echo to-blob; echo err-blob >&2",
      outputBlobUri: await sas("job-3/stdout.txt"),
      errorBlobUri: await sas("job-3/stderr.txt"),
    });
    const logged = await pollUntil(() => getRunCommand(arm, "vm3", "job-3"), (s) => !!s && isTerminal(s.state));
    expect(logged?.state).toBe("Succeeded");
    expect(await readBlobText(storage, "job-logs", "job-3/stdout.txt")).toBe("to-blob\n");
    expect(await readBlobText(storage, "job-logs", "job-3/stderr.txt")).toBe("err-blob\n");

    await putRunCommand(arm, "vm3", "slow", { script: "sleep 30", timeoutInSeconds: 1 });
    const timedOut = await pollUntil(() => getRunCommand(arm, "vm3", "slow"), (s) => !!s && isTerminal(s.state));
    expect(timedOut?.state).toBe("TimedOut");

    await startDeleteVm(arm, "vm3");
    await pollUntil(() => getVmStatus(arm, "vm3"), (s) => s === undefined);
  });
});

describe("files", () => {
  it("creates the workspace share as NFS and the user's folder owned by azureuser (uid 1000), others root-owned", async () => {
    await ensureShare(files, 100);
    await ensureDirectory(files, "Users/nfs-user", { owner: "1000", group: "1000", mode: "0755" });
    const share = files.service.getShareClient(files.shareName);
    expect((await share.getProperties()).protocols).toMatchObject({ nfsEnabled: true });
    const user = await share.getDirectoryClient("Users/nfs-user").getProperties();
    expect(user.posixProperties).toMatchObject({ owner: "1000", group: "1000" });
    expect(user.posixProperties?.fileMode?.owner).toMatchObject({ read: true, write: true, execute: true });
    expect((await share.getDirectoryClient("Users").getProperties()).posixProperties).toMatchObject({ owner: "0" });
  });

  it("ensures the share and nested folders idempotently and round-trips a small file", async () => {
    await ensureShare(files, 100);
    await ensureShare(files, 100);
    await ensureDirectory(files, "Users/alice/logs");
    await ensureDirectory(files, "/Users/alice/logs/");
    await ensureDirectory(files, "Logs/ci-1");
    expect((await listDirectory(files, ""))?.map((e) => e.name).sort()).toEqual(["Logs", "Users"]);
    await writeFile(files, "Users/alice/hello.txt", "hi ✓\n");
    await writeFile(files, "Users/alice/hello.txt", "hi again\n");
    expect((await readFile(files, "Users/alice/hello.txt"))?.toString("utf8")).toBe("hi again\n");
    const listing = await listDirectory(files, "Users/alice");
    expect(listing).toEqual(
      expect.arrayContaining([
        { name: "logs", kind: "directory" },
        { name: "hello.txt", kind: "file", size: Buffer.byteLength("hi again\n") },
      ]),
    );
    expect(await readFile(files, "Users/alice/missing.txt")).toBeUndefined();
    expect(await listDirectory(files, "Users/nobody")).toBeUndefined();
    await expect(ensureDirectory(files, "Users/../etc")).rejects.toThrow(/invalid path segment/);
  });
});

describe("throttling", () => {
  it("a read refused by Compute's per-VM bucket (429 + Retry-After) is waited out by the client, not failed", async () => {
    const { nic } = await network("vm-thr");
    await startCreateOrUpdateVm(arm, { name: "vm-thr", size: "Standard_D2s_v5", nicId: nic.id, adminUsername: "azureuser", sshPublicKeys: [sshKey()] });
    await pollUntil(() => getVmStatus(arm, "vm-thr"), (s) => s?.provisioningState === "Succeeded");
    const endpoint = { url: emu.url, token: emu.token, storageToken: emu.storageToken, caCertPem: emu.caCertPem, subscriptionId: SUB };
    const vmUrl = `/subscriptions/${SUB}/resourceGroups/${RG}/providers/Microsoft.Compute/virtualMachines/vm-thr?api-version=2024-07-01`;
    emu.setConfig({ throttle: { compute: true } });
    try {
      let last = 0;
      for (let i = 0; i < 60 && last !== 429; i++) last = (await armRequest(endpoint, "GET", vmUrl)).status;
      expect(last).toBe(429); // the VM's bucket is empty now
      const s = await getVmStatus(arm, "vm-thr");
      expect(s?.provisioningState).toBe("Succeeded");
    } finally {
      emu.setConfig({ throttle: { compute: false } });
    }
  });
});

describe("run commands on a VM that is not running", () => {
  it("a DELETE Azure refuses (409 OperationNotAllowed) resolves false and leaves the command; it goes once the VM runs", async () => {
    const { nic } = await network("vm-off");
    await startCreateOrUpdateVm(arm, { name: "vm-off", size: "Standard_D2s_v5", nicId: nic.id, adminUsername: "azureuser", sshPublicKeys: [sshKey()] });
    await pollUntil(() => getVmStatus(arm, "vm-off"), (s) => s?.provisioningState === "Succeeded");
    await putRunCommand(arm, "vm-off", "left", { script: "true", timeoutInSeconds: 60 });
    await pollUntil(() => getRunCommand(arm, "vm-off", "left"), (s) => !!s && isTerminal(s.state));
    await startDeallocateVm(arm, "vm-off");
    await pollUntil(() => getVmStatus(arm, "vm-off"), (s) => s?.powerState === "deallocated");
    expect(await deleteRunCommand(arm, "vm-off", "left")).toBe(false);
    expect(await listRunCommands(arm, "vm-off")).toEqual(["left"]);
    await startVm(arm, "vm-off");
    await pollUntil(() => getVmStatus(arm, "vm-off"), (s) => s?.powerState === "running" && s.provisioningState === "Succeeded");
    expect(await deleteRunCommand(arm, "vm-off", "left")).toBe(true);
    expect(await listRunCommands(arm, "vm-off")).toEqual([]);
  });
});

describe("operations that fail after ARM accepted them", () => {
  it("a VM create that ends AllocationFailed reads as Failed with Azure's code and message", async () => {
    const { nic } = await network("vm-af");
    emu.setConfig({ outcomes: { vmCreate: { next: 1 } } });
    await startCreateOrUpdateVm(arm, { name: "vm-af", size: "Standard_D2s_v5", nicId: nic.id, adminUsername: "azureuser", sshPublicKeys: [sshKey()] });
    const s = await pollUntil(() => getVmStatus(arm, "vm-af"), (v) => v?.provisioningState === "Failed");
    expect(s?.provisioningState).toBe("Failed");
    expect(s?.error?.code).toBe("AllocationFailed");
    expect(s?.error?.message).toMatch(/sufficient capacity/);
    await startDeleteVm(arm, "vm-af");
    expect(await pollUntil(() => getVmStatus(arm, "vm-af"), (v) => v === undefined)).toBeUndefined();
  });

  it("a run command whose provisioning failed with executionState Unknown reads as Failed at once, not Pending", async () => {
    const { nic } = await network("vm-unk");
    await startCreateOrUpdateVm(arm, { name: "vm-unk", size: "Standard_D2s_v5", nicId: nic.id, adminUsername: "azureuser", sshPublicKeys: [sshKey()] });
    await pollUntil(() => getVmStatus(arm, "vm-unk"), (s) => s?.provisioningState === "Succeeded");
    emu.setConfig({ outcomes: { runCommandStart: { next: 1 } } });
    await putRunCommand(arm, "vm-unk", "rc-unknown", { script: "sleep 1", timeoutInSeconds: 600 });
    const s = await pollUntil(() => getRunCommand(arm, "vm-unk", "rc-unknown"), (v) => !!v && v.state !== "Pending");
    expect(emu.getState().runCommands.find((r) => r.id.endsWith("/rc-unknown"))).toMatchObject({ provisioningState: "Failed", executionState: "Unknown" });
    expect(s?.state).toBe("Failed");
    expect(s?.executionMessage).toMatch(/did not report a result/);
  });
});
