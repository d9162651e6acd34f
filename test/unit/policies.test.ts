import { describe, expect, it } from "vitest";
import { QuotaExceededError } from "../../shared/errors";
import { applicationsNsgRules } from "../../shared/policies/applications";
import { resolveNetwork } from "../../shared/policies/network";
import { checkQuota, quotaSummary, workspaceUsage } from "../../shared/policies/quota";
import { checkSshRequest, DENY_ALL_PRIORITY, linuxConfiguration, nsgSecurityRules, type SecurityRule } from "../../shared/policies/ssh";
import { settingsWith, SUBNET, SUBNET2 } from "./settingsFixture";

const allowSsh = (prefixes: string) => settingsWith({ ALLOW_SSH_PUBLIC_ACCESS: "true", SSH_ALLOWED_SOURCE_PREFIXES: prefixes });
const inboundAllows = (rules: SecurityRule[]) => rules.filter((r) => r.properties.direction === "Inbound" && r.properties.access === "Allow");

describe("SSH policy → NSG rules", () => {
  it.each<[string, "Enabled" | "Disabled", ReturnType<typeof settingsWith>, { prefix?: string; prefixes?: string[] } | null]>([
    ["disabled: only deny-all", "Disabled", allowSsh("203.0.113.0/24"), null],
    ["enabled but policy off", "Enabled", settingsWith({ ALLOW_SSH_PUBLIC_ACCESS: "false" }), null],
    ["enabled with empty prefix list", "Enabled", allowSsh(""), null],
    ["enabled, one prefix", "Enabled", allowSsh("203.0.113.0/24"), { prefix: "203.0.113.0/24" }],
    ["enabled, several prefixes", "Enabled", allowSsh("203.0.113.0/24,198.51.100.17/32"), { prefixes: ["203.0.113.0/24", "198.51.100.17"] }],
    ["explicit Internet", "Enabled", allowSsh("Internet"), { prefix: "Internet" }],
    ["explicit 0.0.0.0/0", "Enabled", allowSsh("0.0.0.0/0"), { prefix: "Internet" }],
    ["explicit *", "Enabled", allowSsh("*"), { prefix: "*" }],
  ])("%s", (_case, access, settings, allow) => {
    const rules = nsgSecurityRules(access, settings);
    const last = rules[rules.length - 1];
    expect(last?.properties).toMatchObject({ access: "Deny", direction: "Inbound", priority: DENY_ALL_PRIORITY, sourceAddressPrefix: "*", destinationPortRange: "*", protocol: "*" });
    const allows = inboundAllows(rules);
    if (allow === null) return expect(allows).toEqual([]);
    expect(allows).toHaveLength(1);
    const p = allows[0]?.properties;
    expect(p).toMatchObject({ protocol: "Tcp", destinationPortRange: "22" });
    expect(p?.priority).toBeLessThan(DENY_ALL_PRIORITY);
    if (allow.prefix) expect(p?.sourceAddressPrefix).toBe(allow.prefix);
    if (allow.prefixes) expect(p?.sourceAddressPrefixes).toEqual(allow.prefixes);
  });

  it("never opens to any source from CIDR prefixes alone", () => {
    const p = inboundAllows(nsgSecurityRules("Enabled", allowSsh("10.0.0.0/8,192.168.1.1")))[0]?.properties;
    expect(p?.sourceAddressPrefix).toBeUndefined();
    expect(p?.sourceAddressPrefixes).toEqual(["10.0.0.0/8", "192.168.1.1"]);
  });

  // The domain rules field by field (the ARM wire shape is shared/azure/network.ts's business).
  const denyAll: SecurityRule = {
    name: "DenyAllInbound",
    properties: {
      description: "Inbound is closed unless a rule above opens it.",
      priority: 4096,
      direction: "Inbound",
      access: "Deny",
      protocol: "*",
      sourceAddressPrefix: "*",
      sourcePortRange: "*",
      destinationAddressPrefix: "*",
      destinationPortRange: "*",
    },
  };
  const sshAllow = (source: { sourceAddressPrefix: string } | { sourceAddressPrefixes: string[] }): SecurityRule => ({
    name: "AllowSshFromAllowedPrefixes",
    properties: {
      description: "SSH (key-only) from SSH_ALLOWED_SOURCE_PREFIXES.",
      priority: 1000,
      direction: "Inbound",
      access: "Allow",
      protocol: "Tcp",
      ...source,
      sourcePortRange: "*",
      destinationAddressPrefix: "*",
      destinationPortRange: "22",
    },
  });

  it("SSH disabled: the deny-all rule alone, every field", () => {
    expect(nsgSecurityRules("Disabled", allowSsh("203.0.113.0/24"))).toEqual([denyAll]);
    expect(nsgSecurityRules("Disabled", settingsWith({ ALLOW_SSH_PUBLIC_ACCESS: "false" }))).toEqual([denyAll]);
  });

  it.each<[string, string, Parameters<typeof sshAllow>[0]]>([
    ["one prefix", "203.0.113.0/24", { sourceAddressPrefix: "203.0.113.0/24" }],
    ["several prefixes", "203.0.113.0/24,198.51.100.17/32", { sourceAddressPrefixes: ["203.0.113.0/24", "198.51.100.17"] }],
    ["Internet among prefixes", "10.0.0.0/8,Internet", { sourceAddressPrefix: "Internet" }],
    ["* among prefixes", "10.0.0.0/8,*", { sourceAddressPrefix: "*" }],
  ])("SSH enabled, %s: the allow rule then deny-all, every field", (_case, prefixes, source) => {
    expect(nsgSecurityRules("Enabled", allowSsh(prefixes))).toEqual([sshAllow(source), denyAll]);
  });

  it.each<[string, ReturnType<typeof settingsWith>, string]>([
    ["policy off", settingsWith({ ALLOW_SSH_PUBLIC_ACCESS: "false" }), "SSH public access is not allowed by the workspace policy"],
    ["no prefixes", allowSsh(""), "the workspace policy lists no SSH source prefixes (SSH_ALLOWED_SOURCE_PREFIXES)"],
  ])("a request for SSH is refused when the %s", (_case, settings, message) => {
    expect(checkSshRequest("Enabled", settings)).toEqual([{ code: "SshNotAllowed", target: "sshPublicAccess", message }]);
    expect(checkSshRequest("Disabled", settings)).toEqual([]);
  });

  it("VM login without a key lists no keys", () => {
    expect(linuxConfiguration(undefined)).toEqual({ disablePasswordAuthentication: true, ssh: { publicKeys: [] } });
  });

  it("VM login is key-only", () => {
    expect(linuxConfiguration("ssh-ed25519 AAAA x")).toEqual({
      disablePasswordAuthentication: true,
      ssh: { publicKeys: [{ path: "/home/azureuser/.ssh/authorized_keys", keyData: "ssh-ed25519 AAAA x" }] },
    });
  });
});

describe("applications policy → NSG rule", () => {
  it("opens the proxy port to the virtual network only, above the deny-all rule", () => {
    expect(applicationsNsgRules(8443)).toEqual([
      {
        name: "AllowApplicationsProxyFromVNet",
        properties: {
          description: "The agent's authenticating application proxy (APPS_PROXY_PORT), from the virtual network only.",
          priority: 1010,
          direction: "Inbound",
          access: "Allow",
          protocol: "Tcp",
          sourceAddressPrefix: "VirtualNetwork",
          sourcePortRange: "*",
          destinationAddressPrefix: "*",
          destinationPortRange: "8443",
        },
      },
    ]);
  });

  it("port 0 (the emulator's any free port) opens nothing", () => {
    expect(applicationsNsgRules(0)).toEqual([]);
  });
});

describe("network policy", () => {
  const policy = { allowedSubnetIds: [SUBNET, SUBNET2], allowPublicIp: false };
  it.each<[string, { subnetId?: string; enablePublicIp?: boolean }, typeof policy, unknown]>([
    ["default subnet is the first allowed", {}, policy, { subnetId: SUBNET, publicIp: false }],
    ["second subnet, other case", { subnetId: SUBNET2.toLowerCase() }, policy, { subnetId: SUBNET2, publicIp: false }],
    ["subnet not allowed", { subnetId: SUBNET.replace("compute", "x") }, policy, ["subnetId"]],
    ["public ip refused", { enablePublicIp: true }, policy, ["enablePublicIp"]],
    ["public ip allowed", { enablePublicIp: true }, { ...policy, allowPublicIp: true }, { subnetId: SUBNET, publicIp: true }],
    ["no subnets configured", {}, { allowedSubnetIds: [], allowPublicIp: false }, ["subnetId"]],
  ])("%s", (_case, request, p, expected) => {
    const r = resolveNetwork(request, p);
    if (Array.isArray(expected)) {
      expect("errors" in r && r.errors.map((e) => e.target)).toEqual(expected);
    } else expect(r).toEqual(expected);
  });
});

describe("network policy messages", () => {
  it("reports every problem once, with its code and message", () => {
    expect(resolveNetwork({ subnetId: SUBNET, enablePublicIp: true }, { allowedSubnetIds: [], allowPublicIp: false })).toEqual({
      errors: [
        { code: "SubnetNotAllowed", target: "subnetId", message: "is not one of the subnets the workspace allows (ALLOWED_SUBNET_IDS)" },
        { code: "PublicIpNotAllowed", target: "enablePublicIp", message: "public IP addresses are not allowed by the workspace network policy" },
      ],
    });
    expect(resolveNetwork({}, { allowedSubnetIds: [], allowPublicIp: true })).toEqual({
      errors: [{ code: "SubnetNotAllowed", target: "subnetId", message: "no subnet is configured for the workspace" }],
    });
  });

  it("a public IP that is not asked for needs no permission", () => {
    expect(resolveNetwork({ enablePublicIp: false }, { allowedSubnetIds: [SUBNET], allowPublicIp: false })).toEqual({ subnetId: SUBNET, publicIp: false });
  });
});

describe("quota", () => {
  const limits = { standardNCSv3Family: 24, standardDSv5Family: 64 };
  const instances = [
    { name: "a", state: "Running" as const, family: "standardNCSv3Family", vCpus: 6 },
    { name: "b", state: "JobRunning" as const, family: "standardNCSv3Family", vCpus: 12 },
    { name: "c", state: "Stopped" as const, family: "standardNCSv3Family", vCpus: 24 },
    { name: "d", state: "CreateFailed" as const, family: "standardNCSv3Family", vCpus: 24 },
    { name: "e", state: "Creating" as const, family: "standardDSv5Family", vCpus: 4 },
  ];
  const used = workspaceUsage(instances);

  it("counts only instances that hold cores", () => {
    expect(used).toEqual({ standardNCSv3Family: 18, standardDSv5Family: 4 });
    expect(workspaceUsage(instances, "B")).toEqual({ standardNCSv3Family: 6, standardDSv5Family: 4 });
  });

  it.each<[string, Parameters<typeof checkQuota>[0], null | { used: number; limit: number; requested: number; scope: string; family: string }]>([
    ["fits exactly", { family: "standardNCSv3Family", vCpus: 6, workspaceUsed: used, workspaceLimits: limits }, null],
    ["exceeds workspace", { family: "standardNCSv3Family", vCpus: 12, workspaceUsed: used, workspaceLimits: limits }, { family: "standardNCSv3Family", used: 18, limit: 24, requested: 12, scope: "workspace" }],
    ["family without policy limit", { family: "otherFamily", vCpus: 1000, workspaceUsed: used, workspaceLimits: limits }, null],
    ["case-insensitive family", { family: "standardncsv3family", vCpus: 12, workspaceUsed: used, workspaceLimits: limits }, { family: "standardncsv3family", used: 18, limit: 24, requested: 12, scope: "workspace" }],
    [
      "exceeds subscription family",
      { family: "standardDSv5Family", vCpus: 8, workspaceUsed: used, workspaceLimits: limits, providerUsages: [{ name: { value: "standardDSv5Family" }, currentValue: 60, limit: 64 }] },
      { family: "standardDSv5Family", used: 60, limit: 64, requested: 8, scope: "subscription" },
    ],
    [
      "exceeds regional cores",
      { family: "standardDSv5Family", vCpus: 8, workspaceUsed: used, workspaceLimits: limits, providerUsages: [{ name: { value: "cores" }, currentValue: 95, limit: 100 }] },
      { family: "regional total (cores)", used: 95, limit: 100, requested: 8, scope: "subscription" },
    ],
  ])("%s", (_case, req, expected) => {
    const r = checkQuota(req);
    if (expected === null) return expect(r.ok).toBe(true);
    expect(r.ok).toBe(false);
    if (r.ok) return;
    expect(r.error).toBeInstanceOf(QuotaExceededError);
    expect(r.error.status).toBe(409);
    expect(r.error.quota).toEqual(expected);
  });

  it("the instance being started is left out of the usage, whatever the case of its name", () => {
    expect(workspaceUsage(instances, "a")).toEqual({ standardNCSv3Family: 12, standardDSv5Family: 4 });
    expect(workspaceUsage([{ state: "Running", family: "f", vCpus: 4 }], "a")).toEqual({ f: 4 });
  });

  it("a request that fits the subscription exactly passes; unnamed or other families' usages do not count", () => {
    const base = { family: "standardDSv5Family", vCpus: 4, workspaceUsed: {}, workspaceLimits: {} };
    expect(checkQuota({ ...base, providerUsages: [{ name: { value: "standardDSv5Family" }, currentValue: 60, limit: 64 }] }).ok).toBe(true);
    expect(checkQuota({ ...base, providerUsages: [{ currentValue: 99, limit: 1 }, { name: { value: "otherFamily" }, currentValue: 99, limit: 1 }] }).ok).toBe(true);
  });

  it("a family listed twice is summarised once", () => {
    expect(quotaSummary(["x", "x"], {}, {})).toEqual([{ family: "x", used: 0 }]);
  });

  it("summarises use and the tighter limit per family", () => {
    expect(
      quotaSummary(["standardNCSv3Family", "standardDSv5Family", "x"], used, limits, [{ name: { value: "standardDSv5Family" }, currentValue: 1, limit: 10 }]),
    ).toEqual([
      { family: "standardNCSv3Family", used: 18, limit: 24 },
      { family: "standardDSv5Family", used: 4, limit: 10 },
      { family: "x", used: 0 },
    ]);
  });
});
