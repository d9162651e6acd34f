// Shared fixtures for the cloud emulator tests: an emulator on a free port with its own
// temp data dir, and helpers that build NSG + NIC + VM through the real SDK clients.
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { generateKeyPairSync } from "node:crypto";
import sshpk from "sshpk";
import { startCloudEmulator, type CloudEmulator, type CloudEmulatorOptions } from "../../local/cloud/emulator";
import { computeClient, networkClient, type EmulatorEndpoint } from "./clients";

export const RG = "rg-test";
export const SUB = "00000000-0000-0000-0000-0000000000aa";
export const LOCATION = "westeurope";
export const SUBNET_ID = `/subscriptions/${SUB}/resourceGroups/${RG}/providers/Microsoft.Network/virtualNetworks/vnet-test/subnets/compute`;

export async function startTestCloud(extra: CloudEmulatorOptions = {}): Promise<{ emu: CloudEmulator; endpoint: EmulatorEndpoint; dataDir: string }> {
  const dataDir = extra.dataDir ?? fs.mkdtempSync(path.join(os.tmpdir(), "cloud-test-"));
  const emu = await startCloudEmulator({
    dataDir, port: 0, subscriptionId: SUB, resourceGroup: RG, location: LOCATION, allowedSubnetIds: [SUBNET_ID],
    latencyProfile: "none", ...extra,
  });
  // The data dir of a test emulator goes away with it.
  const stop = emu.stop;
  emu.stop = async () => {
    await stop();
    fs.rmSync(dataDir, { recursive: true, force: true });
  };
  return { emu, dataDir, endpoint: { url: emu.url, token: emu.token, storageToken: emu.storageToken, caCertPem: emu.caCertPem, subscriptionId: SUB } };
}

export function sshPublicKey(): string {
  const { publicKey } = generateKeyPairSync("ed25519");
  return sshpk.parseKey(publicKey.export({ type: "spki", format: "pem" }).toString(), "pem").toString("ssh");
}

export const cloudConfig = (mounts: string[][]) =>
  Buffer.from(`#cloud-config\nmounts:\n${mounts.map((m) => `  - [ ${m.map((x) => `"${x}"`).join(", ")} ]`).join("\n")}\n`).toString("base64");

export async function createNic(e: EmulatorEndpoint, name: string): Promise<string> {
  const net = networkClient(e);
  const nsg = await net.networkSecurityGroups.beginCreateOrUpdateAndWait(RG, `${name}-nsg`, {
    location: LOCATION,
    securityRules: [{ name: "ssh", priority: 1000, direction: "Inbound", access: "Allow", protocol: "Tcp", sourcePortRange: "*", destinationPortRange: "22", sourceAddressPrefix: "203.0.113.0/24", destinationAddressPrefix: "*" }],
  }, { updateIntervalInMs: 20 });
  const nic = await net.networkInterfaces.beginCreateOrUpdateAndWait(RG, `${name}-nic`, {
    location: LOCATION,
    networkSecurityGroup: { id: nsg.id },
    ipConfigurations: [{ name: "ipconfig1", subnet: { id: SUBNET_ID }, privateIPAllocationMethod: "Dynamic" }],
  }, { updateIntervalInMs: 20 });
  return nic.id!;
}

export function vmBody(nicId: string, size: string, customData?: string) {
  return {
    location: LOCATION,
    tags: { owner: "alice" },
    identity: { type: "SystemAssigned" as const },
    hardwareProfile: { vmSize: size },
    storageProfile: { imageReference: { publisher: "Canonical", offer: "0001-com-ubuntu-server-jammy", sku: "22_04-lts-gen2", version: "latest" } },
    osProfile: {
      computerName: "ci-host", adminUsername: "azureuser", customData,
      linuxConfiguration: { disablePasswordAuthentication: true, ssh: { publicKeys: [{ path: "/home/azureuser/.ssh/authorized_keys", keyData: sshPublicKey() }] } },
    },
    networkProfile: { networkInterfaces: [{ id: nicId, primary: true }] },
  };
}

export async function createVm(e: EmulatorEndpoint, name: string, size = "Standard_D2s_v5", customData?: string) {
  const nicId = await createNic(e, name);
  const body = vmBody(nicId, size, customData);
  const vm = await computeClient(e).virtualMachines.createOrUpdate(RG, name, body, { updateIntervalInMs: 20 });
  return { vm, body, nicId };
}

export const rcPath = (vm: string, name: string) =>
  `/subscriptions/${SUB}/resourceGroups/${RG}/providers/Microsoft.Compute/virtualMachines/${vm}/runCommands/${name}`;
export const vmPath = (vm: string) => `/subscriptions/${SUB}/resourceGroups/${RG}/providers/Microsoft.Compute/virtualMachines/${vm}`;
