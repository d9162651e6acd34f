// Stand-in for the `@azure/functions-core` module that the real Node.js worker injects.
// `@azure/functions` requires it at load time; without it the library runs in "test mode"
// and registers nothing. We hand the library this object instead, so the app registers
// its functions with us exactly as it would with the worker.
import Module from "node:module";

export type RpcTypedData = {
  string?: string | null;
  json?: string | null;
  bytes?: Uint8Array | null;
  stream?: Uint8Array | null;
  http?: RpcHttpData | null;
  int?: number | null;
  double?: number | null;
  collectionString?: { string?: string[] | null } | null;
  collectionBytes?: { bytes?: Uint8Array[] | null } | null;
};

export type RpcHttpData = {
  method?: string | null;
  url?: string | null;
  headers?: Record<string, string> | null;
  body?: RpcTypedData | null;
  params?: Record<string, string> | null;
  query?: Record<string, string> | null;
  statusCode?: string | null;
  cookies?: unknown[] | null;
  identities?: unknown[] | null;
};

export type RpcBindingInfo = {
  type?: string;
  direction?: "in" | "out" | "inout";
  [option: string]: unknown;
};

export type FunctionMetadata = {
  name: string;
  bindings: Record<string, RpcBindingInfo>;
  retryOptions?: unknown;
};

export type FunctionCallback = (...args: unknown[]) => unknown;

export type RegisteredFunction = {
  name: string;
  metadata: FunctionMetadata;
  callback: FunctionCallback;
  /** The binding whose direction is "in" and whose type ends in "Trigger". */
  trigger: RpcBindingInfo & { type: string; name: string };
};

export type HookName = "appStart" | "appTerminate" | "preInvocation" | "postInvocation" | "log";
export type HookCallback = (context: Record<string, unknown>) => unknown;

export type InvocationModel = {
  getArguments(): Promise<{ context: InvocationContextLike; inputs: unknown[] }>;
  invokeFunction(context: InvocationContextLike, inputs: unknown[], handler: FunctionCallback): Promise<unknown>;
  getResponse(context: InvocationContextLike, result: unknown): Promise<RpcInvocationResponse>;
};

export type InvocationContextLike = { invocationId: string; functionName: string };

export type RpcInvocationResponse = {
  invocationId: string;
  outputData?: { name: string; data: RpcTypedData | null | undefined }[];
  returnValue?: RpcTypedData | null;
};

export type ProgrammingModel = {
  name: string;
  version: string;
  getInvocationModel(coreCtx: Record<string, unknown>): InvocationModel;
  /** Newer libraries add their own capabilities (e.g. `HttpUri` when HTTP streaming is on). */
  getCapabilities?(workerCapabilities: Record<string, string>): Promise<Record<string, string>>;
};

/**
 * The capabilities the Node.js worker reports to the host at init
 * (azure-functions-nodejs-worker, src/eventHandlers/getWorkerCapabilities.ts); the library may add to them.
 */
export const WORKER_CAPABILITIES: Readonly<Record<string, string>> = {
  RawHttpBodyBytes: "true",
  RpcHttpTriggerMetadataRemoved: "true",
  RpcHttpBodyOnly: "true",
  IgnoreEmptyValuedRpcHttpHeaders: "true",
  UseNullableValueDictionaryForHttp: "true",
  WorkerStatus: "true",
  TypedDataCollection: "true",
  HandlesWorkerTerminateMessage: "true",
};

export type LogSink = (level: string, category: string, message: string, functionName?: string) => void;

class Disposable {
  #callOnDispose: () => void;
  constructor(callOnDispose: () => void) {
    this.#callOnDispose = callOnDispose;
  }
  static from(...inputs: { dispose(): unknown }[]): Disposable {
    return new Disposable(() => inputs.forEach((d) => d.dispose()));
  }
  dispose(): void {
    this.#callOnDispose();
  }
}

/** Everything the app registered with the "worker". One per loaded app. */
export class FunctionsCore {
  readonly functions = new Map<string, RegisteredFunction>();
  readonly hooks: Record<HookName, HookCallback[]> = {
    appStart: [],
    appTerminate: [],
    preInvocation: [],
    postInvocation: [],
    log: [],
  };
  programmingModel: ProgrammingModel | undefined;
  /** What the worker and library reported after the app started (see WORKER_CAPABILITIES). */
  capabilities: Record<string, string> = {};
  /** The library's HTTP streaming proxy server (at `capabilities.HttpUri`), when it runs in this process. */
  httpProxyServer: import("node:http").Server | undefined;
  /** Shared by every hook of the app: app start, each invocation, app terminate (the worker's appHookData). */
  readonly appHookData: Record<string, unknown> = {};
  /** `hookData` of the app start and app terminate hooks only (the worker's appLevelOnlyHookData). */
  readonly appLevelHookData: Record<string, unknown> = {};
  logSink: LogSink = (level, category, message) => {
    const out = level === "error" || level === "warning" ? process.stderr : process.stdout;
    out.write(`[${category}] ${message}\n`);
  };

  /** The object returned for `require('@azure/functions-core')`. */
  coreApi(): Record<string, unknown> {
    return {
      version: "3.10.1",
      hostVersion: "4.1037.0",
      registerFunction: (metadata: FunctionMetadata, callback: FunctionCallback) => {
        if (this.functions.has(metadata.name)) {
          throw new Error(`A function named "${metadata.name}" is already registered.`);
        }
        const trigger = Object.entries(metadata.bindings).find(
          ([, b]) => b.direction === "in" && typeof b.type === "string" && /trigger$/i.test(b.type),
        );
        if (!trigger) throw new Error(`Function "${metadata.name}" has no trigger binding.`);
        this.functions.set(metadata.name, {
          name: metadata.name,
          metadata,
          callback,
          trigger: { ...trigger[1], name: trigger[0], type: String(trigger[1].type) },
        });
        return new Disposable(() => this.functions.delete(metadata.name));
      },
      setProgrammingModel: (model: ProgrammingModel) => {
        this.programmingModel = model;
      },
      getProgrammingModel: () => this.programmingModel,
      registerHook: (hookName: HookName, callback: HookCallback) => {
        const list = this.hooks[hookName];
        if (!list) throw new Error(`Unknown hook "${hookName}".`);
        list.push(callback);
        return new Disposable(() => list.splice(list.indexOf(callback), 1));
      },
      log: (level: string, category: string, message: string) => this.logSink(level, category, message),
      Disposable,
    };
  }
}

let installed: FunctionsCore | undefined;

/**
 * Make `require('@azure/functions-core')` resolve to `core.coreApi()` for the rest of the
 * process. Must run before the app (and so `@azure/functions`) is first required.
 */
export function installFunctionsCore(core: FunctionsCore): void {
  if (installed) throw new Error("@azure/functions-core is already installed in this process");
  installed = core;
  const api = core.coreApi();
  const mod = Module as unknown as {
    _load: (request: string, parent: unknown, isMain: boolean) => unknown;
  };
  const originalLoad = mod._load;
  mod._load = function (request: string, parent: unknown, isMain: boolean) {
    if (request === "@azure/functions-core") return api;
    return originalLoad.call(this, request, parent, isMain);
  };
}
