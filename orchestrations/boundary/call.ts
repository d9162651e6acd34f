// Calling an activity from an orchestrator through its registry entry: the input is checked
// against the entry's type, the result comes back typed, and any failure, as data or as a failed
// task, is thrown as the one WorkflowError (failure.ts). Deterministic: yields library tasks only.
import * as df from "durable-functions";
import type { OrchestrationContext, Task } from "durable-functions";
import { withTrace } from "../traceInput";
import { asFailure, decodeFailure, WorkflowError } from "./failure";
import type { ActivityDef, RetryPolicy } from "./registry";

export type Gen<T> = Generator<Task, T, unknown>;

/** A scheduled activity whose result is read (and checked) once the task completes: for all(). */
export type Pending<O> = { readonly task: Task; readonly read: (raw: unknown) => O };

function retryOptions(p: RetryPolicy): df.RetryOptions {
  const r = new df.RetryOptions(p.firstMs, p.attempts);
  r.backoffCoefficient = p.backoff;
  r.maxRetryIntervalInMilliseconds = p.maxMs;
  return r;
}

/** A fail-fast activity answers `{ ok, value | error }`; others answer their value. */
function reader<O>(def: ActivityDef<unknown, O> | ActivityDef<never, O>): (raw: unknown) => O {
  if (!def.failFast) return (raw) => raw as O;
  return (raw) => {
    const r = raw as { ok?: boolean; value?: unknown; error?: unknown } | null;
    if (r?.ok === true) return r.value as O;
    const f = asFailure(r?.error);
    throw f ? new WorkflowError(f.code, f.message, f.retryable) : new WorkflowError("InternalError", `activity ${def.name} answered no outcome`);
  };
}

/** Schedules the activity (with its retry policy, or `retry`) without waiting: for all(). */
export function task<I, O>(ctx: OrchestrationContext, def: ActivityDef<I, O>, input: I, retry: RetryPolicy = def.retry): Pending<O> {
  return { task: ctx.df.callActivityWithRetry(def.name, retryOptions(retry), withTrace(ctx, input)), read: reader(def) };
}

/** Runs the activity and answers its result; a failure throws a WorkflowError. */
export function* call<I, O>(ctx: OrchestrationContext, def: ActivityDef<I, O>, input: I, retry: RetryPolicy = def.retry): Gen<O> {
  const p = task(ctx, def, input, retry);
  let raw: unknown;
  try {
    raw = yield p.task;
  } catch (err) {
    throw decodeFailure(err);
  }
  return p.read(raw);
}

type Results<T extends readonly Pending<unknown>[]> = { -readonly [K in keyof T]: T[K] extends Pending<infer O> ? O : never };

/** Runs scheduled activities together (Task.all) and answers their results in order; the first failure throws. */
export function* all<T extends readonly Pending<unknown>[]>(ctx: OrchestrationContext, pending: [...T]): Gen<Results<T>> {
  let raws: unknown[];
  try {
    raws = (yield ctx.df.Task.all(pending.map((p) => p.task))) as unknown[];
  } catch (err) {
    throw decodeFailure(err);
  }
  return pending.map((p, i) => p.read(raws[i])) as Results<T>;
}
