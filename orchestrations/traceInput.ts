// Trace context through activity and entity-operation inputs: an orchestration started with a
// `traceParent` in its input hands each activity and entity operation the context of its own span,
// as `traceParent` on the input (the registrations take it off again, see traced.ts). Pure and
// deterministic: no clock, no randomness; an untraced orchestration passes inputs through unchanged.
import type { OrchestrationContext } from "durable-functions";
import { entityOperationSpanId, orchestrationTraceParent } from "../shared/telemetry/traceContext";

export function withTrace<T>(ctx: OrchestrationContext, input: T): T {
  const parent = (ctx.df.getInput() as { traceParent?: string } | undefined)?.traceParent;
  const traceParent = orchestrationTraceParent(ctx.df.instanceId, parent);
  if (!traceParent || input === null || typeof input !== "object" || Array.isArray(input)) return input;
  return { ...input, traceParent };
}

/**
 * An entity operation's input (call or signal) with the trace context: `traceParent` as for
 * activities, and `traceSpanId`, the id the operation's span will have. The id comes from the
 * orchestration's replay-safe GUIDs, so it names this one operation: the same on every replay, and
 * the same when the engine runs the operation's batch again (tracedEntity reports it once).
 */
export function withEntityTrace(ctx: OrchestrationContext, input?: unknown): unknown {
  const parent = (ctx.df.getInput() as { traceParent?: string } | undefined)?.traceParent;
  const traceParent = orchestrationTraceParent(ctx.df.instanceId, parent);
  if (!traceParent || (input !== undefined && (input === null || typeof input !== "object" || Array.isArray(input)))) return input;
  return { ...(input as object | undefined), traceParent, traceSpanId: entityOperationSpanId(ctx.df.newGuid(ctx.df.instanceId)) };
}
