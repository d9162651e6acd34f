// How a service is built: its operations are plain functions taking their dependencies first,
// and the service is those functions with the dependencies given (wired in services/root.ts).

/** `fns` with their first parameter (the dependencies) filled in. */
export type Bound<D, F> = { [K in keyof F]: F[K] extends (deps: D, ...args: infer A) => infer R ? (...args: A) => R : never };

export function withDeps<D, F extends Record<string, (deps: D, ...args: never[]) => unknown>>(deps: D, fns: F): Bound<D, F> {
  const out: Record<string, unknown> = {};
  for (const [name, fn] of Object.entries(fns)) out[name] = (...args: never[]) => fn(deps, ...args);
  return out as Bound<D, F>;
}
