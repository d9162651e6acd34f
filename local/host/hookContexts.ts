// The context objects handed to app hooks, shaped as the Node.js worker builds them
// (azure-functions-nodejs-worker: src/startApp.ts, src/eventHandlers/InvocationHandler.ts,
// src/eventHandlers/terminateWorker.ts): `hookData` and `appHookData` are read-only
// properties, app start and app terminate share one `hookData`, and `appHookData` is one
// object for the whole app, so data set in appStart is seen by every invocation hook and by
// appTerminate.
import type { FunctionsCore } from "./functionsCore";

/** Same message as the worker's ReadOnlyError, which apps may log or match. */
class ReadOnlyError extends TypeError {
  constructor(property: string) {
    super(`Cannot assign to read only property '${property}'`);
  }
}

/** Defines `name` as a getter whose setter throws, as the worker does. */
function readOnly<T extends object>(target: T, name: string, value: unknown): T {
  Object.defineProperty(target, name, {
    enumerable: true,
    get: () => value,
    set: () => {
      throw new ReadOnlyError(name);
    },
  });
  return target;
}

export function appStartContext(core: FunctionsCore, functionAppDirectory: string): Record<string, unknown> {
  const ctx: Record<string, unknown> = { functionAppDirectory };
  readOnly(ctx, "hookData", core.appLevelHookData);
  return readOnly(ctx, "appHookData", core.appHookData);
}

export function appTerminateContext(core: FunctionsCore): Record<string, unknown> {
  const ctx: Record<string, unknown> = {};
  readOnly(ctx, "hookData", core.appLevelHookData);
  return readOnly(ctx, "appHookData", core.appHookData);
}

/**
 * Pre- or post-invocation context: `hookData` is per invocation (shared by its pre and post
 * hooks); `invocationContext` is read-only; the other fields are writable.
 */
export function invocationHookContext(
  core: FunctionsCore,
  hookData: Record<string, unknown>,
  invocationContext: unknown,
  fields: Record<string, unknown>,
): Record<string, unknown> {
  const ctx: Record<string, unknown> = { ...fields };
  readOnly(ctx, "hookData", hookData);
  readOnly(ctx, "appHookData", core.appHookData);
  return readOnly(ctx, "invocationContext", invocationContext);
}
