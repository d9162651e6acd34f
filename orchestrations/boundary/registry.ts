// The typed registry of a workflow's activities: for each one its name, its input and output
// types (taken from the implementation's signature) and its retry policy. The same entry is used
// to register the activity (register.ts) and to call it from an orchestrator (call.ts), so a
// renamed activity, a wrong input or a misread result breaks the build, not production; in the
// spirit of Temporal's proxyActivities. Pure data: orchestrators import it.

/** callActivityWithRetry's policy as plain data (call.ts turns it into the library's RetryOptions). */
export type RetryPolicy = { firstMs: number; attempts: number; backoff: number; maxMs: number };

export type ActivityDef<I, O> = {
  readonly name: string;
  readonly retry: RetryPolicy;
  /**
   * A non-retryable failure comes back at once, as data, instead of through the library's
   * retries (which retry whatever fails). The instance workflow's ARM steps want that; the jobs
   * workflow's activities have always been retried on any failure.
   */
  readonly failFast: boolean;
  /** Never set: carries the input and output types. */
  readonly types?: (input: I) => O;
};

export type InputOf<D> = D extends ActivityDef<infer I, infer _O> ? I : never;
export type OutputOf<D> = D extends ActivityDef<infer _I, infer O> ? O : never;

/** The entries of an implementation object (`createXActivities(deps)`'s type): one per method. */
export type ActivityDefs<Impl> = {
  readonly [K in keyof Impl]: Impl[K] extends (input: infer I) => Promise<infer O> ? ActivityDef<I, O> : never;
};

export function retryPolicy(firstMs: number, attempts: number): RetryPolicy {
  return { firstMs, attempts, backoff: 2, maxMs: 30_000 };
}

/** One workflow's registry: every method of `Impl` gets a name; all share a retry policy and failure mode. */
export function defineActivities<Impl>(spec: { names: { readonly [K in keyof Impl]-?: string }; retry: RetryPolicy; failFast: boolean }): ActivityDefs<Impl> {
  const defs: Record<string, ActivityDef<unknown, unknown>> = {};
  for (const [key, name] of Object.entries(spec.names) as [string, string][]) defs[key] = { name, retry: spec.retry, failFast: spec.failFast };
  return defs as ActivityDefs<Impl>;
}

/** The names alone, as the library knows them. */
export function namesOf<D extends Record<string, { name: string }>>(defs: D): { readonly [K in keyof D]: D[K]["name"] } {
  return Object.fromEntries(Object.entries(defs).map(([k, d]) => [k, d.name])) as { [K in keyof D]: D[K]["name"] };
}
