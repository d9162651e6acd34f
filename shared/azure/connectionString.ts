// Parses a storage connection string (AzureWebJobsStorage) into account, key and endpoints,
// so SAS signing and error messages can use the parts without ever printing the key.
export type StorageEndpoints = { blob: string; queue: string; table: string };

export type ParsedConnectionString = {
  accountName: string;
  accountKey?: string;
  endpoints: StorageEndpoints;
};

const DEV_ACCOUNT = "devstoreaccount1";
// Azurite's well-known development key (public, documented by Microsoft).
const DEV_KEY = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==";

export function parseConnectionString(conn: string): ParsedConnectionString {
  const parts = new Map<string, string>();
  for (const piece of conn.split(";")) {
    const i = piece.indexOf("=");
    if (i <= 0) continue;
    parts.set(piece.slice(0, i).trim().toLowerCase(), piece.slice(i + 1).trim());
  }
  if (parts.get("usedevelopmentstorage") === "true") {
    return {
      accountName: DEV_ACCOUNT,
      accountKey: DEV_KEY,
      endpoints: {
        blob: `http://127.0.0.1:10000/${DEV_ACCOUNT}`,
        queue: `http://127.0.0.1:10001/${DEV_ACCOUNT}`,
        table: `http://127.0.0.1:10002/${DEV_ACCOUNT}`,
      },
    };
  }
  const accountName = parts.get("accountname");
  if (!accountName) throw new Error("storage connection string has no AccountName");
  const protocol = parts.get("defaultendpointsprotocol") ?? "https";
  const suffix = parts.get("endpointsuffix") ?? "core.windows.net";
  const endpoint = (kind: "blob" | "queue" | "table") =>
    (parts.get(`${kind}endpoint`) ?? `${protocol}://${accountName}.${kind}.${suffix}`).replace(/\/+$/, "");
  return {
    accountName,
    accountKey: parts.get("accountkey"),
    endpoints: { blob: endpoint("blob"), queue: endpoint("queue"), table: endpoint("table") },
  };
}
