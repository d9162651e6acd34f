// Bearer tokens for the API. Against Azure the app sits behind App Service Authentication, which
// accepts an Entra ID access token for the app's API scope: the Azure CLI's sign-in first (no
// prompt), device code as the fallback (prints a code to enter in a browser). Locally the host
// maps a LOCAL_PRINCIPALS token, which is passed as is.
import type { TokenCredential } from "@azure/identity";
import type { Auth } from "./config";

export function tokenProvider(auth: Auth | undefined, log: (line: string) => void): (() => Promise<string | undefined>) | undefined {
  if (!auth) return undefined;
  if (auth.kind === "token") return async () => auth.token;
  const tenant = auth.tenantId ? { tenantId: auth.tenantId } : {};
  let credential: TokenCredential | undefined;
  let cached: { token: string; expiresOn: number } | undefined;
  return async () => {
    // Reuse a token until a minute before it expires: one sign-in per command, not per request.
    if (cached && cached.expiresOn - 60_000 > Date.now()) return cached.token;
    if (!credential) {
      // Loaded on first use: most commands, and every local one, never need it (it is slow to load).
      const { AzureCliCredential, ChainedTokenCredential, DeviceCodeCredential } = await import("@azure/identity");
      credential = new ChainedTokenCredential(
        new AzureCliCredential(tenant),
        new DeviceCodeCredential({ ...tenant, userPromptCallback: (info) => log(info.message) }),
      );
    }
    const t = await credential.getToken(auth.scope);
    if (!t) throw new Error(`No token for ${auth.scope}: sign in with 'az login' and try again.`);
    cached = { token: t.token, expiresOn: t.expiresOnTimestamp };
    return t.token;
  };
}
