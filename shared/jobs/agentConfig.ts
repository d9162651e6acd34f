// The agent settings of this process, from its environment and the app's own settings (one
// place, used by the instance and the jobs workflows and the report route).
import type { AzureClients } from "../azure/clients";
import type { Settings } from "../settings";
import { agentSettings, type AgentSettings } from "./agent";

let cached: AgentSettings | undefined;

export function agentSettingsOf(settings: Pick<Settings, "subscriptionId" | "resourceGroup">, clients: Pick<AzureClients, "storage">): AgentSettings {
  cached ??= agentSettings(process.env, {
    queueEndpoint: clients.storage.endpoints.queue,
    // The SDK's own reading of the endpoint: the host's first label on Azure, the first path
    // segment for path-style URLs (https://127.0.0.1:10001/devstoreaccount1), where the host is an IP.
    accountName: clients.storage.sharedKey?.accountName ?? clients.storage.queues.accountName,
    subscriptionId: settings.subscriptionId,
    resourceGroup: settings.resourceGroup,
  });
  return cached;
}
