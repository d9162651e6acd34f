// IMDS for the emulator's VMs: the managed-identity token endpoint
// (GET /metadata/identity/oauth2/token?resource=...; header Metadata: true) that processes inside
// a VM call. On Azure every VM reaches its own IMDS at 169.254.169.254, and IMDS knows the VM by
// where the call comes from; here every running VM gets its own loopback port, handed to its
// processes as AZURE_POD_IDENTITY_AUTHORITY_HOST (which @azure/identity's
// ManagedIdentityCredential honours), so a process gets the identity of the VM it runs in.
import http from "node:http";
import type { AddressInfo } from "node:net";
import { issueToken, type IdentityKeys } from "./identity";

export type ImdsTarget = {
  /** The VM's system-assigned principal id now, or undefined when it has no such identity. */
  principalId(): string | undefined;
  resourceId: string;
};

export class Imds {
  private servers = new Map<string, http.Server>();

  constructor(private readonly keys: IdentityKeys) {}

  /** Starts (or keeps) the VM's endpoint; returns its base URL. */
  async start(vmKey: string, target: ImdsTarget): Promise<string> {
    let server = this.servers.get(vmKey);
    if (!server) {
      server = http.createServer((req, res) => this.handle(target, req, res));
      this.servers.set(vmKey, server);
      const s = server;
      await new Promise<void>((resolve, reject) => {
        s.once("error", reject);
        s.listen(0, "127.0.0.1", () => resolve());
      });
    }
    return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  }

  stop(vmKey: string): void {
    const s = this.servers.get(vmKey);
    if (!s) return;
    this.servers.delete(vmKey);
    s.closeAllConnections();
    s.close();
  }

  stopAll(): void {
    for (const k of [...this.servers.keys()]) this.stop(k);
  }

  private handle(target: ImdsTarget, req: http.IncomingMessage, res: http.ServerResponse): void {
    const url = new URL(req.url ?? "/", "http://127.0.0.1");
    const send = (status: number, body: object) => {
      res.writeHead(status, { "content-type": "application/json; charset=utf-8" });
      res.end(JSON.stringify(body));
    };
    // MSAL canonicalises the endpoint with a trailing slash; IMDS takes both.
    if (url.pathname.replace(/\/$/, "") !== "/metadata/identity/oauth2/token") return send(404, { error: "not_found", error_description: "Unknown IMDS path" });
    // The same refusals IMDS gives (learn.microsoft.com: "How to use managed identities ... on a VM", error handling).
    if (req.headers.metadata !== "true") return send(400, { error: "invalid_request", error_description: "Required metadata header not specified" });
    const resource = url.searchParams.get("resource");
    if (!resource) return send(400, { error: "invalid_request", error_description: "Required query variable 'resource' is missing" });
    if (url.searchParams.get("client_id") || url.searchParams.get("msi_res_id") || url.searchParams.get("object_id")) {
      return send(400, { error: "invalid_request", error_description: "Identity not found" }); // VMs here have only a system-assigned identity
    }
    const principalId = target.principalId();
    if (!principalId) return send(400, { error: "invalid_request", error_description: "Identity not found" });
    const { token, expiresOn } = issueToken(this.keys, { principalId, resourceId: target.resourceId, audience: resource });
    send(200, {
      access_token: token,
      client_id: principalId,
      expires_in: String(expiresOn - Math.floor(Date.now() / 1000)),
      expires_on: String(expiresOn),
      ext_expires_in: String(expiresOn - Math.floor(Date.now() / 1000)),
      not_before: String(expiresOn - 3600),
      resource,
      token_type: "Bearer",
    });
  }
}
