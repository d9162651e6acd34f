// How trigger kinds and bindings plug into the local host. The host core knows how to load
// the app and invoke a function; each extension (HTTP, timers, queues, durable) adds
// listeners for its trigger types, providers for its input bindings, handlers for its
// output bindings, and optionally HTTP routes outside the app's routePrefix.
import type http from "node:http";
import type { FunctionsCore, RegisteredFunction, RpcBindingInfo, RpcTypedData } from "./functionsCore";
import type { HostJson } from "./settings";

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
};

export type TriggerInvocation = {
  data: RpcTypedData;
  triggerMetadata?: Record<string, RpcTypedData>;
  invocationId?: string;
};

export type InvocationOutcome = {
  invocationId: string;
  returnValue: RpcTypedData | null | undefined;
  outputs: Record<string, RpcTypedData | null | undefined>;
};

export type InputProvider = (
  ctx: HostContext,
  fn: RegisteredFunction,
  bindingName: string,
  binding: RpcBindingInfo,
) => Promise<RpcTypedData> | RpcTypedData;

export type OutputHandler = (
  ctx: HostContext,
  fn: RegisteredFunction,
  bindingName: string,
  binding: RpcBindingInfo,
  data: RpcTypedData,
) => Promise<void>;

/** Returns true when it handled the request. */
export type HttpRouteHandler = (req: http.IncomingMessage, res: http.ServerResponse, body: Buffer) => Promise<boolean>;

export type HostExtension = {
  name: string;
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
