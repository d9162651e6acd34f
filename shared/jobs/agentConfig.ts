// The agent settings of this process, from its environment and the app's own settings (one
// place, used by the instance and the jobs workflows and the report route).
import type { AzureClients } from "../azure/clients";
import type { Settings } from "../settings";
import { agentSettings, type AgentSettings } from "./agent";

let cached: AgentSettings | undefined;

export function agentSettingsOf(settings: Pick<Settings, "subscriptionId" | "resourceGroup">, clients: Pick<AzureClients, "storage">): AgentSettings {
  cached ??= agentSettings(process.env, {
    queueEndpoint: clients.storage.endpoints.queue,
    accountName: clients.storage.sharedKey?.accountName ?? new URL(clients.storage.endpoints.queue).hostname.split(".")[0]!,
    subscriptionId: settings.subscriptionId,
    resourceGroup: settings.resourceGroup,
  });
  return cached;
}
