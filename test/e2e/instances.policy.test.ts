// End to end: who may do what (admin on behalf of a user, other user 404, reader 403), SSH
// and network policy read back from the emulator, immutable fields, quota, lists, sizes.
import fs from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { networkClient } from "../cloud/clients";
import { sshPublicKey } from "../cloud/support";
import { keys } from "../unit/keys";
import { eventually, startStack, type Caller, type Stack } from "../support/stack";

type Instance = { name: string; state: string; assignedUser: string; createdBy: string; ssh: { publicAccess: string; adminUserName: string; address?: string; port?: number }; [k: string]: unknown };
type ErrorBody = { error: { code: string; message: string; target?: string; details?: { target: string }[] } };

let stack: Stack;
beforeAll(async () => {
  stack = await startStack({
    // Workspace policy: 4 vCPUs of Es v5 (one E4s_v5); the subscription: no NCas T4 v3 cores at all.
    env: { QUOTA_VCPUS_PER_FAMILY: JSON.stringify({ standardESv5Family: 4, standardDSv5Family: 64 }), INSTANCE_POLL_INITIAL_MS: "50", INSTANCE_POLL_MAX_MS: "500" },
    // The H100 size is allowed by policy but restricted for the subscription (ARM `restrictions`).
    cloud: { quotaPerFamily: { standardESv5Family: 100, standardNCASv3_T4Family: 0 }, config: { skuRestrictions: { Standard_NC40ads_H100_v5: { type: "Location", reasonCode: "NotAvailableForSubscription" } } } },
  });
});
afterAll(() => stack?.stop());

const put = (name: string, as: Caller, body: unknown) => stack.api<Instance & ErrorBody>("PUT", `/api/instances/${name}`, { as, body });
const settled = (name: string, as: Caller = "admin") =>
  eventually(() => stack.api<Instance>("GET", `/api/instances/${name}`, { as }), (r) => r.status === 200 && !["Creating", "SettingUp"].includes(r.body.state), 60_000, 100).then((r) => r.body);

function endpoint() {
  return { url: stack.cloud.url, token: stack.cloud.token, storageToken: stack.cloud.storageToken, caCertPem: stack.cloud.caCertPem, subscriptionId: stack.cloud.subscriptionId };
}

describe("identity and roles", () => {
  test("an admin creates for bob; bob sees it, alice gets 404, a reader reads but cannot write", async () => {
    const created = await put("bob-1", "admin", { vmSize: "Standard_D2s_v5", assignedUser: "bob" });
    expect(created.status, created.text).toBe(201);
    expect(created.body).toMatchObject({ assignedUser: "bob", createdBy: "admin" });
    expect((await settled("bob-1")).state).toBe("Running");

    expect((await stack.api("GET", "/api/instances/bob-1", { as: "bob" })).status).toBe(200);
    const alice = await stack.api<ErrorBody>("GET", "/api/instances/bob-1", { as: "alice" });
    expect(alice.status).toBe(404);
    expect(alice.body.error.code).toBe("NotFound");
    expect((await stack.api("POST", "/api/instances/bob-1/stop", { as: "alice" })).status).toBe(404);
    const aliceList = await stack.api<{ value: Instance[] }>("GET", "/api/instances", { as: "alice" });
    expect(aliceList.body.value.map((i) => i.name)).not.toContain("bob-1");

    expect((await stack.api("GET", "/api/instances/bob-1", { as: "reader" })).status).toBe(200);
    expect((await stack.api("POST", "/api/instances/bob-1/stop", { as: "reader" })).status).toBe(403);
    expect((await stack.api("DELETE", "/api/instances/bob-1", { as: "reader" })).status).toBe(403);
    expect((await stack.api("PATCH", "/api/instances/bob-1", { as: "reader", body: { description: "x" } })).status).toBe(403);
    expect((await put("reader-1", "reader", { vmSize: "Standard_D2s_v5" })).status).toBe(403);
    const onBehalf = await put("alice-for-bob", "alice", { vmSize: "Standard_D2s_v5", assignedUser: "bob" });
    expect(onBehalf.status).toBe(403);
    expect((await stack.api("GET", "/api/instances/alice-for-bob", { as: "admin" })).status).toBe(404);
    expect((await stack.api("GET", "/api/instances/bob-1")).status).toBe(401);
  });

  test("lists filter by state and assignedUser and page with nextLink", async () => {
    expect((await put("alice-2", "alice", { vmSize: "Standard_D2s_v5" })).status).toBe(201);
    await settled("alice-2");
    const byUser = await stack.api<{ value: Instance[] }>("GET", "/api/instances?assignedUser=bob", { as: "admin" });
    expect(byUser.body.value.map((i) => i.name)).toEqual(["bob-1"]);
    const running = await stack.api<{ value: Instance[] }>("GET", "/api/instances?state=Running", { as: "reader" });
    expect(running.body.value.map((i) => i.name).sort()).toEqual(expect.arrayContaining(["alice-2", "bob-1"]));
    const names: string[] = [];
    let url: string | undefined = "/api/instances?top=1";
    while (url) {
      const page: { status: number; body: { value: Instance[]; nextLink?: string } } = await stack.api("GET", url, { as: "admin" });
      expect(page.status).toBe(200);
      names.push(...page.body.value.map((i) => i.name));
      url = page.body.nextLink;
    }
    expect(names).toEqual(expect.arrayContaining(["alice-2", "bob-1"]));
    expect(new Set(names).size).toBe(names.length);
    expect((await stack.api<ErrorBody>("GET", "/api/instances?state=Sleeping", { as: "admin" })).status).toBe(400);
  });
});

describe("policies", () => {
  test("SSH Enabled opens port 22 only from SSH_ALLOWED_SOURCE_PREFIXES; Disabled opens nothing", async () => {
    const res = await put("alice-ssh", "alice", { vmSize: "Standard_D2s_v5", sshPublicAccess: "Enabled", sshPublicKey: sshPublicKey() });
    expect(res.status, res.text).toBe(201);
    const inst = await settled("alice-ssh", "alice");
    expect(inst.state).toBe("Running");
    expect(inst.ssh).toMatchObject({ publicAccess: "Enabled", adminUserName: "azureuser", port: 22 });
    expect(inst.ssh.address).toMatch(/^\d+\.\d+\.\d+\.\d+$/);

    const net = networkClient(endpoint());
    const nsg = await net.networkSecurityGroups.get(stack.settings.AZURE_RESOURCE_GROUP!, "ci-alice-ssh-nsg");
    const allows = (nsg.securityRules ?? []).filter((r) => r.direction === "Inbound" && r.access === "Allow");
    expect(allows).toHaveLength(1);
    const prefixes = allows[0]!.sourceAddressPrefixes?.length ? allows[0]!.sourceAddressPrefixes : [allows[0]!.sourceAddressPrefix];
    // A single address may be written with or without /32.
    expect(prefixes!.map((p) => p!.replace(/\/32$/, "")).sort()).toEqual(["198.51.100.17", "203.0.113.0/24"]);
    expect(allows[0]!.destinationPortRanges?.length ? allows[0]!.destinationPortRanges : [allows[0]!.destinationPortRange]).toEqual(["22"]);
    const denyAll = (nsg.securityRules ?? []).find((r) => r.direction === "Inbound" && r.access === "Deny");
    expect([denyAll?.sourceAddressPrefix, ...(denyAll?.sourceAddressPrefixes ?? [])]).toContain("*");

    const closed = await net.networkSecurityGroups.get(stack.settings.AZURE_RESOURCE_GROUP!, "ci-alice-2-nsg");
    expect((closed.securityRules ?? []).filter((r) => r.direction === "Inbound" && r.access === "Allow")).toEqual([]);
    const nic = await net.networkInterfaces.get(stack.settings.AZURE_RESOURCE_GROUP!, "ci-alice-ssh-nic");
    expect(nic.ipConfigurations?.[0]?.subnet?.id?.toLowerCase()).toBe(stack.settings.ALLOWED_SUBNET_IDS!.split(",")[0]!.toLowerCase());
    expect(nic.ipConfigurations?.[0]?.publicIPAddress).toBeUndefined();

    // The key may be replaced; a restart installs the new one.
    const newKey = sshPublicKey();
    expect((await stack.api("PATCH", "/api/instances/alice-ssh", { as: "alice", body: { sshPublicKey: newKey } })).status).toBe(200);
    const restart = await stack.api<{ id: string }>("POST", "/api/instances/alice-ssh/restart", { as: "alice" });
    expect(restart.status, restart.text).toBe(202);
    await eventually(() => stack.api<{ status: string }>("GET", `/api/operations/${restart.body.id}`, { as: "alice" }), (r) => r.body.status !== "Running", 60_000, 100);
    const vmDir = stack.cloudState().vms.find((v) => v.name === "ci-alice-ssh-vm")!.dir;
    expect(fs.readFileSync(path.join(vmDir, "home", "azureuser", ".ssh", "authorized_keys"), "utf8").trim()).toBe(newKey);
  });

  test("changing an immutable field is 409 PropertyChangeNotAllowed; mutable fields change", async () => {
    const res = await stack.api<ErrorBody>("PATCH", "/api/instances/alice-2", { as: "alice", body: { vmSize: "Standard_D4s_v5", description: "x" } });
    expect(res.status).toBe(409);
    expect(res.body.error.code).toBe("PropertyChangeNotAllowed");
    expect(res.body.error.target).toBe("vmSize");
    const ok = await stack.api<Instance>("PATCH", "/api/instances/alice-2", {
      as: "alice",
      body: { vmSize: "Standard_D2s_v5", idleShutdownMinutes: 30, tags: { team: "vision" }, schedules: [{ action: "Stop", cron: "0 19 * * 1-5", timeZone: "Europe/Stockholm" }] },
    });
    expect(ok.status, ok.text).toBe(200);
    expect(ok.body).toMatchObject({ idleShutdownMinutes: 30, tags: { team: "vision" } });
    expect((ok.body as { autoStop?: { nextScheduledAction?: { action: string } } }).autoStop?.nextScheduledAction?.action).toBe("Stop");
  });

  test("quota: the workspace policy and the subscription's usages both refuse with 409 QuotaExceeded, leaving no record", async () => {
    expect((await put("alice-e4-1", "alice", { vmSize: "Standard_E4s_v5" })).status).toBe(201);
    const second = await put("alice-e4-2", "alice", { vmSize: "Standard_E4s_v5" });
    expect(second.status).toBe(409);
    expect(second.body.error.code).toBe("QuotaExceeded");
    expect(second.body.error.message).toMatch(/workspace/);
    const gpu = await put("alice-gpu", "alice", { vmSize: "Standard_NC4as_T4_v3" });
    expect(gpu.status).toBe(409);
    expect(gpu.body.error.message).toMatch(/subscription/);
    for (const n of ["alice-e4-2", "alice-gpu"]) expect((await stack.api("GET", `/api/instances/${n}`, { as: "admin" })).status).toBe(404);
  });

  test("bad input is a 400 naming the field, never a record", async () => {
    const cases: [string, unknown, string][] = [
      ["1bad", { vmSize: "Standard_D2s_v5" }, "name"],
      ["alice-x", { vmSize: "Standard_M128" }, "vmSize"],
      ["alice-x", { vmSize: "Standard_D2s_v5", sshPublicAccess: "Enabled" }, "sshPublicKey"],
      // Azure VMs take RSA ≥ 2048 and ED25519 only: an ECDSA key would fail the VM create later.
      ["alice-x", { vmSize: "Standard_D2s_v5", sshPublicAccess: "Enabled", sshPublicKey: keys.ecdsa.publicKey }, "sshPublicKey"],
      ["alice-x", { vmSize: "Standard_D2s_v5", enablePublicIp: true }, "enablePublicIp"],
      ["alice-x", { vmSize: "Standard_D2s_v5", idleShutdownMinutes: 5 }, "idleShutdownMinutes"],
      ["alice-x", { vmSize: "Standard_D2s_v5", subnetId: "/subscriptions/x/resourceGroups/y/providers/Microsoft.Network/virtualNetworks/v/subnets/s" }, "subnetId"],
    ];
    for (const [name, body, target] of cases) {
      const res = await put(name, "alice", body);
      expect(res.status, `${name} ${JSON.stringify(body)}`).toBe(400);
      expect(JSON.stringify(res.body.error)).toContain(target);
    }
    expect((await stack.api("GET", "/api/instances/alice-x", { as: "alice" })).status).toBe(404);
  });

  test("a size Azure restricts for the subscription is not offered, and a create for it is 409 SkuNotAvailable, never a record", async () => {
    const sizes = await stack.api<{ value: { name: string }[] }>("GET", "/api/sizes", { as: "alice" });
    expect(sizes.body.value.map((s) => s.name)).not.toContain("Standard_NC40ads_H100_v5");
    const res = await put("alice-h100", "alice", { vmSize: "Standard_NC40ads_H100_v5" });
    expect(res.status, res.text).toBe(409);
    expect(res.body.error).toMatchObject({ code: "SkuNotAvailable", target: "vmSize" });
    expect((await stack.api("GET", "/api/instances/alice-h100", { as: "admin" })).status).toBe(404);
  });

  test("GET /api/sizes lists the allowed sizes with quota use; openapi.json is served", async () => {
    const sizes = await stack.api<{ value: { name: string; family: string; vCpus: number; gpus: number }[]; quota: { family: string; used: number; limit?: number }[] }>("GET", "/api/sizes", { as: "alice" });
    expect(sizes.status).toBe(200);
    expect(sizes.body.value.find((s) => s.name === "Standard_NC4as_T4_v3")).toMatchObject({ family: "standardNCASv3_T4Family", vCpus: 4, gpus: 1 });
    expect(sizes.body.quota.find((q) => q.family === "standardESv5Family")).toMatchObject({ used: 4, limit: 4 });
    // The create policy a form needs, as the settings say.
    const policy = (sizes.body as unknown as { policy: Record<string, unknown> }).policy;
    expect(policy).toEqual({
      sshPublicAccess: stack.settings.ALLOW_SSH_PUBLIC_ACCESS === "true",
      publicIp: stack.settings.ALLOW_PUBLIC_IP === "true",
      subnetIds: stack.settings.ALLOWED_SUBNET_IDS!.split(",").map((x) => x.trim()).filter(Boolean),
      idleShutdownMinMinutes: Number(stack.settings.IDLE_SHUTDOWN_MIN_MINUTES ?? 15),
      idleShutdownMaxMinutes: 4320,
    });
    const doc = await stack.api<{ openapi: string; paths: Record<string, unknown> }>("GET", "/api/openapi.json");
    expect(doc.status).toBe(200);
    expect(doc.body.openapi).toMatch(/^3\.1/);
    expect(Object.keys(doc.body.paths)).toContain("/api/instances/{name}");
  });
});
