// The emulator's registry is as strict as Azure Container Registry: no anonymous pull (401 with
// the Bearer challenge of the Docker registry token spec), an Entra ID token exchanged at
// /oauth2/exchange only for an identity holding AcrPull on the registry (roles made through ARM
// count at once, and so does their removal), ACR access tokens from /oauth2/token scoped to the
// repository (Basic with the null-GUID user, or the OAuth form), refusals in ACR's words.
import crypto from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { CloudEmulator } from "../../local/cloud/emulator";
import { armRequest, type EmulatorEndpoint } from "./clients";
import { createVm, startTestCloud } from "./support";

let emu: CloudEmulator;
let e: EmulatorEndpoint;
let registryDir: string;
const REPO = "team/tool";
const UNAUTHORIZED = "authentication required, visit https://aka.ms/acr/authorization for more information.";
const NULL_GUID = "00000000-0000-0000-0000-000000000000";
const ACR_AUDIENCE = "https://containerregistry.azure.net";

/** A one-manifest OCI layout (the registry serves layouts as local/cloud/job-image.sh writes them). */
function writeLayout(dir: string): string {
  const repo = path.join(dir, ...REPO.split("/"));
  const manifest = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: "application/vnd.oci.image.manifest.v1+json", layers: [] }));
  const digest = `sha256:${crypto.createHash("sha256").update(manifest).digest("hex")}`;
  fs.mkdirSync(path.join(repo, "blobs", "sha256"), { recursive: true });
  fs.writeFileSync(path.join(repo, "blobs", "sha256", digest.slice(7)), manifest);
  fs.writeFileSync(path.join(repo, "index.json"), JSON.stringify({ schemaVersion: 2, manifests: [{ mediaType: "application/vnd.oci.image.manifest.v1+json", digest, size: manifest.length, annotations: { "org.opencontainers.image.ref.name": "v1" } }] }));
  return digest;
}

beforeAll(async () => {
  registryDir = fs.mkdtempSync(path.join(os.tmpdir(), "registry-test-"));
  writeLayout(registryDir);
  ({ emu, endpoint: e } = await startTestCloud({ registryDir }));
});
afterAll(async () => {
  await emu?.stop();
  fs.rmSync(registryDir, { recursive: true, force: true });
});

const service = () => emu.registry.host;
const form = (fields: Record<string, string>) => new URLSearchParams(fields).toString();
const formHeaders = { "content-type": "application/x-www-form-urlencoded", authorization: "" };
const exchange = (aad: string) => armRequest(e, "POST", "/oauth2/exchange", form({ grant_type: "access_token", service: service(), access_token: aad }), formHeaders);
const manifest = (headers: Record<string, string>) => armRequest(e, "GET", `/v2/${REPO}/manifests/v1`, undefined, { authorization: "", ...headers });
const basic = (password: string) => ({ authorization: `Basic ${Buffer.from(`${NULL_GUID}:${password}`).toString("base64")}` });
const errorOf = (r: { json<T>(): T }) => r.json<{ errors: { code: string; message: string }[] }>().errors[0];

async function accessToken(refresh: string, scope = `repository:${REPO}:pull`): Promise<string> {
  const r = await armRequest(e, "GET", `/oauth2/token?service=${encodeURIComponent(service())}&scope=${encodeURIComponent(scope)}`, undefined, basic(refresh));
  expect(r.status, r.body).toBe(200);
  return r.json<{ access_token: string }>().access_token;
}

describe("registry (Azure Container Registry's stand-in)", () => {
  it("refuses anonymous requests with 401 and the Bearer challenge pointing at its token service", async () => {
    const root = await armRequest(e, "GET", "/v2/", undefined, { authorization: "" });
    expect(root.status).toBe(401);
    expect(root.headers["www-authenticate"]).toBe(`Bearer realm="https://${service()}/oauth2/token",service="${service()}"`);
    const m = await manifest({});
    expect(m.status).toBe(401);
    expect(m.headers["www-authenticate"]).toBe(`Bearer realm="https://${service()}/oauth2/token",service="${service()}",scope="repository:${REPO}:pull"`);
    expect(errorOf(m)).toEqual({ code: "UNAUTHORIZED", message: UNAUTHORIZED, detail: [{ Type: "repository", Name: REPO, Action: "pull" }] });
    // An ARM token is not a registry credential either.
    expect((await manifest({ authorization: `Bearer ${emu.token}` })).status).toBe(401);
  });

  it("exchanges an Entra ID token of an identity with pull rights for a refresh token, and that for a repository-scoped access token", async () => {
    // The operator is Owner on the subscription (Owner includes pull); ARM's audience is accepted (authentication-as-arm, ACR's default).
    const ex = await exchange(emu.token);
    expect(ex.status, ex.body).toBe(200);
    const refresh = ex.json<{ refresh_token: string }>().refresh_token;
    const access = await accessToken(refresh);
    const ok = await manifest({ authorization: `Bearer ${access}` });
    expect(ok.status, ok.body).toBe(200);
    expect(ok.headers["docker-content-digest"]).toMatch(/^sha256:/);
    // The OAuth form Docker posts gives the same.
    const posted = await armRequest(e, "POST", "/oauth2/token", form({ grant_type: "refresh_token", service: service(), scope: `repository:${REPO}:pull`, refresh_token: refresh }), formHeaders);
    expect(posted.status, posted.body).toBe(200);
    // A token for another repository does not open this one; a refresh token is no access token.
    const other = await accessToken(refresh, "repository:other/repo:pull");
    const wrongScope = await manifest({ authorization: `Bearer ${other}` });
    expect(wrongScope.status).toBe(401);
    expect(wrongScope.headers["www-authenticate"]).toContain('error="insufficient_scope"');
    expect((await manifest({ authorization: `Bearer ${refresh}` })).status).toBe(401);
    // Every credential it saw or made is listed (tests look for leaks with it).
    expect(emu.registry.secrets()).toEqual(expect.arrayContaining([emu.token, refresh, access]));
  });

  it("refuses the exchange for tokens that are not good Entra ID tokens for it, in ACR's words", async () => {
    const forged = `${emu.token.slice(0, emu.token.lastIndexOf(".") + 1)}${Buffer.from("not a signature").toString("base64url")}`;
    const storage = emu.identity.issue({ principalId: crypto.randomUUID(), audience: "https://storage.azure.com" });
    const expired = emu.identity.issue({ principalId: crypto.randomUUID(), audience: ACR_AUDIENCE, notBefore: Math.floor(Date.now() / 1000) - 7200, lifetimeSeconds: 60 });
    for (const aad of ["", "garbage", forged, storage, expired]) {
      const r = await exchange(aad);
      expect(r.status).toBe(401);
      expect(errorOf(r)).toEqual({ code: "UNAUTHORIZED", message: UNAUTHORIZED });
    }
    const badRefresh = await armRequest(e, "GET", `/oauth2/token?service=${encodeURIComponent(service())}&scope=repository:${REPO}:pull`, undefined, basic(emu.token));
    expect(badRefresh.status).toBe(401);
  });

  it("a VM identity pulls only while it holds AcrPull on the registry (a role assignment made through ARM)", async () => {
    const { vm } = await createVm(e, "vm-acr");
    const principalId = vm.identity!.principalId!;
    const aad = emu.identity.issue({ principalId, audience: ACR_AUDIENCE });
    const before = await exchange(aad);
    expect(before.status).toBe(401);
    expect(errorOf(before)!.message).toBe(UNAUTHORIZED);

    const assignment = `${emu.registry.resourceId}/providers/Microsoft.Authorization/roleAssignments/${crypto.randomUUID()}?api-version=2022-04-01`;
    const put = await armRequest(e, "PUT", assignment, {
      properties: { roleDefinitionId: `/subscriptions/${e.subscriptionId}/providers/Microsoft.Authorization/roleDefinitions/7f951dda-4ed3-4680-a7ca-43fe172d538d`, principalId, principalType: "ServicePrincipal" },
    });
    expect(put.status, put.body).toBe(201);
    const granted = await exchange(aad);
    expect(granted.status, granted.body).toBe(200);
    const refresh = granted.json<{ refresh_token: string }>().refresh_token;
    expect((await manifest({ authorization: `Bearer ${await accessToken(refresh)}` })).status).toBe(200);

    expect((await armRequest(e, "DELETE", assignment)).status).toBe(200);
    expect((await exchange(aad)).status).toBe(401);
    // The refresh token it already has no longer buys a pull.
    const after = await armRequest(e, "GET", `/oauth2/token?service=${encodeURIComponent(service())}&scope=repository:${REPO}:pull`, undefined, basic(refresh));
    expect(after.status).toBe(401);
    expect(errorOf(after)!.message).toBe(UNAUTHORIZED);
  });
});
