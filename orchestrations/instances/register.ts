// The only file of this workflow that talks to durable-functions' registry. Activities are
// registered from their registry entries (types.ts, boundary/register.ts).
import * as df from "durable-functions";
import { root } from "../../services/root";
import { deleteInstance, provisionInstance, restartInstance, startInstance, stopInstance } from "./orchestrator";
import { registerActivities } from "../boundary/register";
import { tracedOrchestrator } from "../traced";
import { INSTANCE_ACTIVITIES, ORCHESTRATIONS } from "./types";

df.app.orchestration(ORCHESTRATIONS.provision, tracedOrchestrator(ORCHESTRATIONS.provision, provisionInstance));
df.app.orchestration(ORCHESTRATIONS.start, tracedOrchestrator(ORCHESTRATIONS.start, startInstance));
df.app.orchestration(ORCHESTRATIONS.stop, tracedOrchestrator(ORCHESTRATIONS.stop, stopInstance));
df.app.orchestration(ORCHESTRATIONS.restart, tracedOrchestrator(ORCHESTRATIONS.restart, restartInstance));
df.app.orchestration(ORCHESTRATIONS.delete, tracedOrchestrator(ORCHESTRATIONS.delete, deleteInstance));

registerActivities(INSTANCE_ACTIVITIES, () => root().instanceActivities());
