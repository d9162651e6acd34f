// The composition root: app settings parsed once, Azure clients and record stores built once
// from them, and the services and activities wired from those. Every trigger, service and
// workflow registration gets its dependencies here, so they all see the same configuration.
// Built on first use (the Functions host sets the environment before any invocation).
import { azureConfigFromSettings, azureTuningFromEnv } from "../shared/azure/config";
import { getAzureClients, type AzureClients } from "../shared/azure/clients";
import { instanceRecords, type InstanceRecord } from "../shared/instances/record";
import { agentSettingsOf } from "../shared/jobs/agentConfig";
import { jobRecords } from "../shared/jobs/record";
import { parseSettings, type Settings } from "../shared/settings";
import { createAuditStore, type AuditStore } from "../shared/store/audit";
import { useContinuationTokenKey } from "../shared/store/continuationToken";
import { createIdempotencyStore, type IdempotencyStore } from "../shared/store/idempotency";
import type { InstanceStore } from "../shared/store/instances";
import { createOperationStore, type OperationStore } from "../shared/store/operations";
import { createInstanceActivities, type InstanceActivities } from "../orchestrations/instances/activities";
import type { OperationRecord } from "../orchestrations/instances/types";
import { createJobActivities, type JobActivities } from "../orchestrations/jobs/activities";
import type { OrchestrationPort } from "../orchestrations/jobs/durablePort";
import { createActivityService, type ActivityService } from "./activity";
import { createInstanceService, type InstanceService } from "./instances";
import { createOperationService, type OperationService } from "./instanceOperations";
import { createJobService, type JobService } from "./jobs";
import { createSizeService, type SizeService } from "./sizes";

/** What an Idempotency-Key of the instance API remembers: the response the first request got. */
export type RememberedResponse = { status: number; body: unknown; headers: Record<string, string> };
/** What a job Idempotency-Key remembers; `instanceId` is absent on keys from before incarnation ids. */
export type IdempotentJob = { jobId: string; instance: string; instanceId?: string };

export type Stores = {
  instances: InstanceStore<InstanceRecord>;
  operations: OperationStore<OperationRecord>;
  idempotency: IdempotencyStore<RememberedResponse>;
  audit: AuditStore;
  jobs: ReturnType<typeof jobRecords>;
  jobKeys: IdempotencyStore<IdempotentJob>;
};

/** The application layer: what triggers call (each a factory in services/, wired here). */
export type Services = {
  sizes: SizeService;
  activity: ActivityService;
  operations: OperationService;
  instances: InstanceService;
  jobs: JobService;
};

export type Root = {
  settings: Settings;
  clients: AzureClients;
  stores: Stores;
  services: Services;
  /** The instance workflow's activities (orchestrations/instances/register.ts). */
  instanceActivities(): InstanceActivities;
  /** The jobs workflow's activities, over a port to its orchestrations (orchestrations/jobs/register.ts; the first port given is kept). */
  jobActivities(orchestrations: OrchestrationPort): JobActivities;
};

function compose(env: NodeJS.ProcessEnv): Root {
  const settings = parseSettings(env);
  if (settings.continuationTokenKey) useContinuationTokenKey(settings.continuationTokenKey);
  const clients = getAzureClients(azureConfigFromSettings(settings, azureTuningFromEnv(env)));
  const { storage } = clients;
  const ws = settings.workspaceName;
  const stores: Stores = {
    instances: instanceRecords(storage, ws),
    operations: createOperationStore<OperationRecord>(storage, ws),
    idempotency: createIdempotencyStore<RememberedResponse>(storage),
    audit: createAuditStore(storage, ws),
    jobs: jobRecords(storage),
    jobKeys: createIdempotencyStore<IdempotentJob>(storage),
  };
  const sizes = createSizeService({ settings, arm: clients.arm, instances: stores.instances });
  const activity = createActivityService({ instances: stores.instances });
  const operations = createOperationService({ stores, sizes, activity });
  const services: Services = {
    sizes,
    activity,
    operations,
    instances: createInstanceService({ settings, stores, sizes }),
    jobs: createJobService({ settings, stores, activity }),
  };
  let instanceActivities: InstanceActivities | undefined;
  let jobActivities: JobActivities | undefined;
  return {
    settings,
    clients,
    stores,
    services,
    instanceActivities: () =>
      (instanceActivities ??= createInstanceActivities({
        arm: clients.arm,
        agent: { settings: agentSettingsOf(settings, clients), queues: storage.queues },
        files: clients.files,
        settings,
        instances: stores.instances,
        operations: stores.operations,
        audit: stores.audit,
      })),
    jobActivities: (orchestrations) =>
      (jobActivities ??= createJobActivities({
        clients,
        workspace: ws,
        jobsPerCoreDefault: settings.jobsPerCoreDefault,
        orchestrations,
        agent: agentSettingsOf(settings, clients),
      })),
  };
}

let built: Root | undefined;

/** The process's root, composed on first use from the app settings (environment). */
export function root(): Root {
  return (built ??= compose(process.env));
}

// The accessors triggers use.
export const getSettings = (): Settings => root().settings;
/**
 * The clients for the environment as it is now: the same objects as the root's while the
 * Azure settings stay as they were (getAzureClients keeps them per configuration), new ones
 * if they changed (the health checks are run against a changed environment in tests).
 */
export const getClients = (): AzureClients => getAzureClients();
export const stores = (): Stores => root().stores;
export const services = (): Services => root().services;
