// The OrchestrationPort over durable-functions' DurableClient (used by triggers and by the
// jobs activities, which get a client binding). Maps the client's HTTP-status errors to the
// port's answers: 404 → none/ended, 409 on start → exists.
import type { DurableClient } from "durable-functions";

export type OrchestrationStatus = "none" | "active" | "ended";

/** How triggers and activities reach orchestrations without knowing durable-functions. */
export interface OrchestrationPort {
  status(instanceId: string): Promise<OrchestrationStatus>;
  /** Starts unless an active one has this id ("exists"). An ended one is started afresh. */
  start(name: string, instanceId: string, input: unknown): Promise<"started" | "exists">;
  /** Raises an event; "ended" when the orchestration is not active (the event went nowhere). */
  raise(instanceId: string, eventName: string, data: unknown): Promise<"raised" | "ended">;
}

const ACTIVE = new Set(["Pending", "Running", "ContinuedAsNew", "Suspended"]);

export function durablePort(client: DurableClient): OrchestrationPort {
  return {
    async status(id): Promise<OrchestrationStatus> {
      try {
        const s = await client.getStatus(id);
        return ACTIVE.has(String(s.runtimeStatus)) ? "active" : "ended";
      } catch (err) {
        if (/HTTP 404|No instance/i.test((err as Error).message)) return "none";
        throw err;
      }
    },
    async start(name, id, input) {
      try {
        await client.startNew(name, { instanceId: id, input });
        return "started";
      } catch (err) {
        if (/status code: 409|already/i.test((err as Error).message)) return "exists";
        throw err;
      }
    },
    async raise(id, eventName, data) {
      try {
        // The client answers a raise to a finished orchestration (410) with success.
        await client.raiseEvent(id, eventName, data);
        return "raised";
      } catch (err) {
        if (/No instance/i.test((err as Error).message)) return "ended";
        throw err;
      }
    },
  };
}
