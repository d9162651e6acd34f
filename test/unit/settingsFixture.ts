import example from "../../local.settings.example.json";
import { parseSettings, type Env, type Settings } from "../../shared/settings";

export const exampleEnv: Env = example.Values;
export const SUBNET = "/subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups/rg-compute-local/providers/Microsoft.Network/virtualNetworks/vnet-ws-local/subnets/compute";
export const SUBNET2 = "/subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups/rg-compute-local/providers/Microsoft.Network/virtualNetworks/vnet-ws-local/subnets/gpu";

export function settingsWith(overrides: Env = {}): Settings {
  return parseSettings({ ...exampleEnv, ...overrides });
}
