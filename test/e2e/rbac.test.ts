// RBAC end to end: the app, running in the local host as its managed identity (tokens from the
// emulator's managed-identity endpoint, as in a Function App), holds exactly infra/roles.json.
// Those roles suffice for an instance's whole life, each one is needed (without the operator
// role creation fails with ARM's AuthorizationFailed), and a call outside them is refused.
import http from "node:http";
import { afterAll, describe, expect, test } from "vitest";
import { eventually, startStack, type Stack } from "../support/stack";

type Instance = { state: string; lastOperation?: { status: string; error?: { code: string; message: string } } };
const fast = { INSTANCE_POLL_INITIAL_MS: "50", INSTANCE_POLL_MAX_MS: "500" };
const stacks: Stack[] = [];
afterAll(async () => {
  for (const s of stacks) await s.stop();
});

const waitState = (stack: Stack, name: string, states: string[]) =>
  eventually(() => stack.api<Instance>("GET", `/api/instances/${name}`, { as: "alice" }), (r) => r.status === 200 && states.includes(r.body.state), 60_000, 100).then((r) => r.body);

/** The app's own ARM token, fetched exactly as the host's ManagedIdentityCredential fetches it. */
function appToken(stack: Stack): Promise<string> {
  const url = `${stack.settings.IDENTITY_ENDPOINT}?api-version=2019-08-01&resource=${encodeURIComponent("https://management.azure.com")}&client_id=${stack.settings.AZURE_CLIENT_ID}`;
  return new Promise((resolve, reject) => {
    http.get(url, { headers: { "x-identity-header": stack.settings.IDENTITY_HEADER! } }, (res) => {
      let text = "";
      res.on("data", (c: Buffer) => (text += c.toString("utf8")));
      res.on("end", () => resolve((JSON.parse(text) as { access_token: string }).access_token));
    }).on("error", reject);
  });
}

describe("the template's roles", () => {
  test("suffice for create → stop → start → delete, and a call outside them gets 403 AuthorizationFailed", async () => {
    const stack = await startStack({ env: fast });
    stacks.push(stack);
    expect((await stack.api("GET", "/api/health")).status).toBe(200);
    const put = await stack.api("PUT", "/api/instances/rbac-1", { as: "alice", body: { vmSize: "Standard_D2s_v5" } });
    expect(put.status, put.text).toBe(201);
    expect((await waitState(stack, "rbac-1", ["Running", "CreateFailed"])).state).toBe("Running");
    expect((await stack.api("POST", "/api/instances/rbac-1/stop", { as: "alice" })).status).toBe(202);
    expect((await waitState(stack, "rbac-1", ["Stopped", "Unknown"])).state).toBe("Stopped");
    expect((await stack.api("POST", "/api/instances/rbac-1/start", { as: "alice" })).status).toBe(202);
    expect((await waitState(stack, "rbac-1", ["Running", "Unknown"])).state).toBe("Running");
    expect((await stack.api("DELETE", "/api/instances/rbac-1", { as: "alice" })).status).toBe(202);
    await eventually(() => stack.api("GET", "/api/instances/rbac-1", { as: "alice" }), (r) => r.status === 404, 60_000, 100);
    expect(stack.cloudState().vms).toEqual([]);

    // The same identity writing the VNet (Network Contributor territory): refused like ARM.
    const vnet = stack.settings.ALLOWED_SUBNET_IDS!.split(",")[0]!.replace(/\/subnets\/.*$/, "");
    const res = await fetchArm(stack, "PUT", `${vnet}?api-version=2024-05-01`, await appToken(stack), { location: "westeurope", properties: {} });
    expect(res.status).toBe(403);
    expect(res.body).toMatchObject({ error: { code: "AuthorizationFailed" } });
    expect(res.body.error.message).toMatch(/^The client '[0-9a-f-]+' with object id '[0-9a-f-]+' does not have authorization to perform action 'Microsoft\.Network\/virtualNetworks\/write' over scope '/);
  });

  test("are each needed: without the operator role the create fails with ARM's AuthorizationFailed", async () => {
    const stack = await startStack({
      env: fast,
      cloud: { identity: { appClientId: "5c1e7d2a-0b8e-4f43-9d61-0c0a5e1d7a01", omitAssignments: ["operator"] } },
    });
    stacks.push(stack);
    const put = await stack.api("PUT", "/api/instances/rbac-2", { as: "alice", body: { vmSize: "Standard_D2s_v5" } });
    expect(put.status, put.text).toBe(201);
    const failed = await waitState(stack, "rbac-2", ["CreateFailed", "Running"]);
    expect(failed.state).toBe("CreateFailed");
    expect(failed.lastOperation?.error?.code).toBe("AuthorizationFailed");
  });
});

async function fetchArm(stack: Stack, method: string, pathAndQuery: string, token: string, body: unknown): Promise<{ status: number; body: { error: { code: string; message: string } } }> {
  const https = await import("node:https");
  const payload = JSON.stringify(body);
  return new Promise((resolve, reject) => {
    const req = https.request(new URL(pathAndQuery, stack.cloud.url), {
      method, ca: stack.cloud.caCertPem, headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
    }, (res) => {
      let text = "";
      res.on("data", (c: Buffer) => (text += c.toString("utf8")));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, body: JSON.parse(text) as { error: { code: string; message: string } } }));
    });
    req.on("error", reject);
    req.end(payload);
  });
}
