// Queue storage with Entra ID authorization, for processes inside VMs (the job agent): Azurite
// serves queues over HTTP with shared keys only, and a bearer token over HTTP is refused by the
// Azure SDKs, so this HTTPS front does what Azure Storage does with a token: verify it (issued
// by this emulator, audience https://storage.azure.com), check the caller's role assignments for
// the data action on that queue, and answer Azure's errors otherwise. Allowed requests go on
// to Azurite, signed with an account SAS the caller never sees.
import http from "node:http";
import https from "node:https";
import type { AddressInfo } from "node:net";
import { AccountSASPermissions, AccountSASResourceTypes, AccountSASServices, generateAccountSASQueryParameters, StorageSharedKeyCredential } from "@azure/storage-queue";
import type { Ctx } from "./context";
import { ArmError } from "./http";
import { STORAGE_AUDIENCES } from "./identity/issuer";
import { allowedQueueAction } from "./roleAssignments";

export type QueueBackend = { url: string; accountName: string; accountKey: string };

const STORAGE_AUDIENCE = "https://storage.azure.com";

/** The data action a queue request needs (learn.microsoft.com: "Authorize access to queues using Microsoft Entra ID"). */
export function dataActionOf(method: string, pathParts: string[], query: URLSearchParams): string | undefined {
  // [account, queue, "messages", messageId?]
  if (pathParts.length < 3 || pathParts[2] !== "messages") return undefined;
  const one = pathParts.length === 4;
  switch (method) {
    case "GET":
      return query.get("peekonly") === "true" ? "messages/read" : "messages/process/action";
    case "POST":
      return one ? undefined : "messages/add/action";
    case "PUT":
      return one ? "messages/write" : undefined;
    case "DELETE":
      // Deleting a received message is part of processing; clearing the queue is not.
      return one ? "messages/process/action" : "messages/delete";
  }
  return undefined;
}

export async function startQueueFront(ctx: Ctx, tls: { cert: string; key: string }, backend: QueueBackend | undefined, port = 0): Promise<{ url: string; close(): void }> {
  let sas: { query: string; until: number } | undefined;
  const sasQuery = (b: QueueBackend): string => {
    if (!sas || sas.until < Date.now() + 600_000) {
      const expiresOn = new Date(Date.now() + 3600_000);
      const q = generateAccountSASQueryParameters(
        {
          expiresOn,
          permissions: AccountSASPermissions.parse("rwdlacup"),
          resourceTypes: AccountSASResourceTypes.parse("sco").toString(),
          services: AccountSASServices.parse("q").toString(),
        },
        new StorageSharedKeyCredential(b.accountName, b.accountKey),
      ).toString();
      sas = { query: q, until: expiresOn.getTime() };
    }
    return sas.query;
  };

  const server = https.createServer({ cert: tls.cert, key: tls.key, minVersion: "TLSv1.2" }, (req, res) => {
    const fail = (status: number, code: string, message: string, extra: Record<string, string> = {}) => {
      res.writeHead(status, { "content-type": "application/xml", "x-ms-error-code": code, ...extra });
      res.end(`<?xml version="1.0" encoding="utf-8"?><Error><Code>${code}</Code><Message>${message}</Message></Error>`);
    };
    const url = new URL(req.url ?? "/", "https://127.0.0.1");
    const parts = url.pathname.split("/").filter(Boolean).map(decodeURIComponent);
    const challenge = { "www-authenticate": `Bearer authorization_uri=https://login.microsoftonline.com/${ctx.identity.issuer.tenantId}/oauth2/authorize resource_id=${STORAGE_AUDIENCE}` };
    if (!/^Bearer\s+\S+$/i.test(req.headers.authorization ?? "")) {
      return fail(401, "NoAuthenticationInformation", "Server failed to authenticate the request. Please refer to the information in the www-authenticate header.", challenge);
    }
    let caller: { principalId: string };
    try {
      caller = ctx.identity.issuer.authenticate(req.headers.authorization, STORAGE_AUDIENCES);
    } catch (err) {
      return fail(401, "InvalidAuthenticationInfo", `Server failed to authenticate the request: ${err instanceof ArmError ? err.message : "invalid token"}`, challenge);
    }
    const [account, queue] = parts;
    const action = account && queue ? dataActionOf(req.method ?? "GET", parts, url.searchParams) : undefined;
    const queueId = `/subscriptions/${ctx.opts.subscriptionId}/resourceGroups/${ctx.opts.resourceGroup}/providers/Microsoft.Storage/storageAccounts/${account}/queueServices/default/queues/${queue}`;
    if (!action || !allowedQueueAction(ctx, caller.principalId, queueId, action)) {
      return fail(403, "AuthorizationPermissionMismatch", "This request is not authorized to perform this operation using this permission.");
    }
    if (!backend || account !== backend.accountName) return fail(404, "ResourceNotFound", "The specified resource does not exist.");
    const target = new URL(`${backend.url.replace(/\/+$/, "")}/${parts.map(encodeURIComponent).join("/")}`);
    url.searchParams.forEach((v, k) => target.searchParams.set(k, v));
    const headers = { ...req.headers };
    delete headers.authorization;
    delete headers.host;
    const out = http.request(`${target.toString()}${target.search ? "&" : "?"}${sasQuery(backend)}`, { method: req.method, headers }, (up) => {
      res.writeHead(up.statusCode ?? 502, up.headers);
      up.pipe(res);
    });
    out.on("error", () => fail(503, "ServerBusy", "The queue backend is unavailable."));
    req.pipe(out);
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, "127.0.0.1", () => resolve());
  });
  return {
    url: `https://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () => {
      server.closeAllConnections();
      server.close();
    },
  };
}
