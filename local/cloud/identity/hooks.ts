// The two calls the emulator's request pipeline makes: who is calling (401 as ARM or Storage
// answers a bad token) and may they do this (403 as ARM or Storage answers). Kept here so the
// pipeline in emulator.ts changes by three lines.
import type { IncomingMessage, ServerResponse } from "node:http";
import { randomUUID } from "node:crypto";
import { rgId, type Ctx, type ResolvedOptions } from "../context";
import { ArmError, parseJsonObject } from "../http";
import { authorizeArm, type TemplateScopes } from "../rbac";
import { ARM_AUDIENCES, STORAGE_AUDIENCES, type TokenCaller } from "./issuer";

/** Where infra/roles.json's scopes are in this emulator (one subscription, one resource group). */
export function templateScopes(opts: Pick<ResolvedOptions, "subscriptionId" | "resourceGroup" | "allowedSubnetIds" | "registryId">, workspaceAccount = "wslocalfiles"): TemplateScopes {
  const rg = rgId(opts.subscriptionId, opts.resourceGroup);
  return {
    subscription: [`/subscriptions/${opts.subscriptionId}`],
    instancesResourceGroup: [rg],
    instancesSubnet: opts.allowedSubnetIds,
    // Locally the Functions storage is Azurite, which checks no roles; the scope is kept for completeness.
    functionStorage: [`${rg}/providers/Microsoft.Storage/storageAccounts/devstoreaccount1`],
    workspaceStorage: [filesAccountScope(opts, workspaceAccount)],
    workspaceRegistry: [opts.registryId],
    // No Application Insights here (telemetry goes to OTLP locally); the scope is kept for completeness.
    appInsights: [`${rg}/providers/Microsoft.Insights/components/appi-local`],
  };
}

const filesAccountScope = (opts: Pick<ResolvedOptions, "subscriptionId" | "resourceGroup">, account: string) =>
  `${rgId(opts.subscriptionId, opts.resourceGroup)}/providers/Microsoft.Storage/storageAccounts/${account.toLowerCase()}`;

const isFiles = (url: URL) => url.pathname.startsWith("/files/");

/** The caller, or undefined when a Files error was already sent; ARM errors are thrown. */
export function authenticateRequest(ctx: Ctx, req: IncomingMessage, res: ServerResponse, url: URL): TokenCaller | undefined {
  try {
    return ctx.identity.issuer.authenticate(req.headers.authorization, isFiles(url) ? STORAGE_AUDIENCES : ARM_AUDIENCES);
  } catch (err) {
    if (!(err instanceof ArmError) || !isFiles(url)) throw err;
    // Azure Storage answers every token problem with 401 InvalidAuthenticationInfo and the reason in a detail element.
    const detail: Record<string, string> = {
      InvalidAuthenticationTokenAudience: "Audience validation failed. Audience did not match.",
      ExpiredAuthenticationToken: "Lifetime validation failed. The token is expired.",
      InvalidAuthenticationTokenTenant: "Issuer validation failed. Issuer did not match.",
    };
    sendStorageError(req, res, 401, "InvalidAuthenticationInfo",
      "Server failed to authenticate the request. Please refer to the information in the www-authenticate header.",
      detail[err.code] ?? "Signature validation failed.", { "www-authenticate": `Bearer authorization_uri=https://login.microsoftonline.com/${ctx.identity.issuer.tenantId}/oauth2/authorize resource_id=https://storage.azure.com` });
    return undefined;
  }
}

/** True when the request may proceed; ARM refusals are thrown, Files refusals sent (false). */
export function authorizeRequest(ctx: Ctx, caller: TokenCaller, req: IncomingMessage, res: ServerResponse, method: string, url: URL, raw: Buffer): boolean {
  if (!isFiles(url)) {
    authorizeArm(ctx.identity.rbac, caller, method, url.pathname, () => parseJsonObject(raw));
    return true;
  }
  const account = decodeURIComponent(url.pathname.split("/")[2] ?? "");
  const verb = method === "GET" || method === "HEAD" ? "read" : method === "DELETE" ? "delete" : "write";
  const action = `Microsoft.Storage/storageAccounts/fileServices/fileshares/files/${verb}`;
  if (ctx.identity.rbac.allows(caller.principalId, action, filesAccountScope(ctx.opts, account), "dataAction")) return true;
  sendStorageError(req, res, 403, "AuthorizationPermissionMismatch", "This request is not authorized to perform this operation using this permission.");
  return false;
}

function sendStorageError(req: IncomingMessage, res: ServerResponse, status: number, code: string, message: string, detail?: string, extra: Record<string, string> = {}): void {
  const esc = (s: string) => s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
  const xml = `<?xml version="1.0" encoding="utf-8"?><Error><Code>${code}</Code><Message>${esc(message)}\nRequestId:${randomUUID()}\nTime:${new Date().toISOString()}</Message>${detail ? `<AuthenticationErrorDetail>${esc(detail)}</AuthenticationErrorDetail>` : ""}</Error>`;
  const body = req.method === "HEAD" ? "" : xml;
  res.writeHead(status, { "x-ms-request-id": randomUUID(), "x-ms-error-code": code, "content-type": "application/xml", "content-length": String(Buffer.byteLength(body)), ...extra });
  res.end(body);
}
