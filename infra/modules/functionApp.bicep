// The Function App on Flex Consumption (Node 22), running as the user-assigned identity, with
// identity-based storage (no keys), VNet integration, Application Insights over Entra ID, and
// App Service Authentication (Entra ID) in front of the API.
param token string
param location string
param tags object
param identityId string
param identityClientId string
param appSubnetId string
param storageName string
param deploymentContainerUrl string
param appInsightsConnectionString string
param authClientId string
// Signs list continuation tokens (shared/store/continuationToken.ts); one key for every instance
// of the app, so a nextLink works on whichever instance serves it. A new key per deployment only
// invalidates the nextLinks in flight at that moment.
@secure()
param continuationTokenKey string = '${newGuid()}${newGuid()}'
@description('The app settings of the settings contract (README "Settings"); names checked against the code by test/infra.')
param settings object

resource plan 'Microsoft.Web/serverfarms@2024-04-01' = {
  name: 'plan-${token}'
  location: location
  tags: tags
  kind: 'functionapp'
  sku: { tier: 'FlexConsumption', name: 'FC1' }
  properties: { reserved: true }
}

var storageSettings = [
  // Identity-based AzureWebJobsStorage, read by the Functions host and by the app (shared/azure/storageConnection.ts).
  { name: 'AzureWebJobsStorage__blobServiceUri', value: 'https://${storageName}.blob.${environment().suffixes.storage}' }
  { name: 'AzureWebJobsStorage__queueServiceUri', value: 'https://${storageName}.queue.${environment().suffixes.storage}' }
  { name: 'AzureWebJobsStorage__tableServiceUri', value: 'https://${storageName}.table.${environment().suffixes.storage}' }
  { name: 'AzureWebJobsStorage__credential', value: 'managedidentity' }
  { name: 'AzureWebJobsStorage__clientId', value: identityClientId }
]
var platformSettings = [
  // Read by the Functions host: telemetry, sent with the identity's token (local auth is off).
  { name: 'APPLICATIONINSIGHTS_CONNECTION_STRING', value: appInsightsConnectionString }
  { name: 'APPLICATIONINSIGHTS_AUTHENTICATION_STRING', value: 'ClientId=${identityClientId};Authorization=AAD' }
  // Read by the app: its identity for ARM and Files (ManagedIdentityCredential).
  { name: 'AZURE_CLIENT_ID', value: identityClientId }
  // Read by the app: the audience the VMs' job agents ask tokens for (one App Service Authentication accepts).
  { name: 'JOBS_AGENT_APP_AUDIENCE', value: 'api://${authClientId}' }
  { name: 'CONTINUATION_TOKEN_KEY', value: continuationTokenKey }
  // Timer schedules named as %SETTING% in bindings: the Functions host resolves them itself and
  // does not load a function whose setting is missing, so they are always set here.
  { name: 'AUTOSTOP_SCHEDULE', value: '0 */1 * * * *' }
  { name: 'JOBS_RECONCILE_SCHEDULE', value: '0 */5 * * * *' }
]
var contractSettings = [for s in items(settings): { name: s.key, value: s.value }]

resource site 'Microsoft.Web/sites@2024-04-01' = {
  name: 'func-${token}'
  location: location
  tags: union(tags, { 'azd-service-name': 'api' })
  kind: 'functionapp,linux'
  identity: {
    type: 'UserAssigned'
    userAssignedIdentities: { '${identityId}': {} }
  }
  properties: {
    serverFarmId: plan.id
    httpsOnly: true
    virtualNetworkSubnetId: appSubnetId
    siteConfig: {
      minTlsVersion: '1.2'
      appSettings: concat(storageSettings, platformSettings, contractSettings)
    }
    functionAppConfig: {
      deployment: {
        storage: {
          type: 'blobContainer'
          value: deploymentContainerUrl
          authentication: { type: 'UserAssignedIdentity', userAssignedIdentityResourceId: identityId }
        }
      }
      scaleAndConcurrency: { maximumInstanceCount: 40, instanceMemoryMB: 2048 }
      // Node 22: Node 20 left support in April 2026, and @azure/identity 4.14 asks for Node >= 22.
      runtime: { name: 'node', version: '22' }
    }
  }
}

// App Service Authentication: validates Entra ID tokens for the app registration and hands
// the function x-ms-client-principal (with the app roles admin/user/reader). Anonymous
// requests pass through so /api/health and the portal page stay public; the API answers 401
// itself. The portal signs people in with /.auth/login/aad (the session cookie
// AppServiceAuthSession then stands for them, as a bearer token does) and reads /.auth/me,
// which answers from the token store.
resource auth 'Microsoft.Web/sites/config@2024-04-01' = {
  parent: site
  name: 'authsettingsV2'
  properties: {
    platform: { enabled: true }
    globalValidation: { requireAuthentication: false, unauthenticatedClientAction: 'AllowAnonymous' }
    identityProviders: {
      azureActiveDirectory: {
        enabled: true
        registration: {
          clientId: authClientId
          openIdIssuer: '${environment().authentication.loginEndpoint}${tenant().tenantId}/v2.0'
        }
        validation: { allowedAudiences: ['api://${authClientId}', authClientId] }
      }
    }
    login: { tokenStore: { enabled: true }, cookieExpiration: { convention: 'FixedTime', timeToExpiration: '08:00:00' } }
  }
}

output name string = site.name
output defaultHostName string = site.properties.defaultHostName
