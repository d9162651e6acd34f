// Registering a workflow's activities with durable-functions from their registry entries: each
// runs traced (traced.ts), a fail-fast one answers `{ ok, value | error }`, and whatever an
// activity throws leaves as the one Failure (failure.ts), so the orchestrator can read it.
import * as df from "durable-functions";
import type { FunctionInput, InvocationContext } from "@azure/functions";
import { tracedActivity } from "../traced";
import { failureError, failureOf } from "./failure";
import type { ActivityDefs } from "./registry";

/**
 * `implementation(ctx)` gives the activity functions for one invocation (built once per process
 * by the composition root; `ctx` is there for bindings such as a DurableClient).
 */
export function registerActivities<Impl>(
  defs: ActivityDefs<Impl>,
  implementation: (ctx: InvocationContext) => Impl,
  options: { extraInputs?: FunctionInput[] } = {},
): void {
  for (const key of Object.keys(defs) as (keyof Impl & string)[]) {
    const def = defs[key];
    df.app.activity(def.name, {
      ...(options.extraInputs ? { extraInputs: options.extraInputs } : {}),
      handler: tracedActivity(def.name, async (input: unknown, ctx: InvocationContext) => {
        // The registry's types say this method takes this input (ActivityDefs is built from Impl).
        const fn = implementation(ctx)[key] as (i: unknown) => Promise<unknown>;
        return activityAnswer(def.failFast, () => fn(input));
      }),
    });
  }
}

/** What an activity hands the library: its value (in `{ ok: true, value }` when fail-fast), or its failure. */
export async function activityAnswer(failFast: boolean, run: () => Promise<unknown>): Promise<unknown> {
  try {
    const value = await run();
    return failFast ? { ok: true, value } : value;
  } catch (err) {
    const failure = failureOf(err);
    if (failFast && !failure.retryable) return { ok: false, error: failure };
    throw failureError(failure);
  }
}
