// Role assignments the app makes (one kind: a VM identity's data role on its instance's agent
// queue). Names are deterministic GUIDs, so a retried grant is the same assignment; an existing
// one (409 RoleAssignmentExists) is success, and deleting a missing one is done.
import type { ArmClients } from "./clients";
import { azureCall, statusOf, translateAzureError } from "./errors";

export async function grantRole(arm: ArmClients, p: { scope: string; name: string; roleId: string; principalId: string }): Promise<void> {
  const roleDefinitionId = `/subscriptions/${arm.subscriptionId}/providers/Microsoft.Authorization/roleDefinitions/${p.roleId}`;
  try {
    // The SDK puts "/" before the scope itself (its path is "/{scope}/providers/...").
    await arm.authorization.roleAssignments.create(p.scope.replace(/^\/+/, ""), p.name, { roleDefinitionId, principalId: p.principalId, principalType: "ServicePrincipal" });
  } catch (err) {
    if (statusOf(err) === 409) return; // RoleAssignmentExists: the grant is there
    throw translateAzureError(err, `grant role ${p.roleId} at ${p.scope}`);
  }
}

export async function revokeRole(arm: ArmClients, scope: string, name: string): Promise<void> {
  await azureCall(`revoke role assignment ${name}`, () => arm.authorization.roleAssignments.delete(scope.replace(/^\/+/, ""), name));
}
