// The emulator's RBAC evaluation, as Azure computes it: wildcard actions, notActions within a
// role, scope inheritance on whole segments, the action ARM derives from method + path, and
// the linked join actions of a PUT body.
import { describe, expect, it } from "vitest";
import { actionMatches, authorizeArm, customRoleId, linkedActions, Rbac, requiredArmAction, scopeCovers } from "../../local/cloud/rbac";
import { ArmError } from "../../local/cloud/http";

const SUB = "/subscriptions/00000000-0000-0000-0000-000000000001";
const RG = `${SUB}/resourceGroups/rg-ws`;
const SUBNET = `${RG}/providers/Microsoft.Network/virtualNetworks/vnet/subnets/compute`;
const OTHER_SUBNET = `${RG}/providers/Microsoft.Network/virtualNetworks/vnet/subnets/endpoints`;
const P = "11111111-1111-4111-8111-111111111111";
const caller = { principalId: P, clientId: "22222222-2222-4222-8222-222222222222" };

const REGISTRY = `${RG}/providers/Microsoft.ContainerRegistry/registries/crws`;
const withTemplate = (omit: string[] = []) => {
  const rbac = new Rbac();
  rbac.assignTemplateRoles(P, {
    subscription: [SUB], instancesResourceGroup: [RG], instancesSubnet: [SUBNET],
    functionStorage: [`${RG}/providers/Microsoft.Storage/storageAccounts/stfunc`], workspaceStorage: [`${RG}/providers/Microsoft.Storage/storageAccounts/stws`],
    workspaceRegistry: [REGISTRY], appInsights: [`${RG}/providers/Microsoft.Insights/components/appi`],
  }, omit);
  return rbac;
};
const refusal = (f: () => void) => {
  try {
    f();
  } catch (err) {
    return err as ArmError;
  }
  return undefined;
};

describe("rbac", () => {
  it("matches action wildcards case-insensitively", () => {
    expect(actionMatches("*/read", "Microsoft.Compute/virtualMachines/read")).toBe(true);
    expect(actionMatches("Microsoft.Network/*", "microsoft.network/networkInterfaces/join/action")).toBe(true);
    expect(actionMatches("Microsoft.Authorization/*/read", "Microsoft.Authorization/roleAssignments/write")).toBe(false);
    expect(actionMatches("Microsoft.Compute/virtualMachines/read", "Microsoft.Compute/virtualMachines/readx")).toBe(false);
  });

  it("inherits scopes on whole segments only", () => {
    expect(scopeCovers(RG, `${RG}/providers/Microsoft.Compute/virtualMachines/vm1`)).toBe(true);
    expect(scopeCovers(RG, `${SUB}/resourceGroups/rg-ws2`)).toBe(false);
    expect(scopeCovers(RG.toUpperCase(), RG)).toBe(true);
  });

  it("derives ARM's action and scope from the request", () => {
    expect(requiredArmAction("PUT", `${RG}/providers/Microsoft.Compute/virtualMachines/vm1`)).toEqual({
      action: "Microsoft.Compute/virtualMachines/write", scope: `${RG}/providers/Microsoft.Compute/virtualMachines/vm1`,
    });
    expect(requiredArmAction("POST", `${RG}/providers/Microsoft.Compute/virtualMachines/vm1/deallocate`)).toEqual({
      action: "Microsoft.Compute/virtualMachines/deallocate/action", scope: `${RG}/providers/Microsoft.Compute/virtualMachines/vm1`,
    });
    expect(requiredArmAction("GET", `${RG}/providers/Microsoft.Compute/virtualMachines`)?.action).toBe("Microsoft.Compute/virtualMachines/read");
    expect(requiredArmAction("DELETE", `${RG}/providers/Microsoft.Compute/virtualMachines/vm1/runCommands/rc`)?.action).toBe("Microsoft.Compute/virtualMachines/runCommands/delete");
    expect(requiredArmAction("GET", `${SUB}/providers/Microsoft.Compute/locations/westeurope/usages`)).toEqual({
      action: "Microsoft.Compute/locations/usages/read", scope: `${SUB}/providers/Microsoft.Compute/locations/westeurope`,
    });
    expect(requiredArmAction("GET", `${SUB}/providers/Microsoft.Compute/skus`)).toEqual({ action: "Microsoft.Compute/skus/read", scope: SUB });
  });

  it("subtracts a role's notActions: Contributor cannot write role assignments, Owner can", () => {
    const rbac = new Rbac();
    rbac.assign({ principalId: P, roleDefinitionId: "b24988ac-6180-42a0-ab88-20f7382dd24c", scope: RG });
    expect(rbac.allows(P, "Microsoft.Compute/virtualMachines/write", `${RG}/providers/Microsoft.Compute/virtualMachines/vm`)).toBe(true);
    expect(rbac.allows(P, "Microsoft.Authorization/roleAssignments/write", RG)).toBe(false);
    rbac.assign({ principalId: P, roleDefinitionId: "8e3af657-a8ff-443c-a75c-2fe8c4bcb635", scope: RG });
    expect(rbac.allows(P, "Microsoft.Authorization/roleAssignments/write", RG)).toBe(true);
    // Data actions are separate: Owner reads no file data.
    expect(rbac.allows(P, "Microsoft.Storage/storageAccounts/fileServices/fileshares/files/read", RG, "dataAction")).toBe(false);
  });

  it("gives the app's template roles what it needs and nothing around it", () => {
    const rbac = withTemplate();
    const vm = `${RG}/providers/Microsoft.Compute/virtualMachines/vm1`;
    for (const a of ["write", "delete", "start/action", "deallocate/action", "runCommands/write"]) expect(rbac.allows(P, `Microsoft.Compute/virtualMachines/${a}`, vm)).toBe(true);
    expect(rbac.allows(P, "Microsoft.Compute/skus/read", SUB)).toBe(true);
    // Not: the VNet, storage keys, role assignments, other resource groups, other subnets.
    expect(rbac.allows(P, "Microsoft.Network/virtualNetworks/write", `${RG}/providers/Microsoft.Network/virtualNetworks/vnet`)).toBe(false);
    expect(rbac.allows(P, "Microsoft.Storage/storageAccounts/listKeys/action", `${RG}/providers/Microsoft.Storage/storageAccounts/stws`)).toBe(false);
    expect(rbac.allows(P, "Microsoft.Compute/virtualMachines/write", `${SUB}/resourceGroups/other/providers/Microsoft.Compute/virtualMachines/vm1`)).toBe(false);
    expect(rbac.allows(P, "Microsoft.Network/virtualNetworks/subnets/join/action", OTHER_SUBNET)).toBe(false);
    expect(rbac.allows(P, "Microsoft.Storage/storageAccounts/fileServices/fileshares/files/write", `${RG}/providers/Microsoft.Storage/storageAccounts/stws`, "dataAction")).toBe(true);
    // On the workspace registry: assign roles (the condition narrows that to AcrPull for service principals in Azure).
    expect(rbac.allows(P, "Microsoft.Authorization/roleAssignments/write", `${REGISTRY}/providers/Microsoft.Authorization/roleAssignments/x`)).toBe(true);
    expect(customRoleId("operator")).toMatch(/^[0-9a-f-]{36}$/);
  });

  it("refuses like ARM: AuthorizationFailed for the action, LinkedAuthorizationFailed for a linked subnet", () => {
    const rbac = withTemplate();
    const vnet = `${RG}/providers/Microsoft.Network/virtualNetworks/vnet`;
    const denied = refusal(() => authorizeArm(rbac, caller, "PUT", vnet, () => ({})));
    expect(denied).toMatchObject({ status: 403, code: "AuthorizationFailed" });
    expect(denied!.message).toBe(
      `The client '${caller.clientId}' with object id '${P}' does not have authorization to perform action 'Microsoft.Network/virtualNetworks/write' over scope '${vnet}' or the scope is invalid. If access was recently granted, please refresh your credentials.`,
    );
    const nic = `${RG}/providers/Microsoft.Network/networkInterfaces/nic1`;
    const body = (subnet: string) => () => ({ properties: { ipConfigurations: [{ name: "ip", properties: { subnet: { id: subnet } } }] } });
    expect(refusal(() => authorizeArm(rbac, caller, "PUT", nic, body(SUBNET)))).toBeUndefined();
    const linked = refusal(() => authorizeArm(rbac, caller, "PUT", nic, body(OTHER_SUBNET)));
    expect(linked).toMatchObject({ status: 403, code: "LinkedAuthorizationFailed" });
    expect(linked!.message).toContain(`'Microsoft.Network/virtualNetworks/subnets/join/action' on the linked scope(s) '${OTHER_SUBNET}'`);
    // Each template assignment is needed: without the subnet role the NIC cannot join.
    const noJoin = withTemplate(["subnetJoin"]);
    expect(refusal(() => authorizeArm(noJoin, caller, "PUT", nic, body(SUBNET)))).toMatchObject({ code: "LinkedAuthorizationFailed" });
  });

  it("finds every linked resource in a body, but not the resource itself", () => {
    const nsg = `${RG}/providers/Microsoft.Network/networkSecurityGroups/n1`;
    const nic = `${RG}/providers/Microsoft.Network/networkInterfaces/nic1`;
    expect(linkedActions({ id: nic, properties: { networkSecurityGroup: { id: nsg }, ipConfigurations: [{ properties: { subnet: { id: SUBNET } } }] } }, nic).map((l) => l.action).sort()).toEqual([
      "Microsoft.Network/networkSecurityGroups/join/action", "Microsoft.Network/virtualNetworks/subnets/join/action",
    ]);
  });
});
