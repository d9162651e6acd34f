// Entity operation spans, through the library's own entity handler (the one the host calls with a
// batch): each traced operation is one span, under its caller's span, with the id its caller
// chose; the entity sees its input without the trace fields; and when the engine runs the same
// batch again (its commit failed), no operation is reported a second time.
import * as df from "durable-functions";
import { afterAll, beforeAll, expect, it } from "vitest";
import { QUEUE_ENTITY, type QueueAnswer } from "../../orchestrations/jobs/types";
import { queueEntity } from "../../orchestrations/jobs/queueEntity";
import { tracedEntity } from "../../orchestrations/traced";
import { setupTelemetry, shutdownTelemetry } from "../../shared/telemetry/setup";
import { startOtlpReceiver, type OtlpReceiver } from "../support/otlp";

// The library's entity entry point ships without type declarations: typed here, narrowly.
type Batch = { self: { name: string; key: string }; exists: boolean; state: string | null; batch: { name: string; input: string | null; isSignal: boolean }[] };
type Result = { entityExists: boolean; entityState?: string; results: { isError: boolean; result?: string }[] };
// eslint-disable-next-line @typescript-eslint/no-require-imports
const { Entity } = require("durable-functions/lib/src/entities/Entity") as { Entity: new (fn: unknown) => { handle(trigger: Batch, ctx: unknown): Promise<Result> } };

const TRACE = "6bf92f3577b34da6a3ce929d0e0e4738";
const CALLER = `00-${TRACE}-20f067aa0ba902b7-01`;

let otlp: OtlpReceiver;
beforeAll(async () => {
  otlp = await startOtlpReceiver();
  // The OTLP exporter reads its endpoint from the environment.
  process.env.OTEL_EXPORTER_OTLP_ENDPOINT = otlp.url;
  expect(setupTelemetry(process.env)).toBe("otlp");
});
afterAll(async () => {
  await otlp?.stop();
});

const entity = new Entity(tracedEntity(queueEntity));
const run = (batch: Batch["batch"], state: string | null = null) =>
  entity.handle({ self: { name: QUEUE_ENTITY.toLowerCase(), key: "tr-9" }, exists: state !== null, state, batch }, new df.DummyEntityContext(QUEUE_ENTITY));

it("one span per operation, under the caller, once however often its batch runs", async () => {
  const config = { vCpus: 2, jobsPerCore: 1, gpus: 0 };
  const batch = [
    { name: "init", input: JSON.stringify({ config, running: true, traceParent: CALLER, traceSpanId: "1111111111111111" }), isSignal: false },
    { name: "step", input: JSON.stringify({ events: [{ type: "JobSubmitted", jobId: "j1", gpus: 0 }], traceParent: CALLER, traceSpanId: "2222222222222222" }), isSignal: false },
    // An untraced caller: the operation runs, no span.
    { name: "step", input: JSON.stringify({ events: [{ type: "JobSubmitted", jobId: "j2", gpus: 0 }] }), isSignal: false },
  ];
  const first = await run(batch);
  // The engine could not commit that batch and runs it again, from the same state.
  const again = await run(batch);
  const outcome = (r: Result) => [r.entityState, r.results.map((o) => [o.isError, o.result])];
  expect(outcome(again)).toEqual(outcome(first));
  // The entity read its inputs without the trace fields: both jobs were admitted and told to start.
  expect(first.results.map((r) => r.isError)).toEqual([false, false, false]);
  const answers = first.results.slice(1).map((r) => JSON.parse(r.result!) as QueueAnswer);
  expect(answers.map((a) => a.commands?.flatMap((c) => (c.type === "StartJob" ? [c.jobId] : [])))).toEqual([["j1"], ["j2"]]);
  // A signal that carried only the trace fields runs with no input.
  const deleted = await run([{ name: "delete", input: JSON.stringify({ traceParent: CALLER, traceSpanId: "3333333333333333" }), isSignal: true }], first.entityState!);
  expect(deleted.entityExists).toBe(false);

  await shutdownTelemetry(); // flushes the batch processor
  const spans = otlp.spans.filter((s) => s.traceId === TRACE);
  expect(spans.map((s) => [s.name, s.spanId, s.parentSpanId])).toEqual([
    ["entity jobqueue.init", "1111111111111111", "20f067aa0ba902b7"],
    ["entity jobqueue.step", "2222222222222222", "20f067aa0ba902b7"],
    ["entity jobqueue.delete", "3333333333333333", "20f067aa0ba902b7"],
  ]);
  expect(spans[1]!.attributes).toMatchObject({ "durabletask.type": "entity", "durabletask.task.instance_id": "@jobqueue@tr-9", "durabletask.entity.operation": "step" });
  expect(otlp.spans).toHaveLength(3);
});
