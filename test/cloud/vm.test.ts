import fs from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { CloudEmulator } from "../../local/cloud/emulator";
import { armRequest, computeClient, networkClient, type EmulatorEndpoint } from "./clients";
import { createNic, createVm, LOCATION, RG, startTestCloud, SUBNET_ID, vmBody, vmPath } from "./support";

let emu: CloudEmulator;
let e: EmulatorEndpoint;
const API = "api-version=2024-07-01";
type ArmErr = { error: { code: string; message: string } };

beforeAll(async () => {
  ({ emu, endpoint: e } = await startTestCloud({ quotaPerFamily: { standardDSv5Family: 8, standardNCASv3_T4Family: 8 } }));
});
afterAll(async () => emu?.stop());

const codeOf = async (p: Promise<unknown>) => {
  try {
    await p;
  } catch (err) {
    return (err as { code?: string }).code;
  }
  return "no error";
};
const powerState = async (name: string) =>
  (await computeClient(e).virtualMachines.instanceView(RG, name)).statuses?.map((s) => s.code);

describe("network", () => {
  it("creates an NSG and a NIC with a private IP from the subnet, and validates rules and references", async () => {
    const net = networkClient(e);
    const nicId = await createNic(e, "netcheck");
    const nic = await net.networkInterfaces.get(RG, "netcheck-nic");
    expect(nic.id).toBe(nicId);
    expect(nic.ipConfigurations?.[0].privateIPAddress).toMatch(/^10\.0\.0\.\d+$/);
    expect(nic.networkSecurityGroup?.id).toMatch(/netcheck-nsg$/);
    const subnet = await net.subnets.get(RG, "vnet-test", "compute");
    expect(subnet.ipConfigurations?.some((c) => c.id?.startsWith(nicId))).toBe(true);

    const rule = { name: "r", direction: "Inbound", access: "Allow", protocol: "Tcp", sourcePortRange: "*", destinationPortRange: "22", sourceAddressPrefix: "*", destinationAddressPrefix: "*" };
    expect(await codeOf(net.networkSecurityGroups.beginCreateOrUpdateAndWait(RG, "bad", { location: LOCATION, securityRules: [{ ...rule, priority: 50 }] }))).toBe("SecurityRuleInvalidPriority");
    expect(await codeOf(net.networkSecurityGroups.beginCreateOrUpdateAndWait(RG, "bad", { location: LOCATION, securityRules: [{ ...rule, priority: 100 }, { ...rule, name: "r2", priority: 100 }] }))).toBe("SecurityRulesInvalidPriorityDuplicate");
    expect(await codeOf(net.networkSecurityGroups.beginCreateOrUpdateAndWait(RG, "bad", { location: LOCATION, securityRules: [{ ...rule, priority: 200, destinationPortRange: "70000" }] }))).toBe("SecurityRuleInvalidPortRange");
    expect(await codeOf(net.networkInterfaces.beginCreateOrUpdateAndWait(RG, "nic-missing-subnet", {
      location: LOCATION, ipConfigurations: [{ name: "c", subnet: { id: SUBNET_ID.replace("compute", "nope") } }],
    }))).toBe("InvalidResourceReference");
    expect(await codeOf(net.networkSecurityGroups.beginDeleteAndWait(RG, "netcheck-nsg"))).toBe("InUseNetworkSecurityGroupCannotBeDeleted");
    const pip = await net.publicIPAddresses.beginCreateOrUpdateAndWait(RG, "pip1", { location: LOCATION, sku: { name: "Standard" }, publicIPAllocationMethod: "Static" }, { updateIntervalInMs: 20 });
    expect(pip.ipAddress).toMatch(/^198\.1[89]\./);
    await net.publicIPAddresses.beginDeleteAndWait(RG, "pip1", { updateIntervalInMs: 20 });
    expect(await codeOf(net.publicIPAddresses.get(RG, "pip1"))).toBe("ResourceNotFound");
  });
});

describe("virtual machines", () => {
  it("runs the full lifecycle through the SDK: create, instanceView, deallocate, start, restart, powerOff, delete", async () => {
    const c = computeClient(e);
    const { vm } = await createVm(e, "vm-life");
    expect(vm.provisioningState).toBe("Succeeded");
    expect(vm.hardwareProfile?.vmSize).toBe("Standard_D2s_v5");
    expect(vm.identity?.principalId).toBeTruthy();
    expect(vm.osProfile?.customData).toBeUndefined();
    expect(await powerState("vm-life")).toEqual(["ProvisioningState/succeeded", "PowerState/running"]);
    const dir = emu.getState().vms.find((v) => v.name === "vm-life")!.dir;
    expect(fs.existsSync(`${dir}/home/azureuser/.ssh/authorized_keys`)).toBe(true);

    await c.virtualMachines.deallocate(RG, "vm-life", { updateIntervalInMs: 20 });
    expect(await powerState("vm-life")).toContain("PowerState/deallocated");
    await c.virtualMachines.start(RG, "vm-life", { updateIntervalInMs: 20 });
    await c.virtualMachines.restart(RG, "vm-life", { updateIntervalInMs: 20 });
    expect(await powerState("vm-life")).toContain("PowerState/running");
    await c.virtualMachines.powerOff(RG, "vm-life", { updateIntervalInMs: 20 });
    expect(await powerState("vm-life")).toContain("PowerState/stopped");
    expect(await codeOf(c.virtualMachines.restart(RG, "vm-life", { updateIntervalInMs: 20 }))).toBe("OperationNotAllowed");
    await c.virtualMachines.delete(RG, "vm-life", { updateIntervalInMs: 20 });
    expect(await codeOf(c.virtualMachines.get(RG, "vm-life"))).toBe("ResourceNotFound");
    expect(fs.existsSync(dir)).toBe(false);
  });

  it("answers a repeated PUT with the same body with 200 and no new operation, and polls LROs via Azure-AsyncOperation", async () => {
    emu.setConfig({ latencyMs: { vmCreate: 300 } });
    try {
      const nicId = await createNic(e, "vm-idem");
      const storageProfile = { imageReference: { publisher: "Canonical", offer: "0001-com-ubuntu-server-jammy", sku: "22_04-lts-gen2", version: "latest" } };
      const body = { location: LOCATION, properties: { hardwareProfile: { vmSize: "Standard_D2s_v5" }, storageProfile, osProfile: { adminUsername: "azureuser", computerName: "h", adminPassword: "Sup3r-secret!" }, networkProfile: { networkInterfaces: [{ id: nicId }] } } };
      const first = await armRequest(e, "PUT", `${vmPath("vm-idem")}?${API}`, body);
      expect(first.status).toBe(201);
      expect(first.json<{ properties: { provisioningState: string } }>().properties.provisioningState).toBe("Creating");
      const status = String(first.headers["azure-asyncoperation"]);
      expect(status).toContain(`/providers/Microsoft.Compute/locations/${LOCATION}/operations/`);
      expect(first.body).not.toContain("Sup3r-secret!");
      const polled = await armRequest(e, "GET", status);
      expect(polled.json<{ status: string }>().status).toBe("InProgress");
      const poller = computeClient(e).virtualMachines.createOrUpdate(RG, "vm-idem", {
        location: LOCATION, hardwareProfile: { vmSize: "Standard_D2s_v5" }, storageProfile, osProfile: { adminUsername: "azureuser", computerName: "h", adminPassword: "Sup3r-secret!" }, networkProfile: { networkInterfaces: [{ id: nicId }] },
      }, { updateIntervalInMs: 50 });
      const vm = await poller;
      expect(vm.provisioningState).toBe("Succeeded");
      expect((await armRequest(e, "GET", status)).json<{ status: string }>().status).toBe("Succeeded");
      const again = await armRequest(e, "PUT", `${vmPath("vm-idem")}?${API}`, body);
      expect(again.status).toBe(200);
      expect(again.headers["azure-asyncoperation"]).toBeUndefined();
      expect(emu.getState().operationsInProgress).toEqual([]);
    } finally {
      emu.setConfig({ latencyProfile: "none" });
    }
  });

  it("refuses a conflicting concurrent operation on one VM with 409", async () => {
    await createVm(e, "vm-conflict");
    emu.setConfig({ latencyMs: { vmDeallocate: 1500 } });
    try {
      const d = await armRequest(e, "POST", `${vmPath("vm-conflict")}/deallocate?${API}`);
      expect(d.status).toBe(202);
      expect(d.headers.location).toContain("monitor=true");
      const s = await armRequest(e, "POST", `${vmPath("vm-conflict")}/start?${API}`);
      expect(s.status).toBe(409);
      expect(s.json<ArmErr>().error.code).toBe("Conflict");
      const again = await armRequest(e, "POST", `${vmPath("vm-conflict")}/deallocate?${API}`);
      expect(again.status).toBe(202);
      expect(again.headers["azure-asyncoperation"]).toBe(d.headers["azure-asyncoperation"]);
    } finally {
      emu.setConfig({ latencyProfile: "none" });
    }
  });

  it("enforces per-family vCPU quota like ARM and reports usages", async () => {
    const c = computeClient(e);
    await createVm(e, "gpu-1", "Standard_NC4as_T4_v3");
    const nicId = await createNic(e, "gpu-2");
    const err = await c.virtualMachines.createOrUpdate(RG, "gpu-2", vmBody(nicId, "Standard_NC8as_T4_v3"), { updateIntervalInMs: 20 }).then(() => undefined, (x: { code?: string; message?: string }) => x);
    expect(err?.code).toBe("OperationNotAllowed");
    expect(err?.message).toContain("standardNCASv3_T4Family");
    const usages: Record<string, [number, number]> = {};
    for await (const u of c.usage.list(LOCATION)) usages[u.name.value!] = [u.currentValue, u.limit];
    expect(usages.standardNCASv3_T4Family).toEqual([4, 8]);
    await c.virtualMachines.deallocate(RG, "gpu-1", { updateIntervalInMs: 20 });
    for await (const u of c.usage.list(LOCATION)) usages[u.name.value!] = [u.currentValue, u.limit];
    expect(usages.standardNCASv3_T4Family).toEqual([0, 8]);
    await c.virtualMachines.createOrUpdate(RG, "gpu-2", vmBody(nicId, "Standard_NC8as_T4_v3"), { updateIntervalInMs: 20 });
    expect(await codeOf(c.virtualMachines.start(RG, "gpu-1", { updateIntervalInMs: 20 }))).toBe("OperationNotAllowed");
  });

  it("lists a realistic SKU catalog with GPU capabilities", async () => {
    const skus = new Map<string, Record<string, string>>();
    for await (const s of computeClient(e).resourceSkus.list({ filter: `location eq '${LOCATION}'` })) {
      if (s.resourceType === "virtualMachines") skus.set(s.name!, Object.fromEntries((s.capabilities ?? []).map((x) => [x.name!, x.value!])));
    }
    expect(skus.get("Standard_NC24ads_A100_v4")).toMatchObject({ vCPUs: "24", GPUs: "1", MemoryGB: "220" });
    expect(skus.get("Standard_ND96asr_v4")).toMatchObject({ GPUs: "8" });
    expect(skus.get("Standard_D2s_v5")?.GPUs).toBeUndefined();
  });

  it("answers bad requests like ARM: unknown size, missing NIC, malformed body, no token, unknown resource group", async () => {
    const c = computeClient(e);
    const nicId = await createNic(e, "vm-bad");
    expect(await codeOf(c.virtualMachines.createOrUpdate(RG, "vm-bad", vmBody(nicId, "Standard_Nope_v9"), { updateIntervalInMs: 20 }))).toBe("SkuNotAvailable");
    expect(await codeOf(c.virtualMachines.createOrUpdate(RG, "vm-bad", vmBody(nicId.replace("vm-bad-nic", "ghost"), "Standard_D2s_v5"), { updateIntervalInMs: 20 }))).toBe("NotFound");
    const keyless = vmBody(nicId, "Standard_D2s_v5");
    keyless.osProfile.linuxConfiguration.ssh.publicKeys = [];
    expect(await codeOf(c.virtualMachines.createOrUpdate(RG, "vm-bad", keyless, { updateIntervalInMs: 20 }))).toBe("InvalidParameter");
    const malformed = await armRequest(e, "PUT", `${vmPath("vm-bad")}?${API}`, "{not json");
    expect(malformed.status).toBe(400);
    expect(malformed.json<ArmErr>().error.code).toBe("InvalidRequestContent");
    const noToken = await armRequest(e, "GET", `${vmPath("vm-bad")}?${API}`, undefined, { authorization: "" });
    expect(noToken.status).toBe(401);
    expect(noToken.json<ArmErr>().error.code).toBe("AuthenticationFailed");
    const wrongRg = await armRequest(e, "GET", `${vmPath("x").replace(RG, "rg-other")}?${API}`);
    expect(wrongRg.json<ArmErr>().error.code).toBe("ResourceGroupNotFound");
    const noVersion = await armRequest(e, "GET", vmPath("x"));
    expect(noVersion.json<ArmErr>().error.code).toBe("MissingApiVersionParameter");
  });
});
