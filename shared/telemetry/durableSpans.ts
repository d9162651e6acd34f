// Spans of durable work, reported after the fact with ids chosen in advance so that re-runs name
// the same span:
// - an orchestration's span, reported once: by the episode that ends it (never on a replay), with
//   the orchestration's start and end times from its history and the id its activities already
//   used as their parent (traceContext.ts). An episode that runs again after a crash reports the
//   same span id again, which backends keep once.
// - an entity operation's span, with the id its caller put on the input. The engine runs a batch
//   of operations again when its commit failed (the state, the results and the messages it sends
//   commit together, after the entity function ran): this process reports each id once. After a
//   crash between run and commit, the new process reports the same id again, as above.
import { SpanKind, SpanStatusCode, type Span } from "@opentelemetry/api";
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

function endSpan(span: Span, end: Date, error: unknown): void {
  if (error !== undefined) {
    const message = error instanceof Error ? error.message : String(error);
    span.setStatus({ code: SpanStatusCode.ERROR, message: redactText(message.split("\n")[0] ?? "") });
  }
  span.end(end);
}

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
  endSpan(span, run.end, run.error);
}

export type EntityOperationRun = {
  /** The entity's name (lower case, as the engine addresses it) and key. */
  name: string;
  key: string;
  operation: string;
  /** The caller's span (its `traceParent`) and the id this operation's span gets. */
  parent: string;
  spanId: string;
  start: Date;
  end: Date;
  error?: unknown;
};

/** Entity operation spans this process reported, oldest first (a re-run batch comes within seconds). */
const reportedOperations = new Set<string>();
const REMEMBERED_OPERATIONS = 10_000;
const SPAN_ID = /^[0-9a-f]{16}$/;

export function reportEntityOperationSpan(run: EntityOperationRun): void {
  const t = orchestrationTracer();
  if (!t || !parseTraceParent(run.parent) || !SPAN_ID.test(run.spanId) || reportedOperations.has(run.spanId)) return;
  reportedOperations.add(run.spanId);
  if (reportedOperations.size > REMEMBERED_OPERATIONS) reportedOperations.delete(reportedOperations.values().next().value!);
  const span = t.withSpanId(run.spanId, () =>
    t.tracer.startSpan(
      `entity ${run.name}.${run.operation}`,
      {
        kind: SpanKind.INTERNAL,
        startTime: run.start,
        attributes: { "durabletask.type": "entity", "durabletask.task.name": run.name, "durabletask.task.instance_id": `@${run.name}@${run.key}`, "durabletask.entity.operation": run.operation },
      },
      contextOf(run.parent),
    ),
  );
  endSpan(span, run.end, run.error);
}
