// The only file of this workflow that talks to durable-functions' registry. Activities are
// registered from their registry entries (types.ts, boundary/register.ts).
import * as df from "durable-functions";
import { getAzureClients } from "../../shared/azure/clients";
import { instanceRecords } from "../../shared/instances/record";
import { parseSettings } from "../../shared/settings";
import { createAuditStore } from "../../shared/store/audit";
import { createOperationStore } from "../../shared/store/operations";
import { createInstanceActivities, type InstanceActivities } from "./activities";
import { deleteInstance, provisionInstance, restartInstance, startInstance, stopInstance } from "./orchestrator";
import { registerActivities } from "../boundary/register";
import { tracedOrchestrator } from "../traced";
import { agentSettingsOf } from "../../shared/jobs/agentConfig";
import { INSTANCE_ACTIVITIES, ORCHESTRATIONS, type OperationRecord } from "./types";

let activities: InstanceActivities | undefined;

function deps(): InstanceActivities {
  if (!activities) {
    const settings = parseSettings(process.env);
    const clients = getAzureClients();
    activities = createInstanceActivities({
      arm: clients.arm,
      agent: { settings: agentSettingsOf(settings, clients), queues: clients.storage.queues },
      files: clients.files,
      settings,
      instances: instanceRecords(clients.storage, settings.workspaceName),
      operations: createOperationStore<OperationRecord>(clients.storage, settings.workspaceName),
      audit: createAuditStore(clients.storage, settings.workspaceName),
    });
  }
  return activities;
}

df.app.orchestration(ORCHESTRATIONS.provision, tracedOrchestrator(ORCHESTRATIONS.provision, provisionInstance));
df.app.orchestration(ORCHESTRATIONS.start, tracedOrchestrator(ORCHESTRATIONS.start, startInstance));
df.app.orchestration(ORCHESTRATIONS.stop, tracedOrchestrator(ORCHESTRATIONS.stop, stopInstance));
df.app.orchestration(ORCHESTRATIONS.restart, tracedOrchestrator(ORCHESTRATIONS.restart, restartInstance));
df.app.orchestration(ORCHESTRATIONS.delete, tracedOrchestrator(ORCHESTRATIONS.delete, deleteInstance));

registerActivities(INSTANCE_ACTIVITIES, deps);
