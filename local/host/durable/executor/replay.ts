// The determinism check: the actions the orchestrator yields on replay must be the ones its
// history has, in the same order (the host's "Non-deterministic workflow detected").
import { ActionType, type ActionWire } from "../types";
import { describe, leafName } from "./leaves";
import type { EpisodeRun } from "./run";

/**
 * Compares the replayed actions with the known leaves; returns why the orchestration fails if
 * they differ. `stillRunning`: the orchestrator returned without finishing, so it must yield at
 * least every known leaf. A cancelled timer's leaf is closed on the way.
 */
export function checkReplay(run: EpisodeRun, flat: ActionWire[], stillRunning: boolean): string | undefined {
  const { state, leaves } = run;
  const known = state.leaves.length;
  for (let i = 0; i < Math.min(known, flat.length); i++) {
    const a = flat[i]!;
    const old = state.leaves[i]!;
    const name = leafName(a);
    if (a.actionType !== old.t || name !== old.n) {
      return (
        `Non-deterministic workflow detected: orchestrator '${state.name}' now yields ${describe(a.actionType, name)} as action #${i}, ` +
        `but its history has ${describe(old.t, old.n)}${old.id !== undefined ? ` (event id ${old.id})` : ""} there. ` +
        `Orchestrator code must replay the same actions in the same order.`
      );
    }
    if (a.actionType === ActionType.CreateTimer && a.isCanceled && leaves[i]!.st === "timer") {
      leaves[i]!.st = "done"; // a cancelled timer's firing changes nothing; skip it
      run.changed.add(i);
    }
  }
  if (stillRunning && flat.length < known) {
    const old = state.leaves[flat.length]!;
    return `Non-deterministic workflow detected: orchestrator '${state.name}' no longer yields ${describe(old.t, old.n)} (action #${flat.length}) that its history has.`;
  }
  return undefined;
}
