// Config for provider-layer tests: Azurite for storage, local/cloud for ARM and Files.
import type { AzureConfig } from "../../shared/azure/config";

export function testAzureConfig(over: Partial<AzureConfig> = {}): AzureConfig {
  return {
    subscriptionId: "00000000-0000-0000-0000-000000000001",
    resourceGroup: "rg-activities-test",
    location: "westeurope",
    armEndpoint: "https://127.0.0.1:1",
    armAuth: "emulator",
    armEmulatorToken: "test-token",
    filesAccount: "wstestfiles",
    shareName: "workspace",
    maxRetries: 2,
    pollIntervalMs: 100,
    ...over,
  };
}
