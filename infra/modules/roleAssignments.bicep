// The app identity's role assignments inside the resource group, exactly as roles.json lists
// them (the cloud emulator grants the same file locally). Subscription-scope ones are in main.bicep.
param principalId string
@description('roles.json custom role key → role definition resource id.')
param customRoleIds object
param vnetName string
param instancesSubnetName string
param functionStorageName string
param workspaceStorageName string
param workspaceRegistryName string
param appInsightsName string

var roles = loadJsonContent('../roles.json')
// Each assignment with its role definition id: a built-in role by its GUID, or a custom one by key.
var assignments = map(roles.assignments, a => union(a, {
  roleDefinitionId: a.?builtInRoleId != null ? subscriptionResourceId('Microsoft.Authorization/roleDefinitions', a.?builtInRoleId ?? '') : customRoleIds[?a.?role ?? '']
}))

resource vnet 'Microsoft.Network/virtualNetworks@2024-05-01' existing = {
  name: vnetName
}

resource instancesSubnet 'Microsoft.Network/virtualNetworks/subnets@2024-05-01' existing = {
  parent: vnet
  name: instancesSubnetName
}

resource functionStorage 'Microsoft.Storage/storageAccounts@2023-05-01' existing = {
  name: functionStorageName
}

resource workspaceStorage 'Microsoft.Storage/storageAccounts@2023-05-01' existing = {
  name: workspaceStorageName
}

resource workspaceRegistry 'Microsoft.ContainerRegistry/registries@2023-07-01' existing = {
  name: workspaceRegistryName
}

resource appInsights 'Microsoft.Insights/components@2020-02-02' existing = {
  name: appInsightsName
}

resource groupAssignments 'Microsoft.Authorization/roleAssignments@2022-04-01' = [for a in filter(assignments, x => x.scope == 'instancesResourceGroup'): {
  name: guid(resourceGroup().id, principalId, a.name)
  properties: { principalId: principalId, principalType: 'ServicePrincipal', roleDefinitionId: a.roleDefinitionId }
}]

resource subnetAssignments 'Microsoft.Authorization/roleAssignments@2022-04-01' = [for a in filter(assignments, x => x.scope == 'instancesSubnet'): {
  name: guid(instancesSubnet.id, principalId, a.name)
  scope: instancesSubnet
  properties: { principalId: principalId, principalType: 'ServicePrincipal', roleDefinitionId: a.roleDefinitionId }
}]

resource functionStorageAssignments 'Microsoft.Authorization/roleAssignments@2022-04-01' = [for a in filter(assignments, x => x.scope == 'functionStorage'): {
  name: guid(functionStorage.id, principalId, a.name)
  scope: functionStorage
  properties: {
    principalId: principalId
    principalType: 'ServicePrincipal'
    roleDefinitionId: a.roleDefinitionId
    description: a.?description ?? ''
    // The delegation (agentQueueDelegation) carries an ABAC condition: it can only grant the agent-queue role.
    condition: a.?condition
    conditionVersion: a.?conditionVersion
  }
}]

resource workspaceStorageAssignments 'Microsoft.Authorization/roleAssignments@2022-04-01' = [for a in filter(assignments, x => x.scope == 'workspaceStorage'): {
  name: guid(workspaceStorage.id, principalId, a.name)
  scope: workspaceStorage
  properties: { principalId: principalId, principalType: 'ServicePrincipal', roleDefinitionId: a.roleDefinitionId }
}]

// The delegation (agentRegistryDelegation, with its ABAC condition): the app grants each instance's identity AcrPull here, nothing else.
resource workspaceRegistryAssignments 'Microsoft.Authorization/roleAssignments@2022-04-01' = [for a in filter(assignments, x => x.scope == 'workspaceRegistry'): {
  name: guid(workspaceRegistry.id, principalId, a.name)
  scope: workspaceRegistry
  properties: {
    principalId: principalId
    principalType: 'ServicePrincipal'
    roleDefinitionId: a.roleDefinitionId
    description: a.?description ?? ''
    condition: a.?condition
    conditionVersion: a.?conditionVersion
  }
}]

// Telemetry with Entra ID: the component has local auth off.
resource appInsightsAssignments 'Microsoft.Authorization/roleAssignments@2022-04-01' = [for a in filter(assignments, x => x.scope == 'appInsights'): {
  name: guid(appInsights.id, principalId, a.name)
  scope: appInsights
  properties: { principalId: principalId, principalType: 'ServicePrincipal', roleDefinitionId: a.roleDefinitionId, description: a.?description ?? '' }
}]
