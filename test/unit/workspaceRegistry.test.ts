// The workspace registry's settings (login server + resource id, together or not at all), the
// agent's unit naming it, and the agent's rule for which images it logs in for.
import { describe, expect, it } from "vitest";
import { registryOf } from "../../agent/registryLogin";
import { agentUnit } from "../../orchestrations/instances/cloudInit";
import { agentSettings } from "../../shared/jobs/agent";

const DEFAULTS = { queueEndpoint: "https://q", accountName: "acct", subscriptionId: "00000000-0000-0000-0000-000000000001", resourceGroup: "rg" };
const BASE = { JOBS_AGENT_APP_URL: "https://app", JOBS_AGENT_APP_AUDIENCE: "api://app" };
const ID = "/subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups/rg/providers/Microsoft.ContainerRegistry/registries/crws";

describe("WORKSPACE_REGISTRY / WORKSPACE_REGISTRY_ID", () => {
  it("are read together: the login server (lowercased) and the resource id AcrPull is granted on", () => {
    expect(agentSettings({ ...BASE, WORKSPACE_REGISTRY: "CrWs.azurecr.io", WORKSPACE_REGISTRY_ID: ID }, DEFAULTS).registry).toEqual({ loginServer: "crws.azurecr.io", resourceId: ID });
    expect(agentSettings(BASE, DEFAULTS).registry).toBeUndefined();
  });

  it("refuse one without the other, a login server that is not a host, and an id that is not a registry's, naming the setting", () => {
    expect(() => agentSettings({ ...BASE, WORKSPACE_REGISTRY: "crws.azurecr.io" }, DEFAULTS)).toThrow(/WORKSPACE_REGISTRY and WORKSPACE_REGISTRY_ID/);
    expect(() => agentSettings({ ...BASE, WORKSPACE_REGISTRY_ID: ID }, DEFAULTS)).toThrow(/WORKSPACE_REGISTRY and WORKSPACE_REGISTRY_ID/);
    expect(() => agentSettings({ ...BASE, WORKSPACE_REGISTRY: "crws.azurecr.io/team", WORKSPACE_REGISTRY_ID: ID }, DEFAULTS)).toThrow(/setting WORKSPACE_REGISTRY must/);
    expect(() => agentSettings({ ...BASE, WORKSPACE_REGISTRY: "crws.azurecr.io", WORKSPACE_REGISTRY_ID: ID.replace("ContainerRegistry/registries", "Storage/storageAccounts") }, DEFAULTS)).toThrow(/setting WORKSPACE_REGISTRY_ID must/);
  });

  it("reach the agent as CI_AGENT_REGISTRY (absent: no line)", () => {
    const boot = { appUrl: "https://app", appAudience: "api://app", queueUrl: "https://q/x", instance: "i", user: "u", heartbeatSeconds: 30, signalsSeconds: 60, proxyPort: 8890, inputRecentSeconds: 300 };
    expect(agentUnit({ ...boot, registry: "crws.azurecr.io" })).toContain('Environment="CI_AGENT_REGISTRY=crws.azurecr.io"');
    expect(agentUnit(boot)).not.toContain("CI_AGENT_REGISTRY");
  });
});

describe("registryOf (Docker's reference rule)", () => {
  it("takes a first component with a dot, a port or localhost as the registry, anything else is Docker Hub's", () => {
    expect(registryOf("CrWs.azurecr.io/train/env:v3")).toBe("crws.azurecr.io");
    expect(registryOf("127.0.0.1:10443/ci/debian:bookworm")).toBe("127.0.0.1:10443");
    expect(registryOf("localhost/x")).toBe("localhost");
    expect(registryOf("library/python:3.12")).toBe("docker.io");
    expect(registryOf("ubuntu")).toBe("docker.io");
  });
});
