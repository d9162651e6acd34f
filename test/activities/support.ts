// Config for provider-layer tests: Azurite for storage, local/cloud for ARM and Files.
import type { CloudEmulator } from "../../local/cloud/emulator";
import type { IdentityChoice } from "../../shared/azure/credential";
import type { AzureConfig } from "../../shared/azure/config";

export function testAzureConfig(over: Partial<AzureConfig> = {}): AzureConfig {
  return {
    subscriptionId: "00000000-0000-0000-0000-000000000001",
    resourceGroup: "rg-activities-test",
    location: "westeurope",
    armEndpoint: "https://127.0.0.1:1",
    identity: { kind: "developer" },
    filesAccount: "wstestfiles",
    shareName: "workspace",
    maxRetries: 2,
    pollIntervalMs: 100,
    ...over,
  };
}

/**
 * Makes this test process a "Function App" of the emulator: the managed-identity endpoint in
 * the environment (as the platform sets it), and the app's identity as the credential — the
 * real ManagedIdentityCredential, holding exactly the roles of infra/roles.json.
 */
export function useEmulatorIdentity(emu: CloudEmulator): IdentityChoice {
  process.env.IDENTITY_ENDPOINT = emu.identity.endpoint;
  process.env.IDENTITY_HEADER = emu.identity.header;
  return { kind: "managedIdentity", clientId: emu.identity.appClientId };
}
