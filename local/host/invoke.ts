// Invokes a registered function the way the Node.js worker does
// (azure-functions-nodejs-worker, src/eventHandlers/InvocationHandler.ts): through the
// library's programming model, so the library's own conversions of inputs and outputs
// (HTTP responses, extra inputs, durable client binding, return values) are the ones used.
import { randomUUID } from "node:crypto";
import type { FunctionsCore, RegisteredFunction, RpcInvocationResponse, RpcTypedData } from "./functionsCore";

export type InvocationRequest = {
  /** Trigger and extra-input data, keyed by binding name. */
  inputData: { name: string; data: RpcTypedData }[];
  triggerMetadata?: Record<string, RpcTypedData>;
  invocationId?: string;
};

export type InvocationResult = {
  invocationId: string;
  response: RpcInvocationResponse;
};

/** Shared across invocations of the app, like the worker's appHookData. */
const appHookData: Record<string, unknown> = {};

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
    },
    metadata: fn.metadata,
    state: undefined,
    log: (level: string, category: string, message: string) => core.logSink(level, category, message, fn.name),
  };
  const invocation = model.getInvocationModel(coreCtx);
  coreCtx.state = "preInvocationHooks";
  const { context, inputs: initialInputs } = await invocation.getArguments();

  const hookData: Record<string, unknown> = {};
  const pre: Record<string, unknown> = {
    hookData,
    appHookData,
    invocationContext: context,
    functionCallback: fn.callback,
    inputs: initialInputs,
  };
  for (const hook of core.hooks.preInvocation) await hook(pre);
  const inputs = pre.inputs as unknown[];
  const callback = pre.functionCallback as typeof fn.callback;

  coreCtx.state = "invocation";
  const post: Record<string, unknown> = { hookData, appHookData, invocationContext: context, inputs, result: null, error: null };
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
  return { invocationId, response };
}
