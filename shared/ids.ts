// Deterministic ids. A retried trigger or a second host derives the same id, so Durable's
// "instance already exists" and ARM's PUT semantics make repeats harmless.
// Instance names are case-insensitive (ARM names are), so every id uses the lowercased name.
// All ids use only [a-z0-9-], which is valid for ARM names, Durable instance ids and Table keys.

export const ADMIN_USER_NAME = "azureuser";

export function instanceKey(name: string): string {
  return name.toLowerCase();
}

export const orchestrationIds = {
  provision: (workspace: string, name: string) => `provision-${instanceKey(workspace)}-${instanceKey(name)}`,
  start: (name: string, operationId: string) => `start-${instanceKey(name)}-${operationId}`,
  stop: (name: string, operationId: string) => `stop-${instanceKey(name)}-${operationId}`,
  restart: (name: string, operationId: string) => `restart-${instanceKey(name)}-${operationId}`,
  delete: (name: string, operationId: string) => `delete-${instanceKey(name)}-${operationId}`,
  /** One per instance and due minute (UTC), so a repeated or catch-up tick cannot act twice. */
  autoStop: (name: string, action: "Start" | "Stop", dueMinute: Date) =>
    `autostop-${instanceKey(name)}-${action.toLowerCase()}-${utcMinuteStamp(dueMinute)}`,
  job: (jobId: string) => `job-${jobId}`,
} as const;

/** yyyyMMddHHmm in UTC. */
export function utcMinuteStamp(at: Date): string {
  const iso = at.toISOString(); // 2025-03-30T01:00:00.000Z
  return iso.slice(0, 4) + iso.slice(5, 7) + iso.slice(8, 10) + iso.slice(11, 13) + iso.slice(14, 16);
}

// ARM names. Each ends in a fixed suffix so a name ending in '-' (allowed by api.md) still
// yields valid ARM names, which may not end with '-' or '.'. Max lengths: VM 64, NSG/NIC/PIP 80;
// with a 24-char instance name the longest here is 34.
export const armNames = {
  vm: (name: string) => `ci-${instanceKey(name)}-vm`,
  osDisk: (name: string) => `ci-${instanceKey(name)}-osdisk`,
  nsg: (name: string) => `ci-${instanceKey(name)}-nsg`,
  nic: (name: string) => `ci-${instanceKey(name)}-nic`,
  publicIp: (name: string) => `ci-${instanceKey(name)}-pip`,
  ipConfig: () => "ipconfig1",
  /** Linux host name: RFC 1123 label, no trailing hyphen. */
  computerName: (name: string) => instanceKey(name).replace(/-+$/, "").slice(0, 63),
  /** Run commands are named after what they run, so a retried PUT targets the same one. */
  setupRunCommand: (kind: "creation" | "startup", operationId: string) => `setup-${kind}-${operationId}`,
} as const;

/** Paths on the workspace share. */
export const sharePaths = {
  userFolder: (user: string) => `Users/${user}`,
  logsFolder: (name: string) => `Logs/${instanceKey(name)}`,
} as const;

/** Azure Table PartitionKey/RowKey may not contain / \ # ? or control characters. */
export function isValidTableKey(key: string): boolean {
  return key.length > 0 && key.length <= 1024 && !/[/\\#?\u0000-\u001f\u007f-\u009f]/.test(key);
}

/** Random ids for operations and jobs: 20 lowercase base-32 chars (100 bits). */
export function newId(random: (bytes: number) => Uint8Array = defaultRandom): string {
  const alphabet = "0123456789abcdefghjkmnpqrstvwxyz";
  const bytes = random(20);
  let out = "";
  for (const b of bytes) out += alphabet[b & 31];
  return out;
}

function defaultRandom(n: number): Uint8Array {
  return globalThis.crypto.getRandomValues(new Uint8Array(n));
}
