// Calling the app's functions through the host, and reading what they return or throw the way
// the Durable Task host reads it.
import type { RegisteredFunction, RpcTypedData } from "../../functionsCore";
import { isOrchestratorState, parseOrchestratorError } from "../actions";
import type { OrchestratorCall } from "../executor/episode";
import type { FailureDetails } from "../types";

/** Finds a registered function and invokes it with trigger data (the host context's invoke). */
export type AppFunctions = {
  get(name: string): RegisteredFunction | undefined;
  invoke(fn: RegisteredFunction, data: RpcTypedData): Promise<RpcTypedData | null | undefined>;
};

export function kindOf(fn: RegisteredFunction | undefined): string | undefined {
  return fn?.trigger.type.toLowerCase();
}

export function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** RpcTypedData returned by a function → value; strings stay strings (an activity returning "42" returns a string). */
export function decodeTypedData(d: RpcTypedData | null | undefined): unknown {
  if (!d) return undefined;
  if (d.json !== undefined && d.json !== null) return JSON.parse(d.json);
  if (d.string !== undefined && d.string !== null) return d.string;
  if (d.int !== undefined && d.int !== null) return Number(d.int);
  if (d.double !== undefined && d.double !== null) return d.double;
  if (d.bytes) return Buffer.from(d.bytes).toString("base64");
  return undefined;
}

/** An activity's return value as its TaskCompleted result text. */
export function resultText(d: RpcTypedData | null | undefined): string | null {
  const v = decodeTypedData(d);
  return v === undefined ? null : JSON.stringify(v);
}

/** Failure of an activity as the host reports it; the library's exception-properties JSON becomes FailureDetails. */
export function describeFailure(prefix: string, err: unknown): { reason: string; details: string; failure?: FailureDetails } {
  const message = errorMessage(err);
  const stack = err instanceof Error ? (err.stack ?? "") : "";
  try {
    const p = JSON.parse(message) as { errorType?: string; errorMessage?: string; stackTrace?: string; isNonRetriable?: boolean; properties?: Record<string, unknown> };
    if (p && typeof p.errorType === "string" && typeof p.errorMessage === "string") {
      return {
        reason: `${prefix}: ${p.errorMessage}`,
        details: p.stackTrace ?? stack,
        failure: { ErrorType: p.errorType, ErrorMessage: p.errorMessage, StackTrace: p.stackTrace, IsNonRetriable: p.isNonRetriable, Properties: p.properties },
      };
    }
  } catch {
    // not the library's JSON: an ordinary error
  }
  // Plain errors travel as Reason/Details (the library then throws `${Reason} \n ${Details}`).
  return { reason: `${prefix}: ${message}`, details: stack };
}

/** One call of an orchestrator function: its state, or why it failed (with the state the library attached). */
export async function callOrchestrator(functions: AppFunctions, name: string, payload: unknown): Promise<OrchestratorCall> {
  const fn = functions.get(name);
  if (kindOf(fn) !== "orchestrationtrigger") {
    return { ok: false, message: `The orchestrator function '${name}' doesn't exist, is disabled, or is not an orchestrator function.` };
  }
  try {
    const rv = await functions.invoke(fn!, { json: JSON.stringify(payload) });
    const value = decodeTypedData(rv);
    if (!isOrchestratorState(value)) return { ok: false, message: `Orchestrator function '${name}' returned an unexpected result: ${JSON.stringify(value)?.slice(0, 200)}` };
    return { ok: true, state: value };
  } catch (err) {
    const parsed = parseOrchestratorError(errorMessage(err));
    // The library puts `orchestratorReturned` (false) before the marker; the user's error is state.error.
    return { ok: false, message: parsed.state?.error ?? parsed.message, state: parsed.state };
  }
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
