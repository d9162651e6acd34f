// The app's Entra ID credential, chosen in one place. In Azure the app runs as its
// user-assigned managed identity: ManagedIdentityCredential with that identity's client id
// (AZURE_CLIENT_ID; the storage connection's own __clientId). Locally the cloud emulator
// serves the same managed-identity protocol (IDENTITY_ENDPOINT + IDENTITY_HEADER), so the
// same credential is used there. DefaultAzureCredential is only for a developer's machine
// pointed at real Azure without a managed identity (az login, VS Code, environment).
import type { TokenCredential } from "@azure/core-auth";
import { DefaultAzureCredential, ManagedIdentityCredential } from "@azure/identity";

export type IdentityChoice = { kind: "managedIdentity"; clientId?: string } | { kind: "developer" };

export function managedIdentity(clientId: string | undefined): IdentityChoice {
  return clientId !== undefined ? { kind: "managedIdentity", clientId } : { kind: "managedIdentity" };
}

// One credential per identity per process, so every client shares its token cache.
const credentials = new Map<string, TokenCredential>();

export function credentialFor(choice: IdentityChoice): TokenCredential {
  const key = choice.kind === "managedIdentity" ? `mi:${choice.clientId ?? "system"}` : "developer";
  let c = credentials.get(key);
  if (!c) {
    c =
      choice.kind === "developer"
        ? new DefaultAzureCredential()
        : choice.clientId !== undefined
          ? new ManagedIdentityCredential({ clientId: choice.clientId })
          : new ManagedIdentityCredential();
    credentials.set(key, c);
  }
  return c;
}
