// Invokes a registered function the way the Node.js worker does
// (azure-functions-nodejs-worker, src/eventHandlers/InvocationHandler.ts): through the
// library's programming model, so the library's own conversions of inputs and outputs
// (HTTP responses, extra inputs, durable client binding, return values) are the ones used.
import { randomBytes, randomUUID } from "node:crypto";
import type { FunctionsCore, RegisteredFunction, RpcInvocationResponse, RpcTypedData } from "./functionsCore";
import { invocationHookContext } from "./hookContexts";

/** The host's RpcRetryContext: which attempt of a retry policy this is (0 = the first run). */
export type RetryContext = {
  retryCount: number;
  /** -1 means retry forever, as in host.json / `retry.maxRetryCount`. */
  maxRetryCount: number;
  exception?: { message?: string; stackTrace?: string; source?: string };
};

export type InvocationRequest = {
  /** Trigger and extra-input data, keyed by binding name. */
  inputData: { name: string; data: RpcTypedData }[];
  triggerMetadata?: Record<string, RpcTypedData>;
  invocationId?: string;
  retryContext?: RetryContext;
  traceParent?: string;
};

export type InvocationResult = {
  invocationId: string;
  response: RpcInvocationResponse;
  /**
   * Whether the function gave its HTTP output binding a value. With HTTP streaming the library
   * sends that response over its proxy (not in `response`), so the HTTP extension needs to know
   * whether one is coming.
   */
  httpOutputSet: boolean;
};

export async function invokeFunction(
  core: FunctionsCore,
  fn: RegisteredFunction,
  request: InvocationRequest,
): Promise<InvocationResult> {
  const model = core.programmingModel;
  if (!model) throw new Error("The app did not set a programming model (is @azure/functions loaded?)");
  const invocationId = request.invocationId ?? randomUUID();
  const coreCtx: Record<string, unknown> = {
    invocationId,
    request: {
      invocationId,
      functionId: fn.name,
      inputData: request.inputData,
      triggerMetadata: request.triggerMetadata ?? {},
      retryContext: request.retryContext,
      traceContext: { traceParent: invocationTraceParent(request.traceParent), traceState: "", attributes: {} },
    },
    metadata: fn.metadata,
    state: undefined,
    log: (level: string, category: string, message: string) => core.logSink(level, category, message, fn.name),
  };
  const invocation = model.getInvocationModel(coreCtx);
  coreCtx.state = "preInvocationHooks";
  const { context, inputs: initialInputs } = await invocation.getArguments();

  const hookData: Record<string, unknown> = {};
  const pre = invocationHookContext(core, hookData, context, { functionCallback: fn.callback, inputs: initialInputs });
  for (const hook of core.hooks.preInvocation) await hook(pre);
  const inputs = pre.inputs as unknown[];
  const callback = pre.functionCallback as typeof fn.callback;

  coreCtx.state = "invocation";
  const post = invocationHookContext(core, hookData, context, { inputs, result: null, error: null });
  try {
    post.result = await invocation.invokeFunction(context, inputs, callback);
  } catch (err) {
    post.error = err;
  }
  coreCtx.state = "postInvocationHooks";
  for (const hook of core.hooks.postInvocation) await hook(post);
  coreCtx.state = undefined;
  if (post.error) throw post.error;
  const response = await invocation.getResponse(context, post.result);
  return { invocationId, response, httpOutputSet: httpOutputSet(fn, context, post.result) };
}

/**
 * The host gives every invocation a W3C trace context (RpcTraceContext): a child of the caller's
 * `traceparent` when it sent a valid one, else the root of a new trace.
 */
export function invocationTraceParent(callerTraceParent: string | undefined): string {
  const m = /^00-([0-9a-f]{32})-[0-9a-f]{16}-([0-9a-f]{2})$/.exec(callerTraceParent?.trim() ?? "");
  const traceId = m && !/^0+$/.test(m[1]!) ? m[1]! : randomBytes(16).toString("hex");
  return `00-${traceId}-${randomBytes(8).toString("hex")}-${m ? m[2] : "01"}`;
}

/** The library converts (and, when streaming, sends) an HTTP output only when it is not null/undefined. */
function httpOutputSet(fn: RegisteredFunction, context: unknown, result: unknown): boolean {
  for (const [name, b] of Object.entries(fn.metadata.bindings)) {
    if (b.direction !== "out" || String(b.type).toLowerCase() !== "http") continue;
    const value = name === "$return" ? result : (context as { extraOutputs?: { get(n: string): unknown } }).extraOutputs?.get(name);
    return value !== null && value !== undefined;
  }
  return false;
}
