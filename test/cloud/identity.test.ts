// The emulator as the local Entra ID and ARM's gatekeeper: managed-identity tokens over the
// App Service protocol (what ManagedIdentityCredential uses in a Function App) and over IMDS
// for a VM's system-assigned identity; tokens ARM would refuse are refused with ARM's codes;
// the app's identity can do exactly what infra/roles.json grants.
import crypto from "node:crypto";
import http from "node:http";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ManagedIdentityCredential } from "@azure/identity";
import type { CloudEmulator } from "../../local/cloud/emulator";
import { armRequest, computeClient, type EmulatorEndpoint } from "./clients";
import { createVm, RG, startTestCloud, SUB, SUBNET_ID } from "./support";

let emu: CloudEmulator;
let e: EmulatorEndpoint;
const ARM = "https://management.azure.com";

beforeAll(async () => {
  ({ emu, endpoint: e } = await startTestCloud());
});
afterAll(async () => {
  await emu?.stop();
});

const claims = (token: string) => JSON.parse(Buffer.from(token.split(".")[1]!, "base64url").toString("utf8")) as Record<string, unknown>;
const get = (url: string, headers: Record<string, string> = {}) =>
  new Promise<{ status: number; body: Record<string, unknown> }>((resolve, reject) => {
    http.get(url, { headers }, (res) => {
      let text = "";
      res.on("data", (c: Buffer) => (text += c.toString("utf8")));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, body: JSON.parse(text) as Record<string, unknown> }));
    }).on("error", reject);
  });
const asBearer = (token: string) => ({ authorization: `Bearer ${token}` });
const vmsPath = `/subscriptions/${SUB}/resourceGroups/${RG}/providers/Microsoft.Compute/virtualMachines?api-version=2024-07-01`;

describe("managed-identity endpoint (App Service protocol)", () => {
  const tokenUrl = (q: string) => `${emu.identity.endpoint}?api-version=2019-08-01&${q}`;

  it("serves the app's identity a signed ARM token to the holder of IDENTITY_HEADER only", async () => {
    const ok = await get(tokenUrl(`resource=${encodeURIComponent(ARM)}&client_id=${emu.identity.appClientId}`), { "x-identity-header": emu.identity.header });
    expect(ok.status).toBe(200);
    const c = claims(String(ok.body.access_token));
    expect(c).toMatchObject({ aud: ARM, oid: emu.identity.appPrincipalId, appid: emu.identity.appClientId, iss: `https://sts.windows.net/${emu.identity.tenantId}/` });
    expect(Number(c.exp)).toBeGreaterThan(Date.now() / 1000 + 3600);
    expect(Number(ok.body.expires_on)).toBe(c.exp);
    const noSecret = await get(tokenUrl(`resource=${encodeURIComponent(ARM)}&client_id=${emu.identity.appClientId}`), { "x-identity-header": "guess" });
    expect(noSecret.status).toBe(401);
    const stranger = await get(tokenUrl(`resource=${encodeURIComponent(ARM)}&client_id=${crypto.randomUUID()}`), { "x-identity-header": emu.identity.header });
    expect(stranger).toMatchObject({ status: 400, body: { message: "No managed identity found for specified ClientId/ResourceId/PrincipalId." } });
  });

  it("is what @azure/identity's ManagedIdentityCredential uses, and that token lists the app's VMs", async () => {
    process.env.IDENTITY_ENDPOINT = emu.identity.endpoint;
    process.env.IDENTITY_HEADER = emu.identity.header;
    const token = await new ManagedIdentityCredential({ clientId: emu.identity.appClientId }).getToken(`${ARM}/.default`);
    expect(claims(token.token).oid).toBe(emu.identity.appPrincipalId);
    expect((await armRequest(e, "GET", vmsPath, undefined, asBearer(token.token))).status).toBe(200);
  });
});

describe("tokens ARM refuses", () => {
  it.each<[string, string, () => string]>([
    ["a storage token (wrong audience)", "InvalidAuthenticationTokenAudience", () => emu.identity.issue({ principalId: emu.identity.appPrincipalId, audience: "https://storage.azure.com" })],
    ["an expired token", "ExpiredAuthenticationToken", () => emu.identity.issue({ principalId: emu.identity.appPrincipalId, audience: ARM, notBefore: Math.floor(Date.now() / 1000) - 7200, lifetimeSeconds: 60 })],
    ["a token from another tenant", "InvalidAuthenticationTokenTenant", () => emu.identity.issue({ principalId: emu.identity.appPrincipalId, audience: ARM, tenantId: crypto.randomUUID() })],
    ["a token signed by someone else", "InvalidAuthenticationToken", () => forged()],
  ])("%s → 401 %s", async (_case, code, token) => {
    const res = await armRequest(e, "GET", vmsPath, undefined, asBearer(token()));
    expect(res.status).toBe(401);
    expect(res.json()).toMatchObject({ error: { code } });
    expect(String(res.headers["www-authenticate"])).toContain("invalid_token");
  });

  it("a valid token for another identity (no role assignments) → 403 AuthorizationFailed", async () => {
    const other = crypto.randomUUID();
    const res = await armRequest(e, "GET", vmsPath, undefined, asBearer(emu.identity.issue({ principalId: other, audience: ARM })));
    expect(res.status).toBe(403);
    expect(res.json<{ error: { code: string; message: string } }>().error).toEqual({
      code: "AuthorizationFailed",
      message: `The client '${other}' with object id '${other}' does not have authorization to perform action 'Microsoft.Compute/virtualMachines/read' over scope '/subscriptions/${SUB}/resourceGroups/${RG}' or the scope is invalid. If access was recently granted, please refresh your credentials.`,
    });
  });

  it("Files refuses an ARM token as Storage does (401 InvalidAuthenticationInfo)", async () => {
    const res = await armRequest({ ...e, storageToken: e.token }, "GET", "/files/wslocalfiles?comp=list");
    expect(res.status).toBe(401);
    expect(res.body).toContain("<Code>InvalidAuthenticationInfo</Code>");
    expect(res.body).toContain("Audience validation failed");
  });
});

describe("the app's identity holds exactly infra/roles.json", () => {
  const appToken = () => emu.identity.issue({ principalId: emu.identity.appPrincipalId, clientId: emu.identity.appClientId, audience: ARM });

  it("may read SKUs and its resource group's VMs, but not write the VNet or touch another resource group", async () => {
    expect((await armRequest(e, "GET", `/subscriptions/${SUB}/providers/Microsoft.Compute/skus?api-version=2021-07-01`, undefined, asBearer(appToken()))).status).toBe(200);
    const vnet = SUBNET_ID.replace(/\/subnets\/.*$/, "");
    const put = await armRequest(e, "PUT", `${vnet}?api-version=2024-05-01`, { location: "westeurope", properties: {} }, asBearer(appToken()));
    expect(put.status).toBe(403);
    expect(put.json()).toMatchObject({ error: { code: "AuthorizationFailed" } });
    expect(put.json<{ error: { message: string } }>().error.message).toContain("'Microsoft.Network/virtualNetworks/write'");
    const elsewhere = await armRequest(e, "GET", `/subscriptions/${SUB}/resourceGroups/rg-other/providers/Microsoft.Compute/virtualMachines?api-version=2024-07-01`, undefined, asBearer(appToken()));
    expect(elsewhere.status).toBe(403);
  });
});

describe("IMDS for a VM's system-assigned identity", () => {
  it("issues the VM's own token to a process that asks with Metadata: true, and none for a VM without one", async () => {
    const { vm, body } = await createVm(e, "with-identity"); // the test VMs have a system-assigned identity
    const principalId = vm.identity!.principalId!;
    const url = `${emu.identity.imdsAuthorityHost("with-identity")}/metadata/identity/oauth2/token?api-version=2018-02-01&resource=${encodeURIComponent("https://storage.azure.com")}`;
    const ok = await get(url, { metadata: "true" });
    expect(ok.status).toBe(200);
    expect(claims(String(ok.body.access_token))).toMatchObject({ oid: principalId, aud: "https://storage.azure.com" });
    expect((await get(url)).status).toBe(400);
    const nic = await createVm(e, "no-identity").then((r) => r.nicId);
    await computeClient(e).virtualMachines.beginCreateOrUpdateAndWait(RG, "no-identity", { ...body, networkProfile: { networkInterfaces: [{ id: nic }] }, identity: { type: "None" } }, { updateIntervalInMs: 20 });
    const none = await get(url.replace("with-identity", "no-identity"), { metadata: "true" });
    expect(none).toMatchObject({ status: 400, body: { error_description: "Identity not found" } });
  });
});

function forged(): string {
  const { privateKey } = crypto.generateKeyPairSync("rsa", { modulusLength: 2048 });
  const part = (o: object) => Buffer.from(JSON.stringify(o)).toString("base64url");
  const now = Math.floor(Date.now() / 1000);
  const unsigned = `${part({ alg: "RS256", typ: "JWT" })}.${part({ aud: ARM, iss: `https://sts.windows.net/${emu.identity.tenantId}/`, oid: emu.identity.appPrincipalId, exp: now + 3600, nbf: now })}`;
  return `${unsigned}.${crypto.sign("RSA-SHA256", Buffer.from(unsigned), privateKey).toString("base64url")}`;
}
