// The OrchestrationPort over durable-functions' DurableClient (used by triggers and by the
// jobs activities, which get a client binding). Maps the client's HTTP-status errors to the
// port's answers: 404 → none/ended, 409 on start → exists. The client says which only in its
// error's message (DurableClient 3.x: "…replied with HTTP 404 response…", "No instance with ID
// '…' found.", "…unexpected status code: 409…"; the local host's own words for an existing
// instance contain "already"), so that reading is here, in `clientSays`, and nowhere else.
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

const messageOf = (err: unknown): string => (err instanceof Error ? err.message : String(err));
/** What a DurableClient error means; the library gives nothing but the message. */
const clientSays = {
  /** getStatus of an id it never had. */
  notFound: (err: unknown) => /HTTP 404|No instance/i.test(messageOf(err)),
  /** startNew of an id that is active. */
  exists: (err: unknown) => /status code: 409|already/i.test(messageOf(err)),
  /** raiseEvent to an id that is not active. */
  noInstance: (err: unknown) => /No instance/i.test(messageOf(err)),
};

export function durablePort(client: DurableClient): OrchestrationPort {
  return {
    async status(id): Promise<OrchestrationStatus> {
      try {
        const s = await client.getStatus(id);
        return ACTIVE.has(String(s.runtimeStatus)) ? "active" : "ended";
      } catch (err) {
        if (clientSays.notFound(err)) return "none";
        throw err;
      }
    },
    async start(name, id, input) {
      try {
        await client.startNew(name, { instanceId: id, input });
        return "started";
      } catch (err) {
        if (clientSays.exists(err)) return "exists";
        throw err;
      }
    },
    async raise(id, eventName, data) {
      try {
        // The client answers a raise to a finished orchestration (410) with success.
        await client.raiseEvent(id, eventName, data);
        return "raised";
      } catch (err) {
        if (clientSays.noInstance(err)) return "ended";
        throw err;
      }
    },
  };
}

/**
 * A port for code built once per process (the jobs activities) over the DurableClient of the
 * invocation at hand: every invocation brings one for the same task hub, and `use` keeps the latest.
 */
export function latestClientPort(): { port: OrchestrationPort; use(client: DurableClient): void } {
  let latest: OrchestrationPort | undefined;
  const current = (): OrchestrationPort => {
    if (!latest) throw new Error("no DurableClient yet: the port is used outside an invocation with a durableClient binding");
    return latest;
  };
  return {
    port: {
      status: (id) => current().status(id),
      start: (name, id, input) => current().start(name, id, input),
      raise: (id, name, data) => current().raise(id, name, data),
    },
    use(client) {
      latest = durablePort(client);
    },
  };
}
