// Identity-based storage settings as the Functions host accepts them (AzureWebJobsStorage__*):
// the old parser only knew a connection string or __accountName, so every current template's
// settings (service URIs + __credential + __clientId) failed to parse.
import { describe, expect, it } from "vitest";
import { readStorageConnection, requireStorageConnection } from "../../shared/azure/storageConnection";
import { storageIdentity } from "../../shared/azure/clients";
import { parseSettings } from "../../shared/settings";
import { exampleEnv } from "./settingsFixture";

const CLIENT = "5c1e7d2a-0b8e-4f43-9d61-0c0a5e1d7a01";
const identityEnv = {
  AzureWebJobsStorage__blobServiceUri: "https://stfunc01.blob.core.windows.net/",
  AzureWebJobsStorage__queueServiceUri: "https://stfunc01.queue.core.windows.net",
  AzureWebJobsStorage__tableServiceUri: "https://stfunc01.table.core.windows.net",
  AzureWebJobsStorage__credential: "managedidentity",
  AzureWebJobsStorage__clientId: CLIENT,
};

describe("storage connection settings", () => {
  it("reads the service URIs, credential and client id the templates set", () => {
    const conn = readStorageConnection(identityEnv);
    expect(conn).toEqual({
      kind: "identity",
      name: "AzureWebJobsStorage",
      endpoints: { blob: "https://stfunc01.blob.core.windows.net", queue: "https://stfunc01.queue.core.windows.net", table: "https://stfunc01.table.core.windows.net" },
      accountName: "stfunc01",
      credential: "managedidentity",
      clientId: CLIENT,
    });
    // The user-assigned identity, not DefaultAzureCredential.
    expect(storageIdentity(conn as Extract<typeof conn, { kind: "identity" }>)).toEqual({ kind: "managedIdentity", clientId: CLIENT });
  });

  it("derives the endpoints from __accountName; without __credential a developer credential is used", () => {
    const conn = requireStorageConnection({ AzureWebJobsStorage__accountName: "stfunc01" });
    expect(conn).toMatchObject({ kind: "identity", credential: "default", endpoints: { queue: "https://stfunc01.queue.core.windows.net" } });
    if (conn.kind === "identity") expect(storageIdentity(conn)).toEqual({ kind: "developer" });
  });

  it("accepts the blob-only __serviceUri form and any connection name", () => {
    const conn = readStorageConnection(
      { JobStore__serviceUri: "https://a1.blob.core.windows.net", JobStore__queueServiceUri: "https://a1.queue.core.windows.net", JobStore__tableServiceUri: "https://a1.table.core.windows.net" },
      "JobStore",
    );
    expect(conn).toMatchObject({ kind: "identity", name: "JobStore", endpoints: { blob: "https://a1.blob.core.windows.net" } });
  });

  it.each<[string, string, Record<string, string>]>([
    ["a missing service", "AzureWebJobsStorage__queueServiceUri", { AzureWebJobsStorage__blobServiceUri: "https://a1.blob.core.windows.net" }],
    ["plain http", "AzureWebJobsStorage__tableServiceUri", { ...identityEnv, AzureWebJobsStorage__tableServiceUri: "http://a1.table.core.windows.net" }],
    ["an unknown credential", "AzureWebJobsStorage__credential", { ...identityEnv, AzureWebJobsStorage__credential: "clientsecret" }],
    ["a client id that is no GUID", "AzureWebJobsStorage__clientId", { ...identityEnv, AzureWebJobsStorage__clientId: "app" }],
    ["a client id without managedidentity", "AzureWebJobsStorage__credential", { ...identityEnv, AzureWebJobsStorage__credential: "" }],
    ["a bad account name", "AzureWebJobsStorage__accountName", { AzureWebJobsStorage__accountName: "Bad_Name" }],
  ])("refuses %s, naming %s", (_case, setting, env) => {
    const result = readStorageConnection(env);
    expect(Array.isArray(result)).toBe(true);
    expect((result as { setting: string }[]).map((p) => p.setting)).toContain(setting);
    const noStorage = Object.fromEntries(Object.keys(exampleEnv).filter((k) => k.startsWith("AzureWebJobsStorage")).map((k) => [k, undefined]));
    expect(() => parseSettings({ ...exampleEnv, ...noStorage, ...env })).toThrow(setting);
  });

  it("is undefined when nothing is configured, and a connection string wins", () => {
    expect(readStorageConnection({})).toBeUndefined();
    expect(readStorageConnection({ AzureWebJobsStorage: "UseDevelopmentStorage=true", ...identityEnv })).toMatchObject({ kind: "connectionString" });
  });

  it("app settings parse an identity-only deployment (no connection string anywhere)", () => {
    const s = parseSettings({ ...exampleEnv, AzureWebJobsStorage: undefined, ...identityEnv });
    expect(s.storage).toMatchObject({ kind: "identity", clientId: CLIENT });
  });
});
