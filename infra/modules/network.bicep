// The VNet: the Function App's integration subnet (delegated to Microsoft.App/environments, as
// Flex Consumption requires), the instances' subnet with its NSG, and a subnet for private
// endpoints (the workspace file share).
param token string
param location string
param tags object

resource instancesNsg 'Microsoft.Network/networkSecurityGroups@2024-05-01' = {
  name: 'nsg-instances-${token}'
  location: location
  tags: tags
  properties: {
    // Only Azure's defaults: VNet-internal traffic in, nothing from the Internet. Per-instance
    // NSGs (created by the app on each NIC) open SSH to the allowed prefixes.
    securityRules: []
  }
}

resource vnet 'Microsoft.Network/virtualNetworks@2024-05-01' = {
  name: 'vnet-${token}'
  location: location
  tags: tags
  properties: {
    addressSpace: { addressPrefixes: ['10.40.0.0/16'] }
    subnets: [
      {
        name: 'app'
        properties: {
          addressPrefix: '10.40.0.0/24'
          delegations: [{ name: 'flex', properties: { serviceName: 'Microsoft.App/environments' } }]
        }
      }
      {
        name: 'instances'
        properties: {
          addressPrefix: '10.40.8.0/21'
          networkSecurityGroup: { id: instancesNsg.id }
        }
      }
      {
        name: 'endpoints'
        properties: {
          addressPrefix: '10.40.1.0/24'
          privateEndpointNetworkPolicies: 'Enabled'
        }
      }
    ]
  }
}

output vnetId string = vnet.id
output vnetName string = vnet.name
output appSubnetId string = vnet.properties.subnets[0].id
output instancesSubnetId string = vnet.properties.subnets[1].id
output instancesSubnetName string = vnet.properties.subnets[1].name
output endpointsSubnetId string = vnet.properties.subnets[2].id
