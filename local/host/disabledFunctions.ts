// Functions the app settings turn off, as the Functions host reads them: `AzureWebJobs.<name>.Disabled`
// (or `AzureWebJobs_<name>_Disabled`, the form Linux app settings and environment variables take)
// set to true or 1. A disabled function is not served at all: its HTTP route answers 404, its
// trigger never fires, and a durable orchestration that calls it fails with "doesn't exist, is
// disabled, or is not an … function" (the durable extension's end-to-end DisabledOrchestrationTests).
export function disabledFunctions(names: Iterable<string>, env: Record<string, string | undefined>): string[] {
  const on = (v: string | undefined) => v !== undefined && /^(true|1)$/i.test(v.trim());
  return [...names].filter((name) => on(env[`AzureWebJobs.${name}.Disabled`]) || on(env[`AzureWebJobs_${name}_Disabled`]));
}
