// `azd up` entry point: one resource group with everything the app needs (see README.md here).
// Subscription scope because two things live above the group: the custom role definitions and
// the app's one subscription-level role (SKU/usage/operation reads, infra/roles.json).
targetScope = 'subscription'

@minLength(1)
@maxLength(40)
@description('azd environment name; names the resource group and is part of every resource name.')
param environmentName string

@minLength(1)
@description('Azure region for every resource.')
param location string

@description('Client id of the Entra ID app registration for App Service Authentication (created by infra/hooks/entra-app.sh before provisioning).')
param authClientId string

@description('Workspace name the instances belong to (WORKSPACE_NAME).')
param workspaceName string = 'ws-${environmentName}'

@description('VM sizes users may pick (ALLOWED_VM_SIZES).')
param allowedVmSizes string = 'Standard_D2s_v5,Standard_D4s_v5,Standard_E4s_v5'

@description('vCPU limit per VM family, JSON (QUOTA_VCPUS_PER_FAMILY).')
param quotaVcpusPerFamily string = '{"standardDSv5Family":32,"standardESv5Family":16}'

@description('Source prefixes allowed to reach instances over SSH, comma separated (SSH_ALLOWED_SOURCE_PREFIXES); empty: none.')
param sshAllowedSourcePrefixes string = ''

@description('Registries a job\'s environment.image may come from besides the workspace registry (always allowed), host or host:port, comma separated (ALLOWED_JOB_REGISTRIES). The VMs pull from these anonymously: name public registries.')
param allowedJobRegistries string = ''

@description('Workspace file share size in GiB (premium: 100 minimum).')
@minValue(100)
param shareQuotaGb int = 100

var tags = { 'azd-env-name': environmentName }
var token = toLower(uniqueString(subscription().id, environmentName, location))
var roles = loadJsonContent('roles.json')

resource rg 'Microsoft.Resources/resourceGroups@2024-03-01' = {
  name: 'rg-${environmentName}'
  location: location
  tags: tags
}

// Custom roles (infra/roles.json roleDefinitions). Role names are unique per tenant, so each
// environment gets its own, assignable only where it is used.
resource customRoles 'Microsoft.Authorization/roleDefinitions@2022-04-01' = [for key in objectKeys(roles.roleDefinitions): {
  name: guid(subscription().id, environmentName, key)
  properties: {
    roleName: '${roles.roleDefinitions[key].roleName} (${environmentName})'
    description: roles.roleDefinitions[key].description
    type: 'CustomRole'
    permissions: [
      {
        actions: roles.roleDefinitions[key].actions
        notActions: roles.roleDefinitions[key].notActions
        dataActions: roles.roleDefinitions[key].dataActions
        notDataActions: roles.roleDefinitions[key].notDataActions
      }
    ]
    assignableScopes: [key == 'capacityReader' ? subscription().id : rg.id]
  }
}]

var customRoleIds = toObject(objectKeys(roles.roleDefinitions), key => key, key => subscriptionResourceId('Microsoft.Authorization/roleDefinitions', guid(subscription().id, environmentName, key)))

module identity 'modules/identity.bicep' = {
  scope: rg
  name: 'identity'
  params: { name: 'id-${token}', location: location, tags: tags }
}

module monitoring 'modules/monitoring.bicep' = {
  scope: rg
  name: 'monitoring'
  params: { token: token, location: location, tags: tags }
}

module network 'modules/network.bicep' = {
  scope: rg
  name: 'network'
  params: { token: token, location: location, tags: tags }
}

module functionStorage 'modules/functionStorage.bicep' = {
  scope: rg
  name: 'functionStorage'
  params: { name: 'stf${token}', location: location, tags: tags }
}

module workspaceFiles 'modules/workspaceFiles.bicep' = {
  scope: rg
  name: 'workspaceFiles'
  params: {
    name: 'sws${token}'
    location: location
    tags: tags
    shareQuotaGb: shareQuotaGb
    vnetId: network.outputs.vnetId
    endpointsSubnetId: network.outputs.endpointsSubnetId
  }
}

module workspaceRegistry 'modules/workspaceRegistry.bicep' = {
  scope: rg
  name: 'workspaceRegistry'
  params: { name: 'cr${token}', location: location, tags: tags }
}

module roleAssignments 'modules/roleAssignments.bicep' = {
  scope: rg
  name: 'roleAssignments'
  params: {
    principalId: identity.outputs.principalId
    customRoleIds: customRoleIds
    vnetName: network.outputs.vnetName
    instancesSubnetName: network.outputs.instancesSubnetName
    functionStorageName: functionStorage.outputs.name
    workspaceStorageName: workspaceFiles.outputs.name
    workspaceRegistryName: workspaceRegistry.outputs.name
    appInsightsName: monitoring.outputs.appInsightsName
  }
  dependsOn: [customRoles]
}

// The app's one subscription-scope role: SKU list, vCPU usages, its operations' status.
resource subscriptionAssignments 'Microsoft.Authorization/roleAssignments@2022-04-01' = [for a in filter(roles.assignments, a => a.scope == 'subscription'): {
  name: guid(subscription().id, environmentName, a.name)
  properties: {
    principalId: identity.outputs.principalId
    principalType: 'ServicePrincipal'
    roleDefinitionId: customRoleIds[a.role]
  }
  dependsOn: [customRoles]
}]

module functionApp 'modules/functionApp.bicep' = {
  scope: rg
  name: 'functionApp'
  params: {
    token: token
    location: location
    tags: tags
    identityId: identity.outputs.id
    identityClientId: identity.outputs.clientId
    appSubnetId: network.outputs.appSubnetId
    storageName: functionStorage.outputs.name
    deploymentContainerUrl: functionStorage.outputs.deploymentContainerUrl
    appInsightsConnectionString: monitoring.outputs.appInsightsConnectionString
    authClientId: authClientId
    settings: {
      WORKSPACE_NAME: workspaceName
      AZURE_SUBSCRIPTION_ID: subscription().subscriptionId
      AZURE_RESOURCE_GROUP: rg.name
      AZURE_LOCATION: location
      ALLOWED_VM_SIZES: allowedVmSizes
      ALLOWED_SUBNET_IDS: network.outputs.instancesSubnetId
      QUOTA_VCPUS_PER_FAMILY: quotaVcpusPerFamily
      SSH_ALLOWED_SOURCE_PREFIXES: sshAllowedSourcePrefixes
      ALLOWED_JOB_REGISTRIES: empty(allowedJobRegistries) ? workspaceRegistry.outputs.loginServer : '${workspaceRegistry.outputs.loginServer},${allowedJobRegistries}'
      WORKSPACE_REGISTRY: workspaceRegistry.outputs.loginServer
      WORKSPACE_REGISTRY_ID: workspaceRegistry.outputs.id
      WORKSPACE_STORAGE_ACCOUNT: workspaceFiles.outputs.name
      WORKSPACE_SHARE_NAME: workspaceFiles.outputs.shareName
      WORKSPACE_SHARE_QUOTA_GB: string(shareQuotaGb)
    }
  }
  // The app must not start before its roles exist (its first health check would fail).
  dependsOn: [roleAssignments, subscriptionAssignments]
}

output AZURE_LOCATION string = location
output AZURE_RESOURCE_GROUP string = rg.name
output AZURE_FUNCTION_APP_NAME string = functionApp.outputs.name
output API_BASE_URL string = 'https://${functionApp.outputs.defaultHostName}/api'
// The portal, served by the same app (functions/portal.ts).
output PORTAL_URL string = 'https://${functionApp.outputs.defaultHostName}/'
