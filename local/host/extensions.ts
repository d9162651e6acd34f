// How trigger kinds and bindings plug into the local host. The host core knows how to load
// the app and invoke a function; each extension (HTTP, timers, queues, durable) adds
// listeners for its trigger types, providers for its input bindings, handlers for its
// output bindings, and optionally HTTP routes outside the app's routePrefix.
import type http from "node:http";
import type { FunctionsCore, RegisteredFunction, RpcBindingInfo, RpcTypedData } from "./functionsCore";
import type { HostJson } from "./settings";
import { invokeFunction, type RetryContext } from "./invoke";

export type HostContext = {
  core: FunctionsCore;
  appDir: string;
  hostJson: HostJson;
  env: NodeJS.ProcessEnv;
  /** The base URL of the host's HTTP server, e.g. http://127.0.0.1:7071 (known once listening). */
  baseUrl(): string;
  log(level: "information" | "warning" | "error" | "debug", message: string): void;
  /** Invoke with extra inputs supplied by the registered providers and outputs dispatched to handlers. */
  invoke(fn: RegisteredFunction, trigger: TriggerInvocation): Promise<InvocationOutcome>;
  /** Every extension loaded in this host (the HTTP extension serves their httpRoutes). */
  extensions: HostExtension[];
};

export type TriggerInvocation = {
  data: RpcTypedData;
  triggerMetadata?: Record<string, RpcTypedData>;
  invocationId?: string;
  retryContext?: RetryContext;
  /** W3C traceparent of the caller (an HTTP request's `traceparent` header); else a new trace. */
  traceParent?: string;
};

export type InvocationOutcome = {
  invocationId: string;
  returnValue: RpcTypedData | null | undefined;
  outputs: Record<string, RpcTypedData | null | undefined>;
  /** Whether the function set its HTTP output (see InvocationResult). */
  httpOutputSet: boolean;
};

export type InputProvider = (
  ctx: HostContext,
  fn: RegisteredFunction,
  bindingName: string,
  binding: RpcBindingInfo,
  /** What triggered this invocation, for binding expressions such as `{name}`. */
  trigger: TriggerInvocation,
) => Promise<RpcTypedData> | RpcTypedData;

export type OutputHandler = (
  ctx: HostContext,
  fn: RegisteredFunction,
  bindingName: string,
  binding: RpcBindingInfo,
  data: RpcTypedData,
  trigger: TriggerInvocation,
) => Promise<void>;

/** Returns true when it handled the request. */
export type HttpRouteHandler = (req: http.IncomingMessage, res: http.ServerResponse, body: Buffer) => Promise<boolean>;

export type HostExtension = {
  name: string;
  /** Trigger types (lower case) this extension listens for, e.g. "queuetrigger". */
  triggerTypes?: string[];
  /** Binding types (lower case) this extension supplies as extra inputs, e.g. "durableclient". */
  inputProviders?: Record<string, InputProvider>;
  /** Output binding types (lower case) this extension delivers, e.g. "queue". */
  outputHandlers?: Record<string, OutputHandler>;
  /** Routes served before the app's HTTP triggers (e.g. /runtime/webhooks/durabletask). */
  httpRoutes?: HttpRouteHandler[];
  /** Start listening for this extension's triggers. Called after the app is loaded. */
  start?(ctx: HostContext): Promise<void>;
  /** Stop listening; in-flight work may be abandoned (it must be safe to redeliver). */
  stop?(): Promise<void>;
  /** Name of each component to report in health checks, and whether it is ready. */
  health?(): Promise<Record<string, boolean>>;
};

export type HostExtensionFactory = () => HostExtension;

export type HostContextOptions = {
  core: FunctionsCore;
  appDir: string;
  hostJson: HostJson;
  env: NodeJS.ProcessEnv;
  extensions: HostExtension[];
  baseUrl(): string;
  log: HostContext["log"];
};

/** Lower-case binding type, without a trailing "Trigger" for triggers. */
export function bindingType(binding: RpcBindingInfo): string {
  return String(binding.type ?? "").toLowerCase();
}

/**
 * The host core: builds the inputs of an invocation (trigger + extra inputs from the
 * extensions' providers), invokes through the library, then hands every non-HTTP output to
 * the extension that delivers that binding type. An output nobody can deliver is an error,
 * not a silent drop, so a misconfigured binding surfaces on the first invocation.
 */
export function createHostContext(opts: HostContextOptions): HostContext {
  const ctx: HostContext = {
    core: opts.core,
    appDir: opts.appDir,
    hostJson: opts.hostJson,
    env: opts.env,
    extensions: opts.extensions,
    baseUrl: opts.baseUrl,
    log: opts.log,
    async invoke(fn, trigger) {
      const inputData: { name: string; data: RpcTypedData }[] = [{ name: fn.trigger.name, data: trigger.data }];
      for (const [name, binding] of Object.entries(fn.metadata.bindings)) {
        if (binding.direction !== "in" || name === fn.trigger.name) continue;
        const provider = findByType(opts.extensions, "inputProviders", bindingType(binding));
        if (!provider) throw new Error(`Function "${fn.name}": no extension supplies input bindings of type "${binding.type}".`);
        inputData.push({ name, data: await provider(ctx, fn, name, binding, trigger) });
      }
      const { invocationId, response, httpOutputSet } = await invokeFunction(opts.core, fn, {
        inputData,
        triggerMetadata: trigger.triggerMetadata,
        invocationId: trigger.invocationId,
        retryContext: trigger.retryContext,
        traceParent: trigger.traceParent,
      });
      const outputs: InvocationOutcome["outputs"] = {};
      for (const o of response.outputData ?? []) outputs[o.name] = o.data;
      const returnBinding = fn.metadata.bindings["$return"];
      const deliveries: [string, RpcBindingInfo, RpcTypedData | null | undefined][] = Object.entries(outputs).map(
        ([name, data]) => [name, fn.metadata.bindings[name] ?? {}, data],
      );
      if (returnBinding) deliveries.push(["$return", returnBinding, response.returnValue]);
      for (const [name, binding, data] of deliveries) {
        const type = bindingType(binding);
        // HTTP responses go back to the caller through the HTTP extension, not a handler.
        if (type === "http" || data === null || data === undefined) continue;
        const handler = findByType(opts.extensions, "outputHandlers", type);
        if (!handler) throw new Error(`Function "${fn.name}": no extension delivers output bindings of type "${binding.type}".`);
        await handler(ctx, fn, name, binding, data, trigger);
      }
      return { invocationId, returnValue: response.returnValue, outputs, httpOutputSet };
    },
  };
  return ctx;
}

function findByType<K extends "inputProviders" | "outputHandlers">(
  extensions: HostExtension[],
  kind: K,
  type: string,
): NonNullable<HostExtension[K]>[string] | undefined {
  for (const ext of extensions) {
    const found = ext[kind]?.[type];
    if (found) return found as NonNullable<HostExtension[K]>[string];
  }
  return undefined;
}

/**
 * The first binding of an app that no extension serves, as one line naming the function and
 * the binding type; undefined when every binding is served. The real host refuses to start
 * such a function (its extension is missing); silently loading it would let a trigger never
 * fire or an output vanish.
 */
export function unservedBinding(functions: Iterable<RegisteredFunction>, extensions: HostExtension[]): string | undefined {
  const triggers = new Set(extensions.flatMap((e) => e.triggerTypes ?? []));
  for (const fn of functions) {
    for (const [name, b] of Object.entries(fn.metadata.bindings)) {
      const type = bindingType(b);
      let served: boolean;
      if (name === fn.trigger.name) served = triggers.has(type);
      else if (b.direction === "in") served = findByType(extensions, "inputProviders", type) !== undefined;
      // An HTTP output answers the HTTP trigger's caller; anywhere else it has no one to go to.
      else if (type === "http") served = bindingType(fn.trigger) === "httptrigger";
      else served = findByType(extensions, "outputHandlers", type) !== undefined;
      if (!served) {
        const role = name === fn.trigger.name ? "trigger" : b.direction === "in" ? "input binding" : "output binding";
        return `function "${fn.name}": the local host does not serve ${role}s of type "${b.type}"`;
      }
    }
  }
  return undefined;
}
