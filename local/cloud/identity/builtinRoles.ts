// Azure built-in role definitions the emulator knows, with their real ids and action lists
// (as `az role definition list --name <id>` shows them; trimmed only of providers the
// emulator never serves, which cannot change a decision here).
export type RoleDefinition = {
  id: string;
  roleName: string;
  actions: string[];
  notActions: string[];
  dataActions: string[];
  notDataActions: string[];
};

const role = (id: string, roleName: string, p: Partial<Omit<RoleDefinition, "id" | "roleName">>): RoleDefinition => ({
  id, roleName, actions: p.actions ?? [], notActions: p.notActions ?? [], dataActions: p.dataActions ?? [], notDataActions: p.notDataActions ?? [],
});

export const BUILT_IN_ROLES: RoleDefinition[] = [
  role("8e3af657-a8ff-443c-a75c-2fe8c4bcb635", "Owner", { actions: ["*"] }),
  role("b24988ac-6180-42a0-ab88-20f7382dd24c", "Contributor", {
    actions: ["*"],
    notActions: [
      "Microsoft.Authorization/*/Delete", "Microsoft.Authorization/*/Write", "Microsoft.Authorization/elevateAccess/Action",
      "Microsoft.Blueprint/blueprintAssignments/write", "Microsoft.Blueprint/blueprintAssignments/delete",
      "Microsoft.Compute/galleries/share/action", "Microsoft.Purview/consents/write", "Microsoft.Purview/consents/delete",
      "Microsoft.Resources/deploymentStacks/manageDenySetting/action", "Microsoft.Subscription/cancel/action", "Microsoft.Subscription/enable/action",
    ],
  }),
  role("acdd72a7-3385-48ef-bd42-f606fba81ae7", "Reader", { actions: ["*/read"] }),
  role("3913510d-42f4-4e42-8a64-420c390055eb", "Monitoring Metrics Publisher", {
    actions: ["Microsoft.Insights/Register/Action", "Microsoft.Support/*", "Microsoft.Resources/subscriptions/resourceGroups/read"],
    dataActions: ["Microsoft.Insights/Metrics/Write", "Microsoft.Insights/Telemetry/Write"],
  }),
  role("9980e02c-c2be-4d73-94e8-173b1dc7cf3c", "Virtual Machine Contributor", {
    actions: [
      "Microsoft.Authorization/*/read", "Microsoft.Compute/availabilitySets/*", "Microsoft.Compute/locations/*", "Microsoft.Compute/virtualMachines/*",
      "Microsoft.Compute/virtualMachineScaleSets/*", "Microsoft.Compute/cloudServices/*", "Microsoft.Compute/disks/write", "Microsoft.Compute/disks/read",
      "Microsoft.Compute/disks/delete", "Microsoft.DevTestLab/schedules/*", "Microsoft.Insights/alertRules/*",
      "Microsoft.Network/applicationGateways/backendAddressPools/join/action", "Microsoft.Network/loadBalancers/backendAddressPools/join/action",
      "Microsoft.Network/loadBalancers/inboundNatPools/join/action", "Microsoft.Network/loadBalancers/inboundNatRules/join/action",
      "Microsoft.Network/loadBalancers/probes/join/action", "Microsoft.Network/loadBalancers/read", "Microsoft.Network/locations/*",
      "Microsoft.Network/networkInterfaces/*", "Microsoft.Network/networkSecurityGroups/join/action", "Microsoft.Network/networkSecurityGroups/read",
      "Microsoft.Network/publicIPAddresses/join/action", "Microsoft.Network/publicIPAddresses/read", "Microsoft.Network/virtualNetworks/read",
      "Microsoft.Network/virtualNetworks/subnets/join/action", "Microsoft.RecoveryServices/locations/*",
      "Microsoft.ResourceHealth/availabilityStatuses/read", "Microsoft.Resources/deployments/*", "Microsoft.Resources/subscriptions/resourceGroups/read",
      "Microsoft.SerialConsole/serialPorts/connect/action", "Microsoft.SqlVirtualMachine/*", "Microsoft.Storage/storageAccounts/listKeys/action",
      "Microsoft.Storage/storageAccounts/read", "Microsoft.Support/*",
    ],
  }),
  role("4d97b98b-1d4f-4787-a291-c67834d212e7", "Network Contributor", {
    actions: [
      "Microsoft.Authorization/*/read", "Microsoft.Insights/alertRules/*", "Microsoft.Network/*", "Microsoft.ResourceHealth/availabilityStatuses/read",
      "Microsoft.Resources/deployments/*", "Microsoft.Resources/subscriptions/resourceGroups/read", "Microsoft.Support/*",
    ],
  }),
  role("7f951dda-4ed3-4680-a7ca-43fe172d538d", "AcrPull", { actions: ["Microsoft.ContainerRegistry/registries/pull/read"] }),
  role("f58310d9-a9f6-439a-9e8d-f62e7b41a168", "Role Based Access Control Administrator", {
    actions: ["Microsoft.Authorization/roleAssignments/write", "Microsoft.Authorization/roleAssignments/delete", "*/read", "Microsoft.Support/*"],
  }),
  role("b7e6dc6d-f1e8-4753-8033-0f2399d41e3b", "Storage Blob Data Owner", {
    actions: ["Microsoft.Storage/storageAccounts/blobServices/containers/*", "Microsoft.Storage/storageAccounts/blobServices/generateUserDelegationKey/action"],
    dataActions: ["Microsoft.Storage/storageAccounts/blobServices/containers/blobs/*"],
  }),
  role("974c5e8b-45b9-4653-ba55-5f855dd0fb88", "Storage Queue Data Contributor", {
    actions: [
      "Microsoft.Storage/storageAccounts/queueServices/queues/delete", "Microsoft.Storage/storageAccounts/queueServices/queues/read",
      "Microsoft.Storage/storageAccounts/queueServices/queues/write",
    ],
    dataActions: [
      "Microsoft.Storage/storageAccounts/queueServices/queues/messages/delete", "Microsoft.Storage/storageAccounts/queueServices/queues/messages/read",
      "Microsoft.Storage/storageAccounts/queueServices/queues/messages/write", "Microsoft.Storage/storageAccounts/queueServices/queues/messages/process/action",
    ],
  }),
  role("8a0f0c08-91a1-4084-bc3d-661d67233fed", "Storage Queue Data Message Processor", {
    dataActions: ["Microsoft.Storage/storageAccounts/queueServices/queues/messages/read", "Microsoft.Storage/storageAccounts/queueServices/queues/messages/process/action"],
  }),
  role("0a9a7e1f-b9d0-4cc4-a60d-0319b160aaa3", "Storage Table Data Contributor", {
    actions: [
      "Microsoft.Storage/storageAccounts/tableServices/tables/read", "Microsoft.Storage/storageAccounts/tableServices/tables/write",
      "Microsoft.Storage/storageAccounts/tableServices/tables/delete",
    ],
    dataActions: [
      "Microsoft.Storage/storageAccounts/tableServices/tables/entities/read", "Microsoft.Storage/storageAccounts/tableServices/tables/entities/write",
      "Microsoft.Storage/storageAccounts/tableServices/tables/entities/delete", "Microsoft.Storage/storageAccounts/tableServices/tables/entities/add/action",
      "Microsoft.Storage/storageAccounts/tableServices/tables/entities/update/action",
    ],
  }),
  role("69566ab7-960f-475b-8e7c-b3118f30c6bd", "Storage File Data Privileged Contributor", {
    dataActions: [
      "Microsoft.Storage/storageAccounts/fileServices/fileshares/files/read", "Microsoft.Storage/storageAccounts/fileServices/fileshares/files/write",
      "Microsoft.Storage/storageAccounts/fileServices/fileshares/files/delete", "Microsoft.Storage/storageAccounts/fileServices/fileshares/files/modifypermissions/action",
      "Microsoft.Storage/storageAccounts/fileServices/readFileBackupSemantics/action", "Microsoft.Storage/storageAccounts/fileServices/writeFileBackupSemantics/action",
    ],
  }),
];
