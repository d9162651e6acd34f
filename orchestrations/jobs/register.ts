// The only file of the jobs workflow that talks to durable-functions' registration API.
import * as df from "durable-functions";
import type { InvocationContext } from "@azure/functions";
import { getAzureClients } from "../../shared/azure/clients";
import { parseSettings } from "../../shared/settings";
import { agentSettingsOf } from "../../shared/jobs/agentConfig";
import { createJobActivities, type JobActivities } from "./activities";
import { durablePort, type OrchestrationPort } from "./durablePort";
import { jobOrchestrator } from "./jobOrchestrator";
import { queueEntity } from "./queueEntity";
import { reconfigureQueue } from "./queueDriver";
import { tracedActivity, tracedEntity, tracedOrchestrator } from "../traced";
import { ACTIVITIES, ORCHESTRATIONS, QUEUE_ENTITY } from "./types";

df.app.entity(QUEUE_ENTITY, tracedEntity(queueEntity));
df.app.orchestration(ORCHESTRATIONS.job, tracedOrchestrator(ORCHESTRATIONS.job, jobOrchestrator));
df.app.orchestration(ORCHESTRATIONS.reconfigureQueue, tracedOrchestrator(ORCHESTRATIONS.reconfigureQueue, reconfigureQueue));

// Every invocation brings a DurableClient for the same task hub; the port uses the latest one,
// so the activities (and their table clients) are built once per process.
let client: df.DurableClient | undefined;
const port: OrchestrationPort = {
  status: (id) => durablePort(client!).status(id),
  start: (name, id, input) => durablePort(client!).start(name, id, input),
  raise: (id, name, data) => durablePort(client!).raise(id, name, data),
};

let activities: JobActivities | undefined;
function jobActivities(): JobActivities {
  if (!activities) {
    const settings = parseSettings(process.env);
    const clients = getAzureClients();
    activities = createJobActivities({
      clients,
      workspace: settings.workspaceName,
      jobsPerCoreDefault: settings.jobsPerCoreDefault,
      orchestrations: port,
      agent: agentSettingsOf(settings, clients),
    });
  }
  return activities;
}

function register<K extends keyof JobActivities>(name: string, key: K): void {
  df.app.activity(name, {
    extraInputs: [df.input.durableClient()],
    handler: tracedActivity(name, (input: Parameters<JobActivities[K]>[0], ctx: InvocationContext) => {
      client = df.getClient(ctx);
      const fn = jobActivities()[key] as (i: Parameters<JobActivities[K]>[0]) => Promise<unknown>;
      return fn(input);
    }),
  });
}

register(ACTIVITIES.notifyDispatcher, "notifyDispatcher");
register(ACTIVITIES.queueConfig, "queueConfig");
register(ACTIVITIES.apply, "apply");
register(ACTIVITIES.startJob, "startJob");
register(ACTIVITIES.cancelOnAgent, "cancelOnAgent");
register(ACTIVITIES.checkAgent, "checkAgent");
register(ACTIVITIES.finish, "finish");

