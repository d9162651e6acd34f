import { describe, expect, it } from "vitest";
import { parseSettings, SettingsError } from "../../shared/settings";
import { exampleEnv } from "./settingsFixture";

function problems(overrides: Record<string, string | undefined>) {
  try {
    parseSettings({ ...exampleEnv, ...overrides });
  } catch (err) {
    expect(err).toBeInstanceOf(SettingsError);
    return { list: (err as SettingsError).problems, message: (err as Error).message };
  }
  return { list: [], message: "" };
}

describe("settings", () => {
  it("parses local.settings.example.json", () => {
    const s = parseSettings(exampleEnv);
    expect(s).toMatchObject({
      workspaceName: "ws-local",
      location: "westeurope",
      allowPublicIp: false,
      allowSshPublicAccess: true,
      jobsPerCoreDefault: 2,
      idleShutdownMinMinutes: 15,
      autostopSchedule: "0 */1 * * * *",
      arm: { endpoint: "https://127.0.0.1:10443", tlsCaFile: ".data/cloud/tls/cert.pem" },
      identityClientId: "5c1e7d2a-0b8e-4f43-9d61-0c0a5e1d7a01",
      workspaceFiles: { storageAccount: "wslocalfiles", shareName: "workspace", shareQuotaGb: 100 },
    });
    expect(s.allowedVmSizes).toHaveLength(7);
    expect(s.sshAllowedSourcePrefixes.map((p) => p.prefix)).toEqual(["203.0.113.0/24", "198.51.100.17"]);
    expect(s.quotaVcpusPerFamily.standardNCASv3_T4Family).toBe(16);
    expect(s.storage).toMatchObject({ kind: "identity", credential: "managedidentity", endpoints: { table: "https://127.0.0.1:10002/devstoreaccount1" } });
  });

  it("applies defaults for optional settings", () => {
    const s = parseSettings({
      ...exampleEnv,
      IDLE_SHUTDOWN_MIN_MINUTES: undefined,
      AUTOSTOP_SCHEDULE: undefined,
      JOBS_PER_CORE_DEFAULT: "",
      ARM_ENDPOINT: undefined,
      AZURE_CLIENT_ID: undefined,
      SSH_ALLOWED_SOURCE_PREFIXES: undefined,
      QUOTA_VCPUS_PER_FAMILY: undefined,
    });
    expect(s.idleShutdownMinMinutes).toBe(15);
    expect(s.autostopSchedule).toBe("0 */1 * * * *");
    expect(s.jobsPerCoreDefault).toBe(2);
    expect(s.arm).toMatchObject({ endpoint: "https://management.azure.com" });
    expect(s.identityClientId).toBeUndefined();
    expect(s.sshAllowedSourcePrefixes).toEqual([]);
    expect(s.quotaVcpusPerFamily).toEqual({});
  });

  it.each<[string, Record<string, string | undefined>, string]>([
    ["missing workspace", { WORKSPACE_NAME: undefined }, "WORKSPACE_NAME"],
    ["subscription not a guid", { AZURE_SUBSCRIPTION_ID: "sub" }, "AZURE_SUBSCRIPTION_ID"],
    ["missing resource group", { AZURE_RESOURCE_GROUP: " " }, "AZURE_RESOURCE_GROUP"],
    ["missing location", { AZURE_LOCATION: undefined }, "AZURE_LOCATION"],
    ["no sizes", { ALLOWED_VM_SIZES: "," }, "ALLOWED_VM_SIZES"],
    ["bad subnet", { ALLOWED_SUBNET_IDS: "/subscriptions/x" }, "ALLOWED_SUBNET_IDS"],
    ["bad bool", { ALLOW_PUBLIC_IP: "maybe" }, "ALLOW_PUBLIC_IP"],
    ["bad cidr", { SSH_ALLOWED_SOURCE_PREFIXES: "203.0.113.0/33" }, "SSH_ALLOWED_SOURCE_PREFIXES"],
    ["host bits", { SSH_ALLOWED_SOURCE_PREFIXES: "203.0.113.5/24" }, "SSH_ALLOWED_SOURCE_PREFIXES"],
    ["short ipv4", { SSH_ALLOWED_SOURCE_PREFIXES: "10.1.2" }, "SSH_ALLOWED_SOURCE_PREFIXES"],
    ["quota not json", { QUOTA_VCPUS_PER_FAMILY: "{x" }, "QUOTA_VCPUS_PER_FAMILY"],
    ["quota negative", { QUOTA_VCPUS_PER_FAMILY: '{"a":-1}' }, "QUOTA_VCPUS_PER_FAMILY"],
    ["jobs per core", { JOBS_PER_CORE_DEFAULT: "0" }, "JOBS_PER_CORE_DEFAULT"],
    ["registry with a path", { ALLOWED_JOB_REGISTRIES: "myacr.azurecr.io/train" }, "ALLOWED_JOB_REGISTRIES"],
    ["autostop five fields", { AUTOSTOP_SCHEDULE: "*/1 * * * *" }, "AUTOSTOP_SCHEDULE"],
    ["idle min", { IDLE_SHUTDOWN_MIN_MINUTES: "abc" }, "IDLE_SHUTDOWN_MIN_MINUTES"],
    ["arm endpoint", { ARM_ENDPOINT: "not a url" }, "ARM_ENDPOINT"],
    ["client id", { AZURE_CLIENT_ID: "me" }, "AZURE_CLIENT_ID"],
    ["storage account", { WORKSPACE_STORAGE_ACCOUNT: "Bad_Name" }, "WORKSPACE_STORAGE_ACCOUNT"],
    ["share name", { WORKSPACE_SHARE_NAME: "A" }, "WORKSPACE_SHARE_NAME"],
    ["share quota", { WORKSPACE_SHARE_QUOTA_GB: "0" }, "WORKSPACE_SHARE_QUOTA_GB"],
    [
      "storage missing",
      {
        AzureWebJobsStorage: undefined, AzureWebJobsStorage__blobServiceUri: undefined, AzureWebJobsStorage__queueServiceUri: undefined,
        AzureWebJobsStorage__tableServiceUri: undefined, AzureWebJobsStorage__credential: undefined, AzureWebJobsStorage__clientId: undefined,
      },
      "AzureWebJobsStorage",
    ],
  ])("%s → names %s", (_case, overrides, setting) => {
    const { list, message } = problems(overrides);
    expect(list.map((p) => p.setting)).toContain(setting);
    expect(message).toContain(setting);
  });

  it("never echoes secret values", () => {
    const secret = "AccountKey=SUPERSECRETKEY==";
    const { message } = problems({ AzureWebJobsStorage: secret });
    expect(message).toContain("AzureWebJobsStorage");
    expect(message).not.toContain("SUPERSECRET");
  });

  it("accepts explicit any-source SSH tokens", () => {
    const s = parseSettings({ ...exampleEnv, SSH_ALLOWED_SOURCE_PREFIXES: "Internet, 2001:db8::/32" });
    expect(s.sshAllowedSourcePrefixes).toEqual([
      { kind: "any", prefix: "Internet" },
      { kind: "cidr", prefix: "2001:db8::/32", version: 6, bits: 32 },
    ]);
  });
});
