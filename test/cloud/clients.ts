// How to point the real Azure SDK clients at the cloud emulator (copy this into other tests):
// endpoint = emulator URL, a TokenCredential that returns the emulator's token, and the
// emulator's self-signed certificate trusted per client through the pipeline's `tlsOptions`
// (never NODE_TLS_REJECT_UNAUTHORIZED).
import type { AccessToken, TokenCredential } from "@azure/core-auth";
import { ComputeManagementClient } from "@azure/arm-compute";
import { NetworkManagementClient } from "@azure/arm-network";
import { ShareServiceClient, type ShareClientOptions } from "@azure/storage-file-share";

/** `token`: an ARM token; `storageToken`: one for Files (audience https://storage.azure.com), as Azure requires. */
export type EmulatorEndpoint = { url: string; token: string; storageToken: string; caCertPem: string; subscriptionId: string };

export function emulatorCredential(token: string): TokenCredential {
  return {
    async getToken(): Promise<AccessToken> {
      return { token, expiresOnTimestamp: Date.now() + 3600_000 };
    },
  };
}

/** Fast retries for tests; the SDK still honours Retry-After on 429. */
const retryOptions = { maxRetries: 4, retryDelayInMs: 50, maxRetryDelayInMs: 2000 };

export function computeClient(e: EmulatorEndpoint): ComputeManagementClient {
  return new ComputeManagementClient(emulatorCredential(e.token), e.subscriptionId, {
    endpoint: e.url,
    tlsOptions: { ca: e.caCertPem },
    retryOptions,
  });
}

export function networkClient(e: EmulatorEndpoint): NetworkManagementClient {
  return new NetworkManagementClient(emulatorCredential(e.token), e.subscriptionId, {
    endpoint: e.url,
    tlsOptions: { ca: e.caCertPem },
    retryOptions,
  });
}

/**
 * Azure Files with a token: `fileRequestIntent: "backup"` is required (Azure and the emulator
 * refuse token requests without x-ms-file-request-intent). The storage pipeline forwards
 * unknown options to core-rest-pipeline, which applies `tlsOptions`.
 */
export function shareServiceClient(e: EmulatorEndpoint, account: string): ShareServiceClient {
  const options: ShareClientOptions & { tlsOptions: { ca: string } } = {
    fileRequestIntent: "backup",
    tlsOptions: { ca: e.caCertPem },
    retryOptions: { maxTries: 3, retryDelayInMs: 50 },
  };
  return new ShareServiceClient(`${e.url}/files/${account}`, emulatorCredential(e.storageToken), options);
}

export type HttpResult = { status: number; headers: Record<string, string | string[] | undefined>; body: string; json<T = unknown>(): T };

/** Plain HTTPS against the emulator (fetch cannot take a CA per request, so node:https). */
export async function armRequest(e: EmulatorEndpoint, method: string, path: string, body?: unknown, headers: Record<string, string> = {}):
  Promise<HttpResult> {
  const https = await import("node:https");
  const payload = body === undefined ? undefined : typeof body === "string" ? body : JSON.stringify(body);
  return new Promise((resolve, reject) => {
    const url = new URL(path, e.url);
    const req = https.request(url, {
      method, ca: e.caCertPem,
      headers: { authorization: `Bearer ${path.startsWith("/files/") ? e.storageToken : e.token}`, ...(payload ? { "content-type": "application/json" } : {}), ...headers },
    }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("end", () => {
        const text = Buffer.concat(chunks).toString("utf8");
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body: text, json: <T>() => JSON.parse(text) as T });
      });
    });
    req.on("error", reject);
    if (payload) req.write(payload);
    req.end();
  });
}
