// Benchmark: run-command round trip (PUT → Succeeded) for a trivial script, and sustained
// run commands per second across 8 VMs, through the real @azure/arm-compute client.
// Run: npx tsc -p tsconfig.json && node dist/bench/cloud/runCommands.js
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { generateKeyPairSync } from "node:crypto";
import sshpk from "sshpk";
import { ComputeManagementClient } from "@azure/arm-compute";
import { NetworkManagementClient } from "@azure/arm-network";
import type { TokenCredential } from "@azure/core-auth";
import { startCloudEmulator, type CloudEmulator } from "../../local/cloud/emulator";

const SUB = "00000000-0000-0000-0000-0000000000be";
const RG = "rg-bench";
const LOC = "westeurope";
const SUBNET = `/subscriptions/${SUB}/resourceGroups/${RG}/providers/Microsoft.Network/virtualNetworks/vnet/subnets/compute`;
const POLL = { updateIntervalInMs: 10 };

function clients(emu: CloudEmulator) {
  const credential: TokenCredential = { getToken: async () => ({ token: emu.token, expiresOnTimestamp: Date.now() + 3600_000 }) };
  const opts = { endpoint: emu.url, tlsOptions: { ca: emu.caCertPem } };
  return { compute: new ComputeManagementClient(credential, SUB, opts), network: new NetworkManagementClient(credential, SUB, opts) };
}

async function createVm(emu: CloudEmulator, name: string): Promise<void> {
  const { compute, network } = clients(emu);
  const nic = await network.networkInterfaces.beginCreateOrUpdateAndWait(RG, `${name}-nic`, { location: LOC, ipConfigurations: [{ name: "c", subnet: { id: SUBNET } }] }, POLL);
  const key = sshpk.parseKey(generateKeyPairSync("ed25519").publicKey.export({ type: "spki", format: "pem" }).toString(), "pem").toString("ssh");
  await compute.virtualMachines.createOrUpdate(RG, name, {
    location: LOC, hardwareProfile: { vmSize: "Standard_D2s_v5" },
    storageProfile: { imageReference: { publisher: "Canonical", offer: "0001-com-ubuntu-server-jammy", sku: "22_04-lts-gen2", version: "latest" } },
    osProfile: { computerName: name, adminUsername: "azureuser", linuxConfiguration: { disablePasswordAuthentication: true, ssh: { publicKeys: [{ path: "/home/azureuser/.ssh/authorized_keys", keyData: key }] } } },
    networkProfile: { networkInterfaces: [{ id: nic.id }] },
  }, POLL);
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

async function roundTrip(emu: CloudEmulator, runs: number): Promise<number[]> {
  const { compute } = clients(emu);
  const times: number[] = [];
  for (let i = 0; i < runs; i++) {
    const t0 = performance.now();
    const rc = await compute.virtualMachineRunCommands.createOrUpdate(RG, "vm0", `rt-${Date.now()}-${i}`, { location: LOC, source: { script: "true" } }, POLL);
    if (rc.provisioningState !== "Succeeded") throw new Error(`run ended ${rc.provisioningState}`);
    times.push(performance.now() - t0);
  }
  return times;
}

async function sustained(emu: CloudEmulator, vms: number, seconds: number): Promise<{ done: number; perSecond: number }> {
  const { compute } = clients(emu);
  const end = performance.now() + seconds * 1000;
  let done = 0;
  const t0 = performance.now();
  await Promise.all(Array.from({ length: vms }, async (_, v) => {
    for (let i = 0; performance.now() < end; i++) {
      await compute.virtualMachineRunCommands.createOrUpdate(RG, `vm${v}`, `s-${i}`, { location: LOC, source: { script: `echo ${i}` } }, POLL);
      done++;
    }
  }));
  return { done, perSecond: done / ((performance.now() - t0) / 1000) };
}

async function main(): Promise<void> {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "cloud-bench-"));
  const emu = await startCloudEmulator({
    dataDir, port: 0, subscriptionId: SUB, resourceGroup: RG, location: LOC, allowedSubnetIds: [SUBNET],
    latencyProfile: "none", config: { throttle: { enabled: false } },
  });
  try {
    for (let v = 0; v < 8; v++) await createVm(emu, `vm${v}`);
    await roundTrip(emu, 3); // warm-up
    const none = await roundTrip(emu, 15);
    const sus = await sustained(emu, 8, 10);
    emu.setConfig({ latencyProfile: "realistic" });
    const realistic = await roundTrip(emu, 5);
    const cpu = os.cpus()[0]?.model ?? "unknown CPU";
    console.log(`machine: ${os.cpus().length} x ${cpu}, node ${process.version}, ${os.platform()} ${os.release()}`);
    console.log("| measure | result |");
    console.log("| --- | --- |");
    console.log(`| run-command round trip, latency "none" (median of ${none.length}) | ${median(none).toFixed(1)} ms (min ${Math.min(...none).toFixed(1)}, max ${Math.max(...none).toFixed(1)}) |`);
    console.log(`| run-command round trip, latency "realistic" (median of ${realistic.length}) | ${median(realistic).toFixed(0)} ms |`);
    console.log(`| sustained run commands/s, 8 VMs x 1 in flight, 10 s, latency "none" | ${sus.perSecond.toFixed(1)} /s (${sus.done} runs) |`);
  } finally {
    await emu.stop();
    fs.rmSync(dataDir, { recursive: true, force: true });
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
