// Which messages one episode sees, as the Azure Storage provider batches them.
//
// On Azure an episode does not start the moment its first message is sent: the provider reads
// the control queue in batches (ControlQueue.GetMessagesAsync, up to controlQueueBatchSize = 32
// messages) and groups them per instance into a pending batch, then loads the instance's history
// from Table storage before the batch runs (OrchestrationSessionManager.AddMessageToPendingOrchestration
// and ScheduleOrchestrationStatePrefetch, DurableTask.AzureStorage). Messages for the same instance
// that arrive until the batch is taken join it. So replies to a fan-out that come back within a
// few tens of milliseconds of each other (a queue read plus a history query) are usually one
// episode, and all of them are in the history even when the first one already decides the
// outcome (a failed Task.all). Code that relies on those replies being recorded - a rewind of a
// failed fan-out, for one - works on Azure, so it must work here too.
//
// This host keeps the history in memory and could run an episode the moment a reply lands, which
// would drop the later replies of a fan-out that failed fast (they reach a finished instance; the
// provider discards those too, IsExecutableInstanceAsync). So while replies are still expected
// (open activities, sub-orchestrations, entity calls), an episode waits for them as long as they
// keep coming: it starts when all are in, or when none has come for QUIET_MS, and never later than
// MAX_GATHER_MS after it was ready. The quiet period is longer than Azure's own window because an
// entity's reply costs this host three Table writes in a row (40-150 ms on Azurite), where
// the provider's entity round trip is about as long as its batching window. A reply that comes
// later is a later episode, as on Azure. A sequential orchestration (one thing in flight) never waits.
import { EventType, type InstanceMessage, type InstanceState } from "../types";
import type { Live } from "./live";

/** How long an episode waits after the last reply that came while others are still expected. */
export const QUIET_MS = 150;
/** An episode never waits longer than this for its batch, however steadily replies trickle in. */
export const MAX_GATHER_MS = 1000;

/**
 * The replies the current execution still waits for from work it started: "#<event id>" for an
 * activity or sub-orchestration, the request id for an entity call (its reply is an event named so).
 */
export function repliesAwaited(state: InstanceState): Set<string> {
  const open = new Set<string>();
  let calls: string[] | undefined;
  for (const leaf of state.leaves) {
    if (!leaf) continue;
    if (leaf.st === "task" && leaf.id !== undefined) open.add(`#${leaf.id}`);
    else if (leaf.st === "none" && leaf.req) (calls ??= []).push(leaf.req);
  }
  if (calls) {
    const answered = new Set(state.history.filter((e) => e.EventType === EventType.EventRaised).map((e) => String(e.Name)));
    for (const req of calls) if (!answered.has(req)) open.add(req);
  }
  return open;
}

/** Which awaited reply a message is, if any (a copy of one already counted counts once). */
function replyKey(m: InstanceMessage, exec: string): string | undefined {
  switch (m.kind) {
    case "taskCompleted":
    case "taskFailed":
    case "subCompleted":
    case "subFailed":
      return m.exec === exec ? `#${m.id}` : undefined;
    case "event":
      return m.name;
    default:
      return undefined;
  }
}

/**
 * Resolves when the instance's next episode may take its inbox: at once when at most one reply
 * was awaited, else when all awaited replies are in, none came for `quietMs`, or `maxMs` passed.
 * (While it gathers, the inbox only grows: messages are appended and nothing takes them.)
 */
export function gatherReplies(l: Live, quietMs = QUIET_MS, maxMs = MAX_GATHER_MS): Promise<void> {
  const awaited = repliesAwaited(l.state);
  if (awaited.size <= 1) return Promise.resolve();
  let read = 0;
  const missing = () => {
    for (; read < l.inbox.length; read++) {
      const k = replyKey(l.inbox[read]!, l.state.exec);
      if (k) awaited.delete(k);
    }
    return awaited.size;
  };
  if (missing() === 0) return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(quiet);
      clearTimeout(cap);
      l.arrived = undefined;
      resolve();
    };
    let quiet = setTimeout(done, quietMs);
    const cap = setTimeout(done, maxMs);
    l.arrived = () => {
      if (missing() === 0) return done();
      clearTimeout(quiet);
      quiet = setTimeout(done, quietMs);
    };
  });
}
