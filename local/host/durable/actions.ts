// Reading the orchestrator's output: cumulative actions (schema V2+: `[[...]]` with
// WhenAll/WhenAny holding nested compoundActions) flattened into schedulable leaves in
// the order the library assigns them event ids (depth-first), and the failure marker.
// A task re-yielded inside a NEW Task.all/any comes back as a sub-action of that compound;
// the real host's out-of-proc shim starts every sub-action as a new task, so it is a new
// leaf here too (durable-js issue #574: the library's ids then drift from the host's).
import { ActionType, type ActionWire, type OrchestratorStateWire } from "./types";

export function flattenActions(actions: ActionWire[][] | undefined): ActionWire[] {
  const out: ActionWire[] = [];
  const visit = (a: ActionWire) => {
    if (a.actionType === ActionType.WhenAll || a.actionType === ActionType.WhenAny) {
      for (const c of a.compoundActions ?? []) visit(c);
    } else out.push(a);
  };
  for (const set of actions ?? []) for (const a of set) visit(a);
  return out;
}

/** JSON text of an activity/continueAsNew input; the library pre-stringifies string inputs (Utils.processInput). */
export function processedInputText(input: unknown): string | undefined {
  if (input === undefined) return undefined;
  return typeof input === "string" ? input : JSON.stringify(input);
}

/** JSON text of a sub-orchestration input (passed through unprocessed by the library). */
export function rawInputText(input: unknown): string | undefined {
  return input === undefined ? undefined : JSON.stringify(input);
}

const OUT_OF_PROC_MARKER = "$OutOfProcData$:";

/** Splits the message of an orchestrator's thrown error into the user message and its state. */
export function parseOrchestratorError(message: string): { message: string; state?: OrchestratorStateWire } {
  const at = message.indexOf(OUT_OF_PROC_MARKER);
  if (at < 0) return { message };
  const user = message.slice(0, at).replace(/\s+$/, "");
  try {
    return { message: user, state: JSON.parse(message.slice(at + OUT_OF_PROC_MARKER.length)) as OrchestratorStateWire };
  } catch {
    return { message: user };
  }
}

export function isOrchestratorState(v: unknown): v is OrchestratorStateWire {
  return typeof v === "object" && v !== null && typeof (v as OrchestratorStateWire).isDone === "boolean" && Array.isArray((v as OrchestratorStateWire).actions);
}

/**
 * A failure message as the status API shows it: stack frames dropped. The library turns an
 * activity's failure into `${Reason} \n ${Details}` with the worker's stack in Details, and
 * those frames name files on the host.
 */
export function withoutStackFrames(message: string): string {
  return message
    .split("\n")
    .filter((line) => !/^\s*at\s/.test(line))
    .join("\n")
    .replace(/\s+$/, "");
}
