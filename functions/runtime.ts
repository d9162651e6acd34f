// Process-wide services for triggers: settings parsed once from app settings, Azure clients
// and record stores built from them. Triggers get them here instead of building their own,
// so every trigger sees the same configuration.
import { getAzureClients, type AzureClients } from "../shared/azure/clients";
import { parseSettings, type Settings } from "../shared/settings";
import { useContinuationTokenKey } from "../shared/store/continuationToken";

let settings: Settings | undefined;

export function getSettings(): Settings {
  if (!settings) {
    settings = parseSettings(process.env);
    if (settings.continuationTokenKey) useContinuationTokenKey(settings.continuationTokenKey);
  }
  return settings;
}

export function getClients(): AzureClients {
  return getAzureClients();
}
