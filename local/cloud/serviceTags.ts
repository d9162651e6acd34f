// Azure service tags accepted as a security rule's single address prefix. Source: "Virtual network
// service tags" (learn.microsoft.com/azure/virtual-network/service-tags-overview) and
// Get-AzNetworkServiceTag. ARM refuses an unknown word (e.g. "Intenet") with
// SecurityRuleInvalidAddressPrefix; this is the subset of the published list an NSG for a compute
// instance could plausibly name. Regional forms (Storage.WestEurope) exist only for tags Azure
// publishes per region.

/** Tags with no regional form. Matched case-insensitively, as ARM does (its errors upper-case them). */
const GLOBAL_TAGS = [
  "VirtualNetwork", "AzureLoadBalancer", "Internet",
  "AzureActiveDirectory", "AzureFrontDoor.Backend", "AzureFrontDoor.Frontend", "AzureFrontDoor.FirstParty",
  "AzurePortal", "AzureResourceManager", "AzureTrafficManager", "GuestAndHybridManagement", "MicrosoftContainerRegistry",
  "AzureUpdateDelivery", "ActionGroup", "AzureDevOps", "PowerPlatformInfra", "Dynamics365ForMarketingEmail",
];

/** Tags that also exist per region as `<Tag>.<Region>`. */
const REGIONAL_TAGS = [
  "AzureCloud", "Storage", "Sql", "SqlManagement", "AzureCosmosDB", "AzureKeyVault", "AzureMonitor", "AzureMachineLearning",
  "AzureContainerRegistry", "AzureBackup", "ApiManagement", "AppService", "AppServiceManagement", "BatchNodeManagement",
  "EventHub", "ServiceBus", "GatewayManager", "AzureConnectors", "AzureDataLake", "DataFactory", "HDInsight", "AzureBotService",
  "AzureCognitiveSearch", "CognitiveServicesManagement", "AzureDatabricks", "AzureEventGrid", "AzureSiteRecovery", "MicrosoftCloudAppSecurity",
];

/** Public regions, as the tag suffixes spell them (compared case-insensitively). */
const REGIONS = [
  "AustraliaCentral", "AustraliaCentral2", "AustraliaEast", "AustraliaSoutheast", "BrazilSouth", "BrazilSoutheast", "CanadaCentral",
  "CanadaEast", "CentralIndia", "CentralUS", "CentralUSEUAP", "EastAsia", "EastUS", "EastUS2", "EastUS2EUAP", "FranceCentral", "FranceSouth",
  "GermanyNorth", "GermanyWestCentral", "IsraelCentral", "ItalyNorth", "JapanEast", "JapanWest", "KoreaCentral", "KoreaSouth", "MexicoCentral",
  "NorthCentralUS", "NorthEurope", "NorwayEast", "NorwayWest", "PolandCentral", "QatarCentral", "SouthAfricaNorth", "SouthAfricaWest",
  "SouthCentralUS", "SouthIndia", "SoutheastAsia", "SpainCentral", "SwedenCentral", "SwitzerlandNorth", "SwitzerlandWest", "UAECentral",
  "UAENorth", "UKSouth", "UKWest", "WestCentralUS", "WestEurope", "WestIndia", "WestUS", "WestUS2", "WestUS3",
];

const global = new Set(GLOBAL_TAGS.map((t) => t.toLowerCase()));
const regional = new Set(REGIONAL_TAGS.map((t) => t.toLowerCase()));
const regions = new Set(REGIONS.map((r) => r.toLowerCase()));

/** True for a service tag Azure publishes (`*` is not a tag; callers handle it). */
export function isServiceTag(value: string): boolean {
  const v = value.toLowerCase();
  if (global.has(v) || regional.has(v)) return true;
  const dot = v.indexOf(".");
  return dot > 0 && regional.has(v.slice(0, dot)) && regions.has(v.slice(dot + 1));
}
