// How triggers and activities reach orchestrations without knowing durable-functions: a small
// port (implemented over the DurableClient in register.ts / functions) and the one helper that
// delivers an event to an instance's dispatcher, starting the dispatcher first if needed.
import { orchestrationIds } from "../../shared/ids";
import { CloudError } from "../../shared/errors";
import { DISPATCHER_EVENT, ORCHESTRATIONS, type DispatcherEventPayload, type DispatcherInput } from "./types";

export type OrchestrationStatus = "none" | "active" | "ended";

export interface OrchestrationPort {
  status(instanceId: string): Promise<OrchestrationStatus>;
  /** Starts unless an active one has this id ("exists"). An ended one is started afresh. */
  start(name: string, instanceId: string, input: unknown): Promise<"started" | "exists">;
  /** Raises an event; "ended" when the orchestration is not active (the event went nowhere). */
  raise(instanceId: string, eventName: string, data: unknown): Promise<"raised" | "ended">;
}

export async function raiseToDispatcher(
  port: OrchestrationPort,
  workspace: string,
  instance: string,
  event: DispatcherEventPayload,
): Promise<void> {
  const id = orchestrationIds.dispatcher(workspace, instance);
  for (let attempt = 0; attempt < 3; attempt++) {
    if ((await port.status(id)) !== "active") {
      await port.start(ORCHESTRATIONS.dispatcher, id, { instance } satisfies DispatcherInput);
    }
    if ((await port.raise(id, DISPATCHER_EVENT, event)) === "raised") return;
  }
  throw new CloudError("DispatcherUnavailable", `the job dispatcher of instance '${instance}' could not be reached`, { retryable: true });
}
