// A storage connection as the Functions host resolves a binding's `connection` name (default
// AzureWebJobsStorage): the setting itself holds a connection string, or settings under
// `<name>__` describe an identity-based connection (service URIs or an account name, and
// `__credential=managedidentity` + `__clientId` for a managed identity). One parser for the
// app's clients, health and the local host, so all of them accept what Azure accepts.
// Reference: learn.microsoft.com/azure/azure-functions/functions-reference#connecting-to-host-storage-with-an-identity
import { parseConnectionString, type StorageEndpoints } from "./connectionString";

export type StorageConnection =
  | { kind: "connectionString"; name: string; connectionString: string; endpoints: StorageEndpoints }
  | {
      kind: "identity";
      name: string;
      endpoints: StorageEndpoints;
      /** Account name when known (from __accountName or the service URI's host). */
      accountName?: string;
      /** "managedidentity": ManagedIdentityCredential (with clientId when given); else a developer credential. */
      credential: "managedidentity" | "default";
      clientId?: string;
    };

export type StorageSettingProblem = { setting: string; message: string };

type Env = Readonly<Record<string, string | undefined>>;

const SERVICES = ["blob", "queue", "table"] as const;

/**
 * Reads connection `name` from `env`. Returns undefined when nothing is configured for it,
 * or the problems found (each naming its setting; the connection string is never echoed).
 */
export function readStorageConnection(env: Env, name = "AzureWebJobsStorage"): StorageConnection | StorageSettingProblem[] | undefined {
  const get = (key: string): string | undefined => {
    const v = env[key]?.trim();
    return v === undefined || v === "" ? undefined : v;
  };
  const connectionString = get(name);
  if (connectionString !== undefined) {
    // Checked by shape only: the value is a secret and must not appear in any message.
    if (!/(^|;)\s*(AccountName|BlobEndpoint)=/i.test(connectionString) && connectionString !== "UseDevelopmentStorage=true") {
      return [{ setting: name, message: "is not a storage connection string" }];
    }
    try {
      return { kind: "connectionString", name, connectionString, endpoints: parseConnectionString(connectionString).endpoints };
    } catch {
      return [{ setting: name, message: "is not a storage connection string" }];
    }
  }

  const prefix = `${name}__`;
  if (!Object.keys(env).some((k) => k.startsWith(prefix) && get(k) !== undefined)) return undefined;
  const problems: StorageSettingProblem[] = [];
  const accountName = get(`${prefix}accountName`);
  if (accountName !== undefined && !/^[a-z0-9]{3,24}$/.test(accountName)) {
    problems.push({ setting: `${prefix}accountName`, message: "must be 3–24 lowercase letters or digits" });
  }
  const endpoints: Partial<StorageEndpoints> = {};
  for (const service of SERVICES) {
    // `__serviceUri` is the blob-only form the host also accepts.
    const key = get(`${prefix}${service}ServiceUri`) !== undefined || service !== "blob" ? `${prefix}${service}ServiceUri` : `${prefix}serviceUri`;
    const uri = get(key);
    if (uri !== undefined) {
      const checked = httpsUrl(uri);
      if (typeof checked !== "string") problems.push({ setting: key, message: checked.message });
      else endpoints[service] = checked;
    } else if (accountName !== undefined) {
      endpoints[service] = `https://${accountName}.${service}.core.windows.net`;
    } else {
      problems.push({ setting: `${prefix}${service}ServiceUri`, message: `is required (or ${prefix}accountName) for identity-based storage` });
    }
  }
  const credentialText = get(`${prefix}credential`);
  if (credentialText !== undefined && credentialText.toLowerCase() !== "managedidentity") {
    problems.push({ setting: `${prefix}credential`, message: "must be 'managedidentity' when set" });
  }
  const clientId = get(`${prefix}clientId`);
  if (clientId !== undefined && !GUID.test(clientId)) problems.push({ setting: `${prefix}clientId`, message: "must be a client id (GUID)" });
  if (clientId !== undefined && credentialText === undefined) {
    // The host only honours __clientId together with __credential=managedidentity.
    problems.push({ setting: `${prefix}credential`, message: `must be 'managedidentity' when ${prefix}clientId is set` });
  }
  if (problems.length > 0) return problems;
  return {
    kind: "identity",
    name,
    endpoints: endpoints as StorageEndpoints,
    accountName: accountName ?? accountFromHost(endpoints.blob!),
    credential: credentialText !== undefined ? "managedidentity" : "default",
    ...(clientId !== undefined ? { clientId } : {}),
  };
}

/** Like readStorageConnection, but throws one readable error (for the local host's bindings). */
export function requireStorageConnection(env: Env, name = "AzureWebJobsStorage"): StorageConnection {
  const result = readStorageConnection(env, name);
  if (result === undefined) {
    throw new Error(`app setting ${name} (a connection string) or ${name}__blobServiceUri/__queueServiceUri/__tableServiceUri or ${name}__accountName is not set`);
  }
  if (Array.isArray(result)) throw new Error(`invalid storage connection: ${result.map((p) => `${p.setting} ${p.message}`).join("; ")}`);
  return result;
}

/** A key for caching clients per connection (in memory only; never logged). */
export function connectionKey(conn: StorageConnection): string {
  return JSON.stringify(conn);
}

const GUID = /^[0-9a-f]{8}-([0-9a-f]{4}-){3}[0-9a-f]{12}$/i;

function httpsUrl(value: string): string | { message: string } {
  let u: URL;
  try {
    u = new URL(value);
  } catch {
    return { message: "must be an absolute URL" };
  }
  // Bearer tokens only travel over HTTPS (the SDKs refuse otherwise), so an identity-based
  // connection to plain HTTP could never authenticate.
  if (u.protocol !== "https:") return { message: "must be an https URL (tokens are never sent over http)" };
  return value.replace(/\/+$/, "");
}

function accountFromHost(blobUrl: string): string | undefined {
  const u = new URL(blobUrl);
  const host = /^([a-z0-9]{3,24})\.blob\./.exec(u.hostname)?.[1];
  if (host) return host;
  // Path-style (Azurite, the emulator): https://127.0.0.1:10000/<account>
  return /^\/([a-z0-9]{3,24})(\/|$)/.exec(u.pathname)?.[1];
}

/** A connection-string connection (Azurite in tests and benchmarks). */
export function connectionStringStorage(connectionString: string, name = "AzureWebJobsStorage"): StorageConnection {
  const result = readStorageConnection({ [name]: connectionString }, name);
  if (result === undefined || Array.isArray(result)) throw new Error(`${name} is not a storage connection string`);
  return result;
}
