// The per-instance job queue as a durable entity (one per instance, key = the instance's
// lower-cased name): it holds the pure dispatcher's state (shared/jobs/dispatcher: FIFO, cap,
// running set, GPU owners, the overtaking rule, the spill range) and steps it. Entities do no I/O:
// every operation answers the commands its events produced, and the orchestration that called
// applies them (queueDriver.ts). Operations on one entity run one at a time, in arrival order,
// and none is lost, so no event needs to be carried anywhere (the eternal dispatcher
// orchestration and its continueAsNew are gone).
import type { EntityContext } from "durable-functions";
import { counts, initialState, refillRequest, step, trimRequest, type DispatcherConfig, type DispatcherEvent, type DispatcherState } from "../../shared/jobs/dispatcher";
import type { QueueAnswer } from "./types";

/** `n` numbers the step operations, so the counts each answers can be ordered by whoever writes them. */
export type QueueEntityState = { s?: DispatcherState; n?: number };

export function queueEntity(context: EntityContext<QueueEntityState>): void {
  const state = context.df.getState(() => ({})) ?? {};
  switch (context.df.operationName) {
    case "init": {
      // The first caller brings the instance's size and state (read from its record).
      const { config, running } = context.df.getInput<{ config: DispatcherConfig; running: boolean }>()!;
      state.s ??= initialState(config, running);
      context.df.setState(state);
      context.df.return(null);
      return;
    }
    case "step": {
      if (!state.s) {
        context.df.return({ uninitialized: true } satisfies QueueAnswer);
        return;
      }
      const { events } = context.df.getInput<{ events: DispatcherEvent[] }>()!;
      const s = state.s;
      const commands = events.flatMap((e) => step(s, e).commands);
      const refill = refillRequest(s);
      const trim = trimRequest(s);
      state.n = (state.n ?? 0) + 1;
      context.df.setState(state);
      context.df.return({ commands, counts: counts(s), seq: state.n, ...(refill ? { refill } : {}), ...(trim ? { trim } : {}) } satisfies QueueAnswer);
      return;
    }
    case "delete":
      // The instance was deleted (its delete orchestration signals this last).
      context.df.destructOnExit();
      return;
    default:
      throw new Error(`unknown job-queue operation '${context.df.operationName}'`);
  }
}
