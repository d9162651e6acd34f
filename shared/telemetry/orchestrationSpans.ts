// An orchestration's span, reported once: by the episode that ends it (never on a replay), with
// the orchestration's start and end times from its history and the id its activities already
// used as their parent (traceContext.ts). An episode that runs again after a crash reports the
// same span id again, which backends keep once.
import { SpanKind, SpanStatusCode } from "@opentelemetry/api";
import { redactText } from "./redact";
import { orchestrationTracer } from "./setup";
import { orchestrationSpanId, parseTraceParent } from "./traceContext";
import { contextOf } from "./tracing";

export type OrchestrationRun = {
  name: string;
  instanceId: string;
  parent: string | undefined;
  start: Date;
  end: Date;
  error?: unknown;
};

export function reportOrchestrationSpan(run: OrchestrationRun): void {
  const t = orchestrationTracer();
  if (!t || !parseTraceParent(run.parent)) return;
  const span = t.withSpanId(orchestrationSpanId(run.instanceId, run.parent!), () =>
    t.tracer.startSpan(
      `orchestration ${run.name}`,
      { kind: SpanKind.INTERNAL, startTime: run.start, attributes: { "durabletask.type": "orchestration", "durabletask.task.name": run.name, "durabletask.task.instance_id": run.instanceId } },
      contextOf(run.parent),
    ),
  );
  if (run.error !== undefined) {
    const message = run.error instanceof Error ? run.error.message : String(run.error);
    span.setStatus({ code: SpanStatusCode.ERROR, message: redactText(message.split("\n")[0] ?? "") });
  }
  span.end(run.end);
}
