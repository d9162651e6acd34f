// The workspace's Azure Container Registry: job images (a job's environment.image) come from
// here, pulled by each instance's VM with its own managed identity, which the app grants AcrPull
// on this registry when it creates the instance (roles.json agentRegistryDelegation). No admin
// user and no anonymous pull: an Entra ID identity with a pull role is the only way in.
param name string
param location string
param tags object

resource registry 'Microsoft.ContainerRegistry/registries@2023-07-01' = {
  name: name
  location: location
  tags: tags
  // Standard; Premium would add private endpoints. Anonymous pull is off unless enabled (this API version cannot even set it).
  sku: { name: 'Standard' }
  properties: {
    adminUserEnabled: false
    publicNetworkAccess: 'Enabled'
  }
}

output name string = registry.name
output id string = registry.id
output loginServer string = registry.properties.loginServer
