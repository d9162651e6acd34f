// Tracing at the registration boundary, so orchestrators and activities stay free of it:
// - an orchestrator reports its span once, from the episode that ends it (not on replays);
// - an activity runs in a span whose parent is its orchestration's span (the `traceParent` that
//   withTrace put on its input, taken off here before the activity sees its input). Azure SDK
//   calls the activity makes become children of that span.
import type { InvocationContext } from "@azure/functions";
import type { OrchestrationContext, OrchestrationHandler } from "durable-functions";
import { reportOrchestrationSpan } from "../shared/telemetry/orchestrationSpans";
import { inSpan, SpanKind } from "../shared/telemetry/tracing";

type Orchestrator = (ctx: OrchestrationContext) => Generator<unknown, unknown, unknown>;

export function tracedOrchestrator(name: string, orchestrator: Orchestrator): OrchestrationHandler {
  return function* (ctx: OrchestrationContext) {
    const parent = (ctx.df.getInput() as { traceParent?: string } | undefined)?.traceParent;
    const start = ctx.df.currentUtcDateTime;
    const report = (error?: unknown) => {
      if (ctx.df.isReplaying) return;
      reportOrchestrationSpan({ name, instanceId: ctx.df.instanceId, parent, start, end: ctx.df.currentUtcDateTime, ...(error !== undefined ? { error } : {}) });
    };
    let result: unknown;
    try {
      result = yield* orchestrator(ctx);
    } catch (err) {
      report(err);
      throw err;
    }
    report();
    return result;
  } as OrchestrationHandler;
}

/** Splits our trace field off an activity input. */
export function takeTraceParent<T>(input: T): { input: T; traceParent?: string } {
  if (input === null || typeof input !== "object" || Array.isArray(input) || !("traceParent" in input)) return { input };
  const { traceParent, ...rest } = input as Record<string, unknown>;
  return { input: rest as T, ...(typeof traceParent === "string" ? { traceParent } : {}) };
}

export function tracedActivity<I, O>(name: string, handler: (input: I, ctx: InvocationContext) => Promise<O>): (input: I, ctx: InvocationContext) => Promise<O> {
  return (raw, ctx) => {
    const { input, traceParent } = takeTraceParent(raw);
    return inSpan(`activity ${name}`, { parent: traceParent ?? ctx.traceContext?.traceParent, kind: SpanKind.INTERNAL, attributes: { "durabletask.type": "activity", "durabletask.task.name": name } }, () =>
      handler(input, ctx),
    );
  };
}
