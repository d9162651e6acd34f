// Test helper: an in-memory Azurite on free loopback ports, stopped after the suite.
import { freePort, startAzurite, type AzuriteProcess } from "../../local/shared/azurite";

export type { AzuriteProcess };

export async function startTestAzurite(oauth?: { certFile: string; keyFile: string }): Promise<AzuriteProcess> {
  const ports = { blob: await freePort(), queue: await freePort(), table: await freePort() };
  return startAzurite({ ports, ...(oauth ? { oauth } : {}) });
}
