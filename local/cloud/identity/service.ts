// The emulator as the local Entra ID: the token issuer, the identities it knows, the role
// assignments they hold, and the managed-identity endpoints processes use to get tokens —
//  - App Service protocol (IDENTITY_ENDPOINT + IDENTITY_HEADER, api-version 2019-08-01), which
//    `npm start` and the test stacks give the local Functions host, as Azure gives a Function App;
//  - IMDS protocol (/metadata/identity/oauth2/token with `Metadata: true`) per emulated VM at
//    <endpoint base>/vms/<vm name>, for processes inside a VM with a system-assigned identity
//    (ManagedIdentityCredential finds it through AZURE_POD_IDENTITY_AUTHORITY_HOST).
// Plain HTTP on loopback, as both endpoints are in Azure (localhost / 169.254.169.254).
import http from "node:http";
import { randomBytes, timingSafeEqual } from "node:crypto";
import path from "node:path";
import type { AddressInfo } from "node:net";
import type { JsonObject } from "../http";
import { Rbac, type TemplateScopes } from "../rbac";
import { stableGuid, TokenIssuer, type Principal } from "./issuer";

export type IdentityOptions = {
  tenantId?: string;
  /** Client id of the app's user-assigned identity (the app's AZURE_CLIENT_ID). */
  appClientId?: string;
  /** The workspace Files account the app's file role is scoped to (WORKSPACE_STORAGE_ACCOUNT). */
  workspaceStorageAccount?: string;
  /** Assignments of infra/roles.json (by name) to leave out: tests prove each one is needed. */
  omitAssignments?: string[];
  /** 0 (default) picks a free port. */
  port?: number;
  /** The IDENTITY_HEADER secret; default: random per start. */
  header?: string;
};

export const DEFAULT_TENANT_ID = "00000000-0000-0000-0000-0000000000aa";
export const DEFAULT_APP_CLIENT_ID = "5c1e7d2a-0b8e-4f43-9d61-0c0a5e1d7a01";

/** Looks up a VM's system-assigned identity principal id by VM name (undefined: no such VM or no identity). */
export type VmIdentityLookup = (vmName: string) => { principalId?: string; resourceId: string; privateIp?: string } | undefined;

/**
 * The VM's address on this machine: its NIC's private IP a.b.c.d becomes the loopback address
 * 127.b.c.d (the emulator's subnets are in 10.0.0.0/8, so VMs of one emulator never share one).
 * Azure refuses 127.0.0.0/8 in a VNet, so ARM keeps the real private IP; the VM's IMDS, which is
 * what software on the VM asks, answers this one, the address it can listen on here.
 */
export function vmLoopbackAddress(privateIp: string): string | undefined {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(privateIp);
  return m ? `127.${m[2]}.${m[3]}.${m[4]}` : undefined;
}

/** Whoever deployed (the same object id every run, so a token survives an emulator restart). */
export const OPERATOR: Principal = { kind: "user", clientId: "04b07795-8ddb-461a-bbee-02f9e1bf7b46", principalId: stableGuid("operator"), name: "Local Operator" };

export class IdentityService {
  readonly issuer: TokenIssuer;
  readonly rbac = new Rbac();
  /** The app's user-assigned managed identity: holds exactly the roles of infra/roles.json. */
  readonly app: Principal;
  /** Whoever deployed (Owner + Storage File Data Privileged Contributor on the subscription): tests and admin. */
  readonly operator: Principal;
  readonly header: string;
  private server?: http.Server;
  private base = "";

  constructor(cloudDir: string, private readonly opts: IdentityOptions, scopes: TemplateScopes, private readonly vmIdentity: VmIdentityLookup) {
    this.issuer = new TokenIssuer(opts.tenantId ?? DEFAULT_TENANT_ID, path.join(cloudDir, "identity"));
    const clientId = (opts.appClientId ?? DEFAULT_APP_CLIENT_ID).toLowerCase();
    this.app = { kind: "userAssignedIdentity", clientId, principalId: stableGuid(`principal:${clientId}`), name: "id-compute-local" };
    this.operator = OPERATOR;
    this.header = opts.header ?? randomBytes(24).toString("base64url");
    this.rbac.assignTemplateRoles(this.app.principalId, scopes, opts.omitAssignments ?? []);
    // Owner grants no data actions (as in Azure), so the operator also holds file data access.
    for (const roleDefinitionId of ["8e3af657-a8ff-443c-a75c-2fe8c4bcb635", "69566ab7-960f-475b-8e7c-b3118f30c6bd"]) {
      this.rbac.assign({ principalId: this.operator.principalId, roleDefinitionId, scope: scopes.subscription[0]! });
    }
  }

  /** IDENTITY_ENDPOINT for the Functions host. */
  get endpoint(): string {
    return `${this.base}/msi/token`;
  }

  /** AZURE_POD_IDENTITY_AUTHORITY_HOST for processes inside VM `vmName`. */
  imdsAuthorityHost(vmName: string): string {
    return `${this.base}/vms/${encodeURIComponent(vmName)}`;
  }

  async start(): Promise<void> {
    this.server = http.createServer((req, res) => this.handle(req, res));
    await new Promise<void>((resolve, reject) => {
      this.server!.once("error", reject);
      this.server!.listen(this.opts.port ?? 0, "127.0.0.1", () => resolve());
    });
    this.base = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  async stop(): Promise<void> {
    if (!this.server) return;
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server!.close(() => resolve()));
  }

  private handle(req: http.IncomingMessage, res: http.ServerResponse): void {
    const url = new URL(req.url ?? "/", "http://127.0.0.1");
    const send = (status: number, body: JsonObject) => {
      const text = JSON.stringify(body);
      res.writeHead(status, { "content-type": "application/json; charset=utf-8", "content-length": String(Buffer.byteLength(text)) });
      res.end(text);
    };
    if (req.method !== "GET") return send(405, { statusCode: 405, message: "Only GET is supported." });
    const resource = url.searchParams.get("resource");
    if (url.pathname === "/msi/token") {
      const given = Buffer.from(String(req.headers["x-identity-header"] ?? ""));
      const expected = Buffer.from(this.header);
      if (given.length !== expected.length || !timingSafeEqual(given, expected)) {
        return send(401, { statusCode: 401, message: "Unauthorized: the X-IDENTITY-HEADER is missing or wrong." });
      }
      if (url.searchParams.get("api-version") !== "2019-08-01") return send(400, { statusCode: 400, message: "api-version must be 2019-08-01." });
      if (!resource) return send(400, { statusCode: 400, message: "Required query parameter 'resource' is missing." });
      // The Function App has no system-assigned identity in infra/: only the user-assigned one, by id.
      const clientId = url.searchParams.get("client_id")?.toLowerCase();
      const principalId = url.searchParams.get("principal_id")?.toLowerCase();
      if (clientId !== this.app.clientId && principalId !== this.app.principalId) {
        return send(400, { statusCode: 400, message: "No managed identity found for specified ClientId/ResourceId/PrincipalId." });
      }
      const { token, expiresOn } = this.issuer.issue({ principal: this.app, audience: resource });
      return send(200, { access_token: token, expires_on: String(expiresOn), resource, token_type: "Bearer", client_id: this.app.clientId });
    }
    // MSAL canonicalises the endpoint with a trailing slash; IMDS takes both.
    const vm = /^\/vms\/([^/]+)\/metadata\/identity\/oauth2\/token\/?$/.exec(url.pathname);
    if (vm) {
      if (req.headers.metadata !== "true") return send(400, { error: "invalid_request", error_description: "Required metadata header not specified" });
      if (!url.searchParams.get("api-version")) return send(400, { error: "invalid_request", error_description: "Required query variable 'api-version' is missing" });
      if (!resource) return send(400, { error: "invalid_request", error_description: "Required query variable 'resource' is missing" });
      const found = this.vmIdentity(decodeURIComponent(vm[1]!));
      if (!found?.principalId) return send(400, { error: "invalid_request", error_description: "Identity not found" });
      const { principalId } = found;
      // A managed identity's token names its resource in xms_mirid: for a system-assigned one, the VM's resource id.
      const principal: Principal = { kind: "systemAssignedIdentity", principalId, clientId: stableGuid(`vm-client:${principalId}`), name: found.resourceId };
      const { token, expiresOn } = this.issuer.issue({ principal, audience: resource });
      const now = Math.floor(Date.now() / 1000);
      return send(200, {
        access_token: token, client_id: principal.clientId, expires_in: String(expiresOn - now), expires_on: String(expiresOn),
        ext_expires_in: String(expiresOn - now), not_before: String(now), resource, token_type: "Bearer",
      });
    }
    // IMDS instance metadata, the one leaf the agent reads (its proxy's listen address), as text.
    const ip = /^\/vms\/([^/]+)\/metadata\/instance\/network\/interface\/0\/ipv4\/ipAddress\/0\/privateIpAddress\/?$/.exec(url.pathname);
    if (ip) {
      if (req.headers.metadata !== "true") return send(400, { error: "Bad request. Required metadata header not specified" });
      if (!url.searchParams.get("api-version")) return send(400, { error: "Bad request. api-version was not specified in the request" });
      const found = this.vmIdentity(decodeURIComponent(ip[1]!));
      const address = found?.privateIp ? vmLoopbackAddress(found.privateIp) : undefined;
      if (!address) return send(404, { error: "Not found" });
      res.writeHead(200, { "content-type": "text/plain; charset=utf-8" });
      res.end(address);
      return;
    }
    return send(404, { statusCode: 404, message: `No identity endpoint ${url.pathname}.` });
  }
}
