// Azure's refusals that the emulator reproduces (issue 19): each case sends what ARM refuses and
// expects ARM's status and error code. Sources are cited where each limit is emulated.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { CloudEmulator } from "../../local/cloud/emulator";
import { armRequest, computeClient, type EmulatorEndpoint } from "./clients";
import { keys } from "../unit/keys";
import { createNic, createVm, LOCATION, RG, SUB, startTestCloud, vmBody, vmPath } from "./support";

let emu: CloudEmulator;
let e: EmulatorEndpoint;
const API = "api-version=2024-07-01";
const fast = { updateIntervalInMs: 20 };
type ArmErr = { error: { code: string; message: string; target?: string } };

beforeAll(async () => {
  ({ emu, endpoint: e } = await startTestCloud());
});
afterAll(async () => emu?.stop());

const nsgPath = (name: string) => `/subscriptions/${SUB}/resourceGroups/${RG}/providers/Microsoft.Network/networkSecurityGroups/${name}?${API}`;
const rule = (props: Record<string, unknown>) => ({
  name: "r",
  properties: { priority: 1000, direction: "Inbound", access: "Deny", protocol: "*", sourcePortRange: "*", destinationAddressPrefix: "*", ...props },
});
/** A VM PUT body in ARM's wire shape (the SDK's flattened body under `properties`). */
function armVm(nicId: string, size = "Standard_D2s_v5", keyData?: string) {
  const { location, identity, hardwareProfile, storageProfile, osProfile, networkProfile } = vmBody(nicId, size);
  if (keyData) osProfile.linuxConfiguration.ssh.publicKeys[0]!.keyData = keyData;
  return { location, identity, properties: { hardwareProfile, storageProfile, osProfile, networkProfile } };
}
const putNsg = (name: string, props: Record<string, unknown>) =>
  armRequest(e, "PUT", nsgPath(name), { location: LOCATION, properties: { securityRules: [rule(props)] } });

describe("NSG rules: * and service tags only in the singular fields", () => {
  it.each([
    ["* in sourceAddressPrefixes", { sourceAddressPrefixes: ["*"], destinationPortRange: "*" }, "SecurityRuleParameterContainsUnsupportedValue"],
    ["Internet in sourceAddressPrefixes", { sourceAddressPrefixes: ["10.0.0.0/8", "Internet"], destinationPortRange: "22" }, "SecurityRuleParameterContainsUnsupportedValue"],
    ["* in destinationPortRanges", { sourceAddressPrefix: "*", destinationPortRanges: ["*"] }, "SecurityRuleInvalidPortRange"],
    ["a misspelt tag", { sourceAddressPrefix: "Intenet", destinationPortRange: "22" }, "SecurityRuleInvalidAddressPrefix"],
    ["a made-up regional tag", { sourceAddressPrefix: "Storage.Atlantis", destinationPortRange: "22" }, "SecurityRuleInvalidAddressPrefix"],
  ])("refuses %s with 400 and ARM's code", async (_what, props, code) => {
    const res = await putNsg("nsg-bad", props);
    expect(res.status).toBe(400);
    expect(res.json<ArmErr>().error.code).toBe(code);
  });

  it("accepts * and real tags in the singular fields and CIDRs in the lists", async () => {
    for (const [i, props] of [
      { sourceAddressPrefix: "*", destinationPortRange: "*" },
      { sourceAddressPrefix: "internet", destinationPortRange: "22" },
      { sourceAddressPrefix: "Storage.WestEurope", destinationPortRange: "443" },
      { sourceAddressPrefixes: ["10.0.0.0/8", "192.0.2.7"], destinationPortRanges: ["22", "8000-8100"] },
    ].entries()) {
      const res = await putNsg(`nsg-good-${i}`, props);
      expect([200, 201], JSON.stringify(props)).toContain(res.status);
    }
  });
});

describe("NIC reservation after its VM is deleted (NicReservedForAnotherVm)", () => {
  it("refuses deleting the NIC or giving it to another VM with 400 until the window ends", async () => {
    emu.setConfig({ nicReservationSeconds: 1 });
    try {
      const { nicId } = await createVm(e, "vm-resv");
      await computeClient(e).virtualMachines.delete(RG, "vm-resv", fast);
      const del = await armRequest(e, "DELETE", `${nicId}?${API}`);
      expect(del.status).toBe(400);
      expect(del.json<ArmErr>().error.code).toBe("NicReservedForAnotherVm");
      expect(del.json<ArmErr>().error.message).toMatch(/retry after 1 seconds.*vm-resv/);
      const other = await armRequest(e, "PUT", `${vmPath("vm-other")}?${API}`, armVm(nicId));
      expect(other.status).toBe(400);
      expect(other.json<ArmErr>().error.code).toBe("NicReservedForAnotherVm");
      let status = 0;
      for (let i = 0; i < 100 && status !== 202; i++) {
        await new Promise((r) => setTimeout(r, 50));
        status = (await armRequest(e, "DELETE", `${nicId}?${API}`)).status;
      }
      expect(status).toBe(202);
    } finally {
      emu.setConfig({ nicReservationSeconds: 180 });
    }
  });

  it("defaults to Azure's 180 s", () => {
    expect(emu.getConfig().nicReservationSeconds).toBe(180);
  });
});

describe("operations that fail after they were accepted (outcome injection)", () => {
  const opStatus = async (url: string) => {
    for (let i = 0; i < 200; i++) {
      const body = (await armRequest(e, "GET", url)).json<{ status: string; error?: { code: string; message: string } }>();
      if (body.status !== "InProgress") return body;
      await new Promise((r) => setTimeout(r, 20));
    }
    throw new Error("operation did not finish");
  };

  it("a VM create answered 201 ends Failed with AllocationFailed, shown in the instance view; the VM can be deleted", async () => {
    const nicId = await createNic(e, "vm-alloc");
    emu.setConfig({ outcomes: { vmCreate: { next: 1 } } });
    const put = await armRequest(e, "PUT", `${vmPath("vm-alloc")}?${API}`, armVm(nicId));
    expect(put.status).toBe(201);
    const op = await opStatus(String(put.headers["azure-asyncoperation"]));
    expect(op.status).toBe("Failed");
    expect(op.error?.code).toBe("AllocationFailed");
    const iv = (await armRequest(e, "GET", `${vmPath("vm-alloc")}/instanceView?${API}`)).json<{ statuses: { code: string; message?: string }[] }>();
    expect(iv.statuses[0]).toMatchObject({ code: "ProvisioningState/failed/AllocationFailed" });
    expect(iv.statuses[0]!.message).toMatch(/sufficient capacity/);
    const vm = (await armRequest(e, "GET", `${vmPath("vm-alloc")}?${API}`)).json<{ properties: { provisioningState: string } }>();
    expect(vm.properties.provisioningState).toBe("Failed");
    const del = await armRequest(e, "DELETE", `${vmPath("vm-alloc")}?${API}`);
    expect(del.status).toBe(202);
  });

  it("a run command can end provisioning Failed with executionState Unknown", async () => {
    await createVm(e, "vm-rc-unknown");
    emu.setConfig({ outcomes: { runCommandStart: { next: 1 } } });
    const path = `${vmPath("vm-rc-unknown")}/runCommands/rc1?${API}`;
    const put = await armRequest(e, "PUT", path, { location: LOCATION, properties: { source: { script: "echo hi" }, asyncExecution: true } });
    expect(put.status).toBe(201);
    const op = await opStatus(String(put.headers["azure-asyncoperation"]));
    expect(op).toMatchObject({ status: "Failed", error: { code: "VMExtensionProvisioningError" } });
    const rc = (await armRequest(e, "GET", `${path}&$expand=instanceView`)).json<{ properties: { provisioningState: string; instanceView: { executionState: string } } }>();
    expect(rc.properties.provisioningState).toBe("Failed");
    expect(rc.properties.instanceView.executionState).toBe("Unknown");
  });

  it("'applied but the response was lost': the connection drops, yet the write happened", async () => {
    emu.setConfig({ faults: { nextLost: 1 } });
    const lost = await armRequest(e, "PUT", nsgPath("nsg-lost"), { location: LOCATION, properties: { securityRules: [] } }).then(() => "answered", (err: Error) => err.message);
    expect(lost).not.toBe("answered");
    const got = await armRequest(e, "GET", nsgPath("nsg-lost"));
    expect(got.status).toBe(200);
  });
});

describe("SSH keys: RSA of 2048 bits or more and ED25519 only", () => {
  it.each([
    ["ECDSA", keys.ecdsa.publicKey],
    ["RSA 1024", keys.rsa1024.publicKey],
  ])("refuses %s keyData with 400 InvalidParameter", async (_what, key) => {
    const nicId = await createNic(e, `vm-key-${_what.replace(/\W/g, "").toLowerCase()}`);
    const res = await armRequest(e, "PUT", `${vmPath(`vm-key-${_what.replace(/\W/g, "").toLowerCase()}`)}?${API}`, armVm(nicId, "Standard_D2s_v5", key));
    expect(res.status).toBe(400);
    expect(res.json<ArmErr>().error).toMatchObject({ code: "InvalidParameter", target: "linuxConfiguration.ssh.publicKeys[0].keyData" });
  });

  it("accepts RSA 2048 and ED25519", async () => {
    for (const [i, key] of [keys.rsa2048.publicKey, keys.ed25519.publicKey].entries()) {
      const nicId = await createNic(e, `vm-key-ok${i}`);
      const res = await armRequest(e, "PUT", `${vmPath(`vm-key-ok${i}`)}?${API}`, armVm(nicId, "Standard_D2s_v5", key));
      expect(res.status, res.body).toBe(201);
    }
  });
});

describe("run-command changes need a running VM (409 OperationNotAllowed)", () => {
  it("refuses PUT and DELETE while the VM deallocates and once it is deallocated", async () => {
    await createVm(e, "vm-rc-stopped");
    const rc = (name: string) => `${vmPath("vm-rc-stopped")}/runCommands/${name}?${API}`;
    const body = { location: LOCATION, properties: { source: { script: "echo hi" }, asyncExecution: true } };
    expect((await armRequest(e, "PUT", rc("before"), body)).status).toBe(201);
    emu.setConfig({ latencyMs: { vmDeallocate: 400 } });
    try {
      expect((await armRequest(e, "POST", `${vmPath("vm-rc-stopped")}/deallocate?${API}`)).status).toBe(202);
      for (const res of [await armRequest(e, "PUT", rc("during"), body), await armRequest(e, "DELETE", rc("before"))]) {
        expect(res.status).toBe(409);
        expect(res.json<ArmErr>().error).toMatchObject({ code: "OperationNotAllowed", message: "Cannot modify extensions in the VM when the VM is not running." });
      }
      await computeClient(e).virtualMachines.deallocate(RG, "vm-rc-stopped", fast);
    } finally {
      emu.setConfig({ latencyMs: { vmDeallocate: 0 } });
    }
    for (const res of [await armRequest(e, "PUT", rc("after"), body), await armRequest(e, "DELETE", rc("before"))]) {
      expect(res.status).toBe(409);
      expect(res.json<ArmErr>().error.code).toBe("OperationNotAllowed");
    }
  });
});

describe("at most 25 run commands per VM, counting ones being deleted", () => {
  it("refuses the 26th with 409 and Azure's message, also while one of the 25 is being deleted", async () => {
    await createVm(e, "vm-rc25");
    const rc = (name: string) => `${vmPath("vm-rc25")}/runCommands/${name}?${API}`;
    const body = { location: LOCATION, properties: { source: { script: "true" }, asyncExecution: true } };
    for (let i = 0; i < 25; i++) expect((await armRequest(e, "PUT", rc(`rc${i}`), body)).status).toBe(201);
    const over = await armRequest(e, "PUT", rc("rc25"), body);
    expect(over.status).toBe(409);
    expect(over.json<ArmErr>().error).toMatchObject({ code: "OperationNotAllowed" });
    expect(over.json<ArmErr>().error.message).toContain("(max=25, current=25)");
    emu.setConfig({ latencyMs: { runCommandDelete: 300 } });
    try {
      expect((await armRequest(e, "DELETE", rc("rc0"))).status).toBe(202);
      const whileDeleting = await armRequest(e, "PUT", rc("rc25"), body);
      expect(whileDeleting.status).toBe(409);
      await computeClient(e).virtualMachineRunCommands.beginDeleteAndWait(RG, "vm-rc25", "rc0", fast);
    } finally {
      emu.setConfig({ latencyMs: { runCommandDelete: 0 } });
    }
    expect((await armRequest(e, "PUT", rc("rc25"), body)).status).toBe(201);
  });
});

describe("SKUs: per-size restrictions, no retired sizes", () => {
  type Sku = { name: string; resourceType: string; restrictions: { type: string; reasonCode: string; restrictionInfo: { zones?: string[] } }[] };
  const skus = async () => (await armRequest(e, "GET", `/subscriptions/${SUB}/providers/Microsoft.Compute/skus?${API}`)).json<{ value: Sku[] }>().value;

  it("lists restrictions, has no NCv3 (retired 2025-09-30), and refuses a restricted size with 409 SkuNotAvailable", async () => {
    emu.setConfig({ skuRestrictions: { Standard_D4s_v5: { type: "Location", reasonCode: "NotAvailableForSubscription" }, Standard_E4s_v5: { type: "Zone", reasonCode: "NotAvailableForSubscription", zones: ["2"] } } });
    try {
      const list = await skus();
      expect(list.filter((s) => /_v3$/.test(s.name) && s.name.startsWith("Standard_NC") && !s.name.includes("T4"))).toEqual([]);
      expect(list.find((s) => s.name === "Standard_D4s_v5")!.restrictions).toMatchObject([{ type: "Location", reasonCode: "NotAvailableForSubscription" }]);
      expect(list.find((s) => s.name === "Standard_E4s_v5")!.restrictions[0]!.restrictionInfo.zones).toEqual(["2"]);
      expect(list.find((s) => s.name === "Standard_ND96asr_v4")!.restrictions).toHaveLength(1); // the default
      const nicId = await createNic(e, "vm-restricted");
      const res = await armRequest(e, "PUT", `${vmPath("vm-restricted")}?${API}`, armVm(nicId, "Standard_D4s_v5"));
      expect(res.status).toBe(409);
      expect(res.json<ArmErr>().error.code).toBe("SkuNotAvailable");
      const zonal = await armRequest(e, "PUT", `${vmPath("vm-restricted")}?${API}`, { ...armVm(nicId, "Standard_E4s_v5"), zones: ["2"] });
      expect(zonal.status).toBe(409);
      expect(zonal.json<ArmErr>().error.code).toBe("SkuNotAvailable");
      const retired = await armRequest(e, "PUT", `${vmPath("vm-restricted")}?${API}`, armVm(nicId, "Standard_NC6s_v3"));
      expect(retired.json<ArmErr>().error.code).toBe("SkuNotAvailable");
      expect((await armRequest(e, "PUT", `${vmPath("vm-restricted")}?${API}`, { ...armVm(nicId, "Standard_E4s_v5"), zones: ["1"] })).status).toBe(201);
    } finally {
      emu.setConfig({ skuRestrictions: { Standard_D4s_v5: null, Standard_E4s_v5: null } });
    }
  });
});

describe("throttling: ARM buckets per subscription and principal, Compute buckets per VM", () => {
  it("Compute's per-VM LowCostGet bucket (36, 12/min) refuses with 429 OperationNotAllowed and Retry-After; other VMs are unaffected", async () => {
    await Promise.all([createVm(e, "vm-thr-a"), createVm(e, "vm-thr-b")]);
    emu.setConfig({ throttle: { compute: true } });
    try {
      let refused: Awaited<ReturnType<typeof armRequest>> | undefined;
      let first: Awaited<ReturnType<typeof armRequest>> | undefined;
      for (let i = 0; i < 45 && !refused; i++) {
        const r = await armRequest(e, "GET", `${vmPath("vm-thr-a")}?${API}`);
        first ??= r;
        if (r.status === 429) refused = r;
      }
      expect(String(first!.headers["x-ms-ratelimit-remaining-resource"])).toMatch(/^Microsoft\.Compute\/LowCostGetVM1Min;35,/);
      expect(refused?.json<ArmErr>().error).toMatchObject({ code: "OperationNotAllowed", target: "LowCostGet" });
      expect(Number(refused?.headers["retry-after"])).toBeGreaterThanOrEqual(1);
      expect((await armRequest(e, "GET", `${vmPath("vm-thr-b")}?${API}`)).status).toBe(200);
    } finally {
      emu.setConfig({ throttle: { compute: false } });
    }
  });

  it("reports the remaining reads/writes/deletes on every answer and refuses reads beyond the read bucket", async () => {
    const get = await armRequest(e, "GET", nsgPath("nsg-good-0"));
    expect(Number(get.headers["x-ms-ratelimit-remaining-subscription-reads"])).toBeGreaterThan(0);
    const del = await armRequest(e, "DELETE", nsgPath("nsg-none"));
    expect(Number(del.headers["x-ms-ratelimit-remaining-subscription-deletes"])).toBeGreaterThan(0);
    emu.setConfig({ throttle: { readBurst: 2, readRefillPerSecond: 0.5 } });
    try {
      const codes: number[] = [];
      for (let i = 0; i < 4; i++) codes.push((await armRequest(e, "GET", nsgPath("nsg-good-0"))).status);
      expect(codes).toContain(429);
      const refused = await armRequest(e, "GET", nsgPath("nsg-good-0"));
      expect(refused.status).toBe(429);
      expect(refused.json<ArmErr>().error.code).toBe("SubscriptionRequestsThrottled");
      expect(Number(refused.headers["retry-after"])).toBeGreaterThanOrEqual(1);
      // Writes have their own bucket.
      expect((await armRequest(e, "PUT", nsgPath("nsg-write-ok"), { location: LOCATION, properties: {} })).status).toBe(201);
    } finally {
      emu.setConfig({ throttle: { readBurst: 250, readRefillPerSecond: 25 } });
    }
  });
});

describe("VM state moves through the operation", () => {
  it("right after a restart is accepted, the VM still looks running; the operation says InProgress", async () => {
    await createVm(e, "vm-lag");
    emu.setConfig({ stateLagMs: 400, latencyMs: { vmRestart: 800 } });
    try {
      const post = await armRequest(e, "POST", `${vmPath("vm-lag")}/restart?${API}`);
      expect(post.status).toBe(202);
      const iv = (await armRequest(e, "GET", `${vmPath("vm-lag")}/instanceView?${API}`)).json<{ statuses: { code: string }[] }>();
      expect(iv.statuses.map((s) => s.code)).toEqual(["ProvisioningState/succeeded", "PowerState/running"]);
      const op = (await armRequest(e, "GET", String(post.headers["azure-asyncoperation"]))).json<{ status: string }>();
      expect(op.status).toBe("InProgress");
    } finally {
      emu.setConfig({ stateLagMs: 0, latencyMs: { vmRestart: 0 } });
    }
  });
});

describe("Azure Files on an NFS share", () => {
  it("needs x-ms-version 2025-05-05 or later, and keeps owner, group and mode per directory", async () => {
    const h = { "x-ms-file-request-intent": "backup" };
    const create = await armRequest(e, "PUT", "/files/wsnfs/work?restype=share", undefined, { "x-ms-enabled-protocols": "NFS", "x-ms-version": "2025-05-05" });
    expect(create.status).toBe(201);
    const old = await armRequest(e, "PUT", "/files/wsnfs/work/Users?restype=directory", undefined, { ...h, "x-ms-version": "2024-11-04" });
    expect(old.status).toBe(400);
    expect(old.headers["x-ms-error-code"]).toBe("FileShareProtocolMismatch");
    const v = { ...h, "x-ms-version": "2025-05-05" };
    expect((await armRequest(e, "PUT", "/files/wsnfs/work/Users?restype=directory", undefined, v)).status).toBe(201);
    expect((await armRequest(e, "PUT", "/files/wsnfs/work/Users/alice?restype=directory", undefined, { ...v, "x-ms-owner": "1000", "x-ms-group": "1000", "x-ms-mode": "0750" })).status).toBe(201);
    const alice = await armRequest(e, "HEAD", "/files/wsnfs/work/Users/alice?restype=directory", undefined, v);
    expect([alice.headers["x-ms-owner"], alice.headers["x-ms-group"], alice.headers["x-ms-mode"]]).toEqual(["1000", "1000", "0750"]);
    const users = await armRequest(e, "HEAD", "/files/wsnfs/work/Users?restype=directory", undefined, v);
    expect([users.headers["x-ms-owner"], users.headers["x-ms-mode"]]).toEqual(["0", "0755"]);
  });
});
