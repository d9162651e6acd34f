// The only file of the jobs workflow that talks to durable-functions' registration API.
import * as df from "durable-functions";
import { getAzureClients } from "../../shared/azure/clients";
import { parseSettings } from "../../shared/settings";
import { agentSettingsOf } from "../../shared/jobs/agentConfig";
import { createJobActivities, type JobActivities } from "./activities";
import { latestClientPort } from "./durablePort";
import { registerActivities } from "../boundary/register";
import { jobOrchestrator } from "./jobOrchestrator";
import { queueEntity } from "./queueEntity";
import { reconfigureQueue } from "./queueDriver";
import { tracedOrchestrator } from "../traced";
import { JOB_ACTIVITIES, ORCHESTRATIONS, QUEUE_ENTITY } from "./types";

df.app.entity(QUEUE_ENTITY, queueEntity);
df.app.orchestration(ORCHESTRATIONS.job, tracedOrchestrator(ORCHESTRATIONS.job, jobOrchestrator));
df.app.orchestration(ORCHESTRATIONS.reconfigureQueue, tracedOrchestrator(ORCHESTRATIONS.reconfigureQueue, reconfigureQueue));

// Every invocation brings a DurableClient for the same task hub; the port uses the latest one,
// so the activities (and their table clients) are built once per process.
const clients = latestClientPort();

let activities: JobActivities | undefined;
function jobActivities(): JobActivities {
  if (!activities) {
    const settings = parseSettings(process.env);
    const azure = getAzureClients();
    activities = createJobActivities({
      clients: azure,
      workspace: settings.workspaceName,
      jobsPerCoreDefault: settings.jobsPerCoreDefault,
      orchestrations: clients.port,
      agent: agentSettingsOf(settings, azure),
    });
  }
  return activities;
}

registerActivities(
  JOB_ACTIVITIES,
  (ctx) => {
    clients.use(df.getClient(ctx));
    return jobActivities();
  },
  { extraInputs: [df.input.durableClient()] },
);
