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

/**
 * Dispatchers this process saw active moments ago: job events skip the status check for a short
 * while (two calls fewer per job on the hot path). That is safe because a dispatcher ends only
 * once its instance is deleted, when job events have nowhere to go anyway; instance state changes
 * always check, so after a delete and re-create the next one starts the new dispatcher, whose
 * first reconcile picks up every job an event went astray for.
 */
const seenActive = new Map<string, number>();
const SEEN_ACTIVE_MS = 2_000;

export async function raiseToDispatcher(
  port: OrchestrationPort,
  workspace: string,
  instance: string,
  event: DispatcherEventPayload,
): Promise<void> {
  const id = orchestrationIds.dispatcher(workspace, instance);
  for (let attempt = 0; attempt < 3; attempt++) {
    const fresh = event.type !== "InstanceStateChanged" && attempt === 0 && (seenActive.get(id) ?? 0) > Date.now();
    if (!fresh && (await port.status(id)) !== "active") {
      await port.start(ORCHESTRATIONS.dispatcher, id, { instance } satisfies DispatcherInput);
    }
    if ((await port.raise(id, DISPATCHER_EVENT, event)) === "raised") {
      if (!fresh) seenActive.set(id, Date.now() + SEEN_ACTIVE_MS);
      return;
    }
    seenActive.delete(id);
  }
  throw new CloudError("DispatcherUnavailable", `the job dispatcher of instance '${instance}' could not be reached`, { retryable: true });
}
