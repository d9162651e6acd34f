// End to end: failures. A create that fails rolls back everything it made (checked in the
// emulator's admin state); injected ARM faults end in Running or CreateFailed with nothing
// left over; and no create body — whatever it is — yields a 5xx or leaves a record behind.
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { computeClient } from "../cloud/clients";
import { eventually, startStack, type Stack } from "../support/stack";

type Instance = { name: string; state: string; lastOperation?: { id: string; status: string; error?: { code: string; message: string } } };

const SUB = "00000000-0000-0000-0000-000000000001";
const GOOD_SUBNET = `/subscriptions/${SUB}/resourceGroups/rg-compute-local/providers/Microsoft.Network/virtualNetworks/vnet-ws-local/subnets/compute`;
// Allowed by policy, but missing in the cloud: the NIC PUT fails after the NSG exists.
const MISSING_SUBNET = `/subscriptions/${SUB}/resourceGroups/rg-compute-local/providers/Microsoft.Network/virtualNetworks/vnet-ws-local/subnets/gone`;

let stack: Stack;
beforeAll(async () => {
  stack = await startStack({
    env: { ALLOWED_SUBNET_IDS: `${GOOD_SUBNET},${MISSING_SUBNET}`, INSTANCE_POLL_INITIAL_MS: "50", INSTANCE_POLL_MAX_MS: "500", AZURE_SDK_MAX_RETRIES: "6" },
    cloud: { allowedSubnetIds: [GOOD_SUBNET] },
  });
});
afterAll(() => stack?.stop());

const get = (name: string) => stack.api<Instance>("GET", `/api/instances/${encodeURIComponent(name)}`, { as: "admin" });
const settled = (name: string, timeoutMs = 90_000) =>
  eventually(() => get(name), (r) => r.status === 200 && ["Running", "CreateFailed", "SetupFailed"].includes(r.body.state), timeoutMs, 150).then((r) => r.body);

function leftovers(name: string): string[] {
  const s = stack.cloudState();
  const key = `ci-${name.toLowerCase()}-`;
  return [...s.vms.map((v) => v.id), ...s.nics, ...s.nsgs, ...s.publicIps].filter((id) => id.toLowerCase().includes(key));
}

describe("failures", () => {
  test("a NIC that cannot be created: rollback, CreateFailed with the error, zero resources left; delete removes the record", async () => {
    const put = await stack.api("PUT", "/api/instances/alice-broken", { as: "alice", body: { vmSize: "Standard_D2s_v5", subnetId: MISSING_SUBNET } });
    expect(put.status, put.text).toBe(201);
    const inst = await settled("alice-broken");
    expect(inst.state).toBe("CreateFailed");
    expect(inst.lastOperation).toMatchObject({ status: "Failed" });
    expect(inst.lastOperation!.error!.message).toMatch(/subnet|InvalidResourceReference|network interface/i);
    expect(leftovers("alice-broken")).toEqual([]);
    const op = await stack.api<{ status: string; error?: { code: string } }>("GET", put.headers.get("operation-location")!, { as: "alice" });
    expect(op.body.status).toBe("Failed");

    expect((await stack.api("DELETE", "/api/instances/alice-broken", { as: "alice" })).status).toBe(202);
    await eventually(() => get("alice-broken"), (r) => r.status === 404, 30_000, 100);
  });

  test("with 429/500 faults injected, each create ends Running or CreateFailed with nothing left over", async () => {
    stack.setCloudConfig({ faults: { rate500: 0.15, rate429: 0.1, retryAfterSeconds: 0 } });
    const names = ["flaky-1", "flaky-2", "flaky-3"];
    try {
      const puts = await Promise.all(names.map((n) => stack.api("PUT", `/api/instances/${n}`, { as: "admin", body: { vmSize: "Standard_D2s_v5", assignedUser: "alice" } })));
      for (const [i, res] of puts.entries()) {
        // The trigger reads provider usages; if ARM keeps failing it answers 503 and stores nothing.
        expect([201, 503], res.text).toContain(res.status);
        if (res.status === 503) expect((await get(names[i]!)).status).toBe(404);
      }
      const created = names.filter((_, i) => puts[i]!.status === 201);
      const states = await Promise.all(created.map((n) => settled(n)));
      stack.setCloudConfig({ faults: { rate500: 0, rate429: 0 } });
      for (const [i, inst] of states.entries()) {
        expect(["Running", "CreateFailed"]).toContain(inst.state);
        if (inst.state === "CreateFailed") expect(leftovers(created[i]!)).toEqual([]);
      }
    } finally {
      stack.setCloudConfig({ faults: { rate500: 0, rate429: 0 } });
    }
  });

  test("with allocation failures after 201 and lost responses injected: each create ends Running or CreateFailed with Azure's message, nothing leaks", async () => {
    const names = ["alloc-1", "alloc-2", "alloc-3", "alloc-4"];
    stack.setCloudConfig({ outcomes: { vmCreate: { next: 2 } }, faults: { nextLost: 6 } });
    try {
      const puts = await Promise.all(names.map((n) => stack.api("PUT", `/api/instances/${n}`, { as: "admin", body: { vmSize: "Standard_D2s_v5", assignedUser: "alice" } })));
      for (const res of puts) expect(res.status, res.text).toBe(201);
      const states = await Promise.all(names.map((n) => settled(n)));
      expect(stack.cloudState().config.faults.nextLost).toBe(0); // every lost response happened
      for (const [i, inst] of states.entries()) {
        expect(["Running", "CreateFailed"]).toContain(inst.state);
        if (inst.state === "CreateFailed") {
          expect(inst.lastOperation?.error).toMatchObject({ code: "AllocationFailed" });
          expect(inst.lastOperation!.error!.message).toMatch(/sufficient capacity/);
          expect(leftovers(names[i]!)).toEqual([]);
        } else {
          expect(leftovers(names[i]!).length).toBe(3); // VM, NIC, NSG
        }
      }
      // The retried VM PUT of a failed create runs again (as on ARM), so at least one stays failed.
      expect(states.filter((x) => x.state === "CreateFailed").length).toBeGreaterThanOrEqual(1);
    } finally {
      stack.setCloudConfig({ outcomes: { vmCreate: { next: 0 } }, faults: { nextLost: 0 } });
    }
    for (const n of names) expect((await stack.api("DELETE", `/api/instances/${n}`, { as: "admin" })).status).toBe(202);
    for (const n of names) await eventually(() => get(n), (r) => r.status === 404, 60_000, 100);
    for (const n of names) expect(leftovers(n)).toEqual([]);
  });

  test("a setup run command that ends Unknown (provisioning Failed) gives SetupFailed at once, not after its timeout", async () => {
    stack.setCloudConfig({ outcomes: { runCommandStart: { next: 1 } } });
    try {
      const put = await stack.api("PUT", "/api/instances/unknown-rc", { as: "admin", body: { vmSize: "Standard_D2s_v5", assignedUser: "alice" } });
      expect(put.status, put.text).toBe(201);
      const inst = await settled("unknown-rc");
      expect(inst.state).toBe("SetupFailed");
      expect(inst.lastOperation!.error!.message).toMatch(/ended Failed.*did not report a result/);
    } finally {
      stack.setCloudConfig({ outcomes: { runCommandStart: { next: 0 } } });
    }
  });

  test("a VM already holding Azure's 25 run commands (finished leftovers) still gets its startup step: setup removes them first", async () => {
    const put = await stack.api("PUT", "/api/instances/rc-full", { as: "admin", body: { vmSize: "Standard_D2s_v5", assignedUser: "alice", setupScripts: { startup: { inline: "true", timeoutMinutes: 5 } } } });
    expect(put.status, put.text).toBe(201);
    expect((await settled("rc-full")).state).toBe("Running");
    const compute = computeClient({ url: stack.cloud.url, token: stack.cloud.token, caCertPem: stack.cloud.caCertPem, subscriptionId: stack.cloud.subscriptionId });
    const rg = stack.cloud.resourceGroup;
    const vm = "ci-rc-full-vm";
    for (let i = 0; i < 25; i++) {
      await compute.virtualMachineRunCommands.beginCreateOrUpdateAndWait(rg, vm, `leftover-${i}`, { location: stack.cloud.location, source: { script: "true" } }, { updateIntervalInMs: 20 });
    }
    const restart = await stack.api<{ id: string }>("POST", "/api/instances/rc-full/restart", { as: "admin" });
    expect(restart.status, restart.text).toBe(202);
    const done = await eventually(() => get("rc-full"), (r) => r.body.lastOperation?.id === restart.body.id && r.body.lastOperation.status !== "Running", 60_000, 100);
    expect(done.body.lastOperation, JSON.stringify(done.body.lastOperation)).toMatchObject({ status: "Succeeded" });
    expect(done.body.state).toBe("Running");
    const names: string[] = [];
    for await (const rc of compute.virtualMachineRunCommands.listByVirtualMachine(rg, vm)) names.push(rc.name!);
    expect(names.filter((n) => n.startsWith("leftover-"))).toEqual([]);
  });

  test("property: no create body yields a 5xx, and a refused one leaves no record", async () => {
    const validish = fc.record(
      {
        vmSize: fc.oneof(fc.constantFrom("Standard_D2s_v5", "standard_d2s_v5", "Standard_M999", ""), fc.string(), fc.integer()),
        assignedUser: fc.oneof(fc.constantFrom("alice", "bob", "../x", ""), fc.string()),
        description: fc.oneof(fc.string(), fc.integer()),
        sshPublicAccess: fc.oneof(fc.constantFrom("Enabled", "Disabled"), fc.string()),
        sshPublicKey: fc.oneof(fc.constant("ssh-ed25519 AAAA"), fc.string()),
        subnetId: fc.oneof(fc.constantFrom(GOOD_SUBNET, GOOD_SUBNET.toUpperCase(), "/subscriptions/x"), fc.string()),
        enablePublicIp: fc.oneof(fc.boolean(), fc.string()),
        idleShutdownMinutes: fc.oneof(fc.constant(null), fc.integer({ min: -10, max: 10_000 }), fc.double()),
        schedules: fc.oneof(
          fc.array(fc.record({ action: fc.constantFrom("Start", "Stop", "Pause"), cron: fc.constantFrom("0 19 * * 1-5", "* * *", "99 * * * *"), timeZone: fc.constantFrom("Europe/Stockholm", "CET+1", "W. Europe Standard Time") }), { maxLength: 6 }),
          fc.anything(),
        ),
        setupScripts: fc.oneof(fc.record({ creation: fc.record({ inline: fc.string(), timeoutMinutes: fc.integer({ min: -1, max: 500 }) }) }), fc.anything()),
        jobsPerCore: fc.oneof(fc.integer({ min: -2, max: 40 }), fc.string()),
        tags: fc.oneof(fc.dictionary(fc.string(), fc.string(), { maxKeys: 4 }), fc.anything()),
      },
      { requiredKeys: [] },
    );
    const body = fc.oneof(validish, fc.anything(), fc.string().map((s) => ({ raw: s })));
    const name = fc.oneof(fc.stringMatching(/^[a-z][a-z0-9-]{2,23}$/), fc.string({ minLength: 1, maxLength: 30 }));
    await fc.assert(
      fc.asyncProperty(name, body, async (n, b) => {
        if ((await get(n)).status === 200) return; // taken by an earlier run
        const payload = b && typeof b === "object" && "raw" in b && Object.keys(b).length === 1 ? String((b as { raw: string }).raw) : b;
        const res = await stack.api("PUT", `/api/instances/${encodeURIComponent(n)}`, { as: "alice", body: payload === undefined ? "" : payload, headers: { "content-type": "application/json" } });
        expect(res.status, `${res.status} ${res.text}`).toBeLessThan(500);
        if (res.status !== 201) expect((await get(n)).status).toBe(404);
      }),
      { numRuns: 60, seed: 20261126 },
    );
  });
});
