// What every handler gets: options, state, operations, runtime config and the VM sandbox.
import type { RuntimeConfig } from "./config";
import type { Json, JsonObject } from "./http";
import type { Operations } from "./lro";
import type { Quota } from "./skus";
import type { Store } from "./store";
import type { Registry } from "./registry";
import type { Sandbox } from "./sandbox";
import type { IdentityService } from "./identity/service";

export type ResolvedOptions = {
  dataDir: string;
  cloudDir: string;
  host: string;
  port: number;
  subscriptionId: string;
  resourceGroup: string;
  location: string;
  allowedSubnetIds: string[];
  quota: Quota;
  /** The emulator's CA certificate (VMs trust it, as Azure VMs trust Azure's CAs). */
  caCertFile: string;
  /** Resource id of the registry the emulator serves (the workspace's ACR stand-in): AcrPull is checked at this scope. */
  registryId: string;
};

export type Ctx = {
  opts: ResolvedOptions;
  store: Store;
  ops: Operations;
  sandbox: Sandbox;
  /** The container registry the VMs pull job images from (ACR's stand-in). */
  registry: Registry;
  /** The local Entra ID: token issuer, role assignments, managed-identity endpoints (VMs' IMDS too). */
  identity: IdentityService;
  config: RuntimeConfig;
  log: (line: string) => void;
  /** Run commands whose process is pending or running, by record key. */
  runs: Map<string, ActiveRun>;
  stopped: boolean;
};

export type ActiveRun = {
  vmKey: string;
  /** Ends the run (kills its process group) and records why, as Azure would report it. */
  interrupt(state: "TimedOut" | "Canceled" | "Failed", message: string): void;
  /** Settles once the process has exited and the run's final state is recorded. */
  ended: Promise<void>;
};

export type ArmRequest = {
  method: string;
  path: string;
  query: URLSearchParams;
  /** Named captures of the route pattern, with their original case. */
  m: Record<string, string>;
  baseUrl: string;
  apiVersion: string;
  body: () => JsonObject;
};

export type ArmResult = { status: number; body?: Json; headers?: Record<string, string> };

export const rgId = (sub: string, rg: string) => `/subscriptions/${sub}/resourceGroups/${rg}`;
export const netId = (m: Record<string, string>, type: string, name: string) =>
  `${rgId(m.sub, m.rg)}/providers/Microsoft.Network/${type}/${name}`;
export const vmId = (m: Record<string, string>, name: string) =>
  `${rgId(m.sub, m.rg)}/providers/Microsoft.Compute/virtualMachines/${name}`;

/** Parses an ARM resource ID into its parts (case preserved). */
export function parseId(id: string): { sub: string; rg: string; provider: string; segments: string[] } | undefined {
  const m = /^\/subscriptions\/([^/]+)\/resourceGroups\/([^/]+)\/providers\/([^/]+)\/(.+)$/i.exec(id);
  if (!m) return undefined;
  return { sub: m[1], rg: m[2], provider: m[3], segments: m[4].split("/") };
}
