// The only file of the jobs workflow that talks to durable-functions' registration API.
import * as df from "durable-functions";
import { root } from "../../services/root";
import { latestClientPort } from "./durablePort";
import { registerActivities } from "../boundary/register";
import { jobOrchestrator } from "./jobOrchestrator";
import { queueEntity } from "./queueEntity";
import { reconfigureQueue } from "./queueDriver";
import { tracedEntity, tracedOrchestrator } from "../traced";
import { JOB_ACTIVITIES, ORCHESTRATIONS, QUEUE_ENTITY } from "./types";

df.app.entity(QUEUE_ENTITY, tracedEntity(queueEntity));
df.app.orchestration(ORCHESTRATIONS.job, tracedOrchestrator(ORCHESTRATIONS.job, jobOrchestrator));
df.app.orchestration(ORCHESTRATIONS.reconfigureQueue, tracedOrchestrator(ORCHESTRATIONS.reconfigureQueue, reconfigureQueue));

// Every invocation brings a DurableClient for the same task hub; the port uses the latest one,
// so the activities (and their table clients) are built once per process.
const clients = latestClientPort();

registerActivities(
  JOB_ACTIVITIES,
  (ctx) => {
    clients.use(df.getClient(ctx));
    return root().jobActivities(clients.port);
  },
  { extraInputs: [df.input.durableClient()] },
);
