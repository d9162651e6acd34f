// Tracing at the registration boundary, so orchestrators and activities stay free of it:
// - an orchestrator reports its span once, from the episode that ends it (not on replays);
// - an activity runs in a span whose parent is its orchestration's span (the `traceParent` that
//   withTrace put on its input, taken off here before the activity sees its input). Azure SDK
//   calls the activity makes become children of that span.
// - an entity operation reports its span, under its caller's span and with the id the caller
//   chose (withEntityTrace), once per process however often the engine runs its batch.
import type { InvocationContext } from "@azure/functions";
import type { EntityContext, EntityHandler, OrchestrationContext, OrchestrationHandler } from "durable-functions";
import { reportEntityOperationSpan, reportOrchestrationSpan } from "../shared/telemetry/durableSpans";
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

/** Splits our trace fields off an entity operation's input. */
export function takeEntityTrace(input: unknown): { input: unknown; traceParent?: string; traceSpanId?: string } {
  if (input === null || typeof input !== "object" || Array.isArray(input) || !("traceParent" in input)) return { input };
  const { traceParent, traceSpanId, ...rest } = input as Record<string, unknown>;
  // A signal without input of its own carried only the trace fields.
  const stripped = Object.keys(rest).length === 0 ? undefined : rest;
  return { input: stripped, ...(typeof traceParent === "string" ? { traceParent } : {}), ...(typeof traceSpanId === "string" ? { traceSpanId } : {}) };
}

export function tracedEntity<S>(entity: (ctx: EntityContext<S>) => void | Promise<void>): EntityHandler<S> {
  return (ctx: EntityContext<S>) => {
    const { input, traceParent, traceSpanId } = takeEntityTrace(ctx.df.getInput());
    if (traceParent === undefined) return entity(ctx);
    // The library builds a fresh `df` (of bound functions) per operation: ours answers the input without the trace fields.
    ctx.df = { ...ctx.df, getInput: <T>() => input as T };
    const run = { name: ctx.df.entityName, key: ctx.df.entityKey, operation: ctx.df.operationName ?? "", parent: traceParent, spanId: traceSpanId ?? "", start: new Date() };
    const report = (error?: unknown) => reportEntityOperationSpan({ ...run, end: new Date(), ...(error !== undefined ? { error } : {}) });
    let result: void | Promise<void>;
    try {
      result = entity(ctx);
    } catch (err) {
      report(err);
      throw err;
    }
    if (!(result instanceof Promise)) return report();
    return result.then(
      () => report(),
      (err: unknown) => {
        report(err);
        throw err;
      },
    );
  };
}
