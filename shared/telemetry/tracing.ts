// Spans for the app's own units of work (an API request, an activity, an auto-stop action),
// through the OpenTelemetry API only: without a configured SDK (./setup.ts) every call here is a
// no-op. Parents come from W3C `traceparent` strings: the invocation's trace context from the
// Functions host, or the one an orchestration handed its activity.
import { context, propagation, ROOT_CONTEXT, SpanKind, SpanStatusCode, trace, type Attributes, type Context, type Span } from "@opentelemetry/api";
import { W3CTraceContextPropagator } from "@opentelemetry/core";
import { useTraceIdSource } from "./log";
import { redactText } from "./redact";
import { parseTraceParent, type TraceParent } from "./traceContext";

export const TRACER_NAME = "compute-instances";
const w3c = new W3CTraceContextPropagator();

export function tracer() {
  return trace.getTracer(TRACER_NAME);
}

/** A context whose parent is the span named by `traceParent` (none: the root). */
export function contextOf(traceParent: TraceParent | null | undefined): Context {
  if (!parseTraceParent(traceParent)) return ROOT_CONTEXT;
  return w3c.extract(ROOT_CONTEXT, { traceparent: traceParent! }, { get: (c, k) => (c as Record<string, string>)[k], keys: (c) => Object.keys(c as object) });
}

/** The `traceparent` of the active span, to hand to whatever continues this work elsewhere. */
export function currentTraceParent(): TraceParent | undefined {
  const carrier: Record<string, string> = {};
  w3c.inject(context.active(), carrier, { set: (c, k, v) => ((c as Record<string, string>)[k] = v) });
  return parseTraceParent(carrier.traceparent) ? carrier.traceparent : undefined;
}

/** `{ traceParent }` of the active span for an orchestration input, or nothing when untraced. */
export function traceField(): { traceParent?: string } {
  const traceParent = currentTraceParent();
  return traceParent ? { traceParent } : {};
}

/** The trace id of the active span, if there is one. */
export function currentTraceId(): string | undefined {
  const sc = trace.getActiveSpan()?.spanContext();
  return sc && trace.isSpanContextValid(sc) ? sc.traceId : undefined;
}

// Log lines carry the trace id of the span they are written in.
useTraceIdSource(currentTraceId);

export type SpanOptions = { parent?: TraceParent | null | undefined; kind?: SpanKind; attributes?: Attributes };

/** Runs `fn` in a new span (a child of `parent`, else of the active span); errors mark it failed. */
export async function inSpan<T>(name: string, opts: SpanOptions, fn: (span: Span) => Promise<T>): Promise<T> {
  const parent = opts.parent !== undefined ? contextOf(opts.parent) : context.active();
  const span = tracer().startSpan(name, { kind: opts.kind ?? SpanKind.INTERNAL, ...(opts.attributes ? { attributes: opts.attributes } : {}) }, parent);
  try {
    return await context.with(trace.setSpan(parent, span), () => fn(span));
  } catch (err) {
    // Exported spans are logs too: the same redaction.
    const e = err instanceof Error ? err : new Error(String(err));
    span.recordException({ name: e.name, message: redactText(e.message), ...(e.stack ? { stack: redactText(e.stack) } : {}) });
    span.setStatus({ code: SpanStatusCode.ERROR, message: redactText(e.message.split("\n")[0] ?? "") });
    throw err;
  } finally {
    span.end();
  }
}

export { SpanKind, SpanStatusCode, propagation };
