// Trace context through activity inputs: an orchestration started with a `traceParent` in its
// input hands each activity the context of its own span, as `traceParent` on the input (the
// activity registration takes it off again, see tracedActivity). Pure and deterministic: no
// clock, no randomness; an untraced orchestration passes inputs through unchanged.
import type { OrchestrationContext } from "durable-functions";
import { orchestrationTraceParent } from "../shared/telemetry/traceContext";

export function withTrace<T>(ctx: OrchestrationContext, input: T): T {
  const parent = (ctx.df.getInput() as { traceParent?: string } | undefined)?.traceParent;
  const traceParent = orchestrationTraceParent(ctx.df.instanceId, parent);
  if (!traceParent || input === null || typeof input !== "object" || Array.isArray(input)) return input;
  return { ...input, traceParent };
}
