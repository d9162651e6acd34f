// Azure SDK calls as spans, one per HTTP request the SDK sends (each retry its own), under the
// unit of work of ours that made it. This replaces the Azure SDK's OpenTelemetry instrumenter,
// which reports every call twice (the client method, then its HTTP request under it), builds
// spans for calls outside any trace (the durable engine's own storage traffic, locally) only to
// drop them, and switches the async context around each. Measured on the job path
// (bench/README.md "Telemetry"), that was most of tracing's cost.
// - Only the core HTTP pipeline's request spans ("HTTP GET" …, with url and status) are kept; a
//   client method's span is not made, so its requests hang directly under our span.
// - Nothing is made unless the active (or given) context holds a span that records: no root spans.
// - No context switch: the pipeline passes the context explicitly and nothing under a request
//   span starts spans of its own, so the callback runs as it is.
import type { Instrumenter, InstrumenterSpanOptions, SpanStatus, TracingContext, TracingSpan } from "@azure/core-tracing";
import { context, SpanKind, SpanStatusCode, trace, type Context, type Span } from "@opentelemetry/api";
import { redactText } from "./redact";
import { contextOf, TRACER_NAME } from "./tracing";

/** The core pipeline's tracing client names itself so (its spans are "HTTP <method>"). */
const PIPELINE_PACKAGE = "@azure/core-rest-pipeline";

const NOT_RECORDING: TracingSpan = {
  setStatus: () => undefined,
  setAttribute: () => undefined,
  end: () => undefined,
  recordException: () => undefined,
  isRecording: () => false,
};

class RequestSpan implements TracingSpan {
  constructor(private readonly span: Span) {}
  setStatus(status: SpanStatus): void {
    if (status.status === "success") return;
    const e = status.error;
    const message = e === undefined ? undefined : typeof e === "string" ? e : e.message;
    this.span.setStatus({ code: SpanStatusCode.ERROR, ...(message ? { message: redactText(message.split("\n")[0] ?? "") } : {}) });
  }
  setAttribute(name: string, value: unknown): void {
    if (typeof value === "string" || typeof value === "number" || typeof value === "boolean") this.span.setAttribute(name, value);
  }
  end(): void {
    this.span.end();
  }
  recordException(exception: Error | string): void {
    const message = typeof exception === "string" ? exception : exception.message;
    this.span.recordException({ name: typeof exception === "string" ? "Error" : exception.name, message: redactText(message) });
  }
  isRecording(): boolean {
    return this.span.isRecording();
  }
}

export class RequestSpansInstrumenter implements Instrumenter {
  private readonly tracer = trace.getTracer(TRACER_NAME);

  startSpan(name: string, options: InstrumenterSpanOptions): { span: TracingSpan; tracingContext: TracingContext } {
    const ctx = (options.tracingContext as Context | undefined) ?? context.active();
    if (options.packageName !== PIPELINE_PACKAGE || !trace.getSpan(ctx)?.isRecording()) return { span: NOT_RECORDING, tracingContext: ctx };
    const a = options.spanAttributes ?? {};
    const attributes: Record<string, string> = {};
    if (typeof a["http.url"] === "string") attributes["http.url"] = a["http.url"];
    if (typeof a["http.method"] === "string") attributes["http.method"] = a["http.method"];
    // The SDK's client request id, which the service logs (x-ms-client-request-id).
    if (typeof a.requestId === "string") attributes.requestId = a.requestId;
    const span = this.tracer.startSpan(name, { kind: SpanKind.CLIENT, attributes }, ctx);
    return { span: new RequestSpan(span), tracingContext: trace.setSpan(ctx, span) };
  }

  withContext<CallbackArgs extends unknown[], Callback extends (...args: CallbackArgs) => ReturnType<Callback>>(_ctx: TracingContext, callback: Callback, ...args: CallbackArgs): ReturnType<Callback> {
    return callback(...args);
  }

  parseTraceparentHeader(traceparentHeader: string): TracingContext | undefined {
    return contextOf(traceparentHeader);
  }

  /** `traceparent` for the request, so the service's own logs can be joined to the trace. */
  createRequestHeaders(tracingContext?: TracingContext): Record<string, string> {
    const sc = trace.getSpanContext((tracingContext as Context | undefined) ?? context.active());
    if (!sc || !trace.isSpanContextValid(sc)) return {};
    return { traceparent: `00-${sc.traceId}-${sc.spanId}-${(sc.traceFlags & 0xff).toString(16).padStart(2, "0")}` };
  }
}
