// Control messages (terminate, suspend, resume) come first, in arrival order: one handler per
// kind. After a terminate every other message is consumed without effect.
import { EventType, type InstanceMessage } from "../types";
import { ev } from "./leaves";
import type { EpisodeRun } from "./run";

type Control = Extract<InstanceMessage, { kind: "terminate" | "suspend" | "resume" }>;

const isControl = (m: InstanceMessage): m is Control => m.kind === "terminate" || m.kind === "suspend" || m.kind === "resume";

/** Each returns the termination reason when the message ends the execution. */
const handlers: Record<Control["kind"], (run: EpisodeRun, m: Control) => string | undefined> = {
  terminate: (_run, m) => m.reason,
  suspend(run, m) {
    if (!run.suspended) {
      run.suspended = true;
      run.appended.push(ev(EventType.ExecutionSuspended, -1, run.at, { Reason: m.reason }));
    }
    return undefined;
  },
  resume(run, m) {
    if (run.suspended) {
      run.suspended = false;
      run.appended.push(ev(EventType.ExecutionResumed, -1, run.at, { Reason: m.reason }));
    }
    return undefined;
  },
};

/** Applies the control messages of the inbox; returns the other messages and the termination reason, if any. */
export function applyControl(run: EpisodeRun, inbox: InstanceMessage[]): { work: InstanceMessage[]; terminated?: string } {
  const work: InstanceMessage[] = [];
  let terminated: string | undefined;
  for (const m of inbox) {
    if (terminated !== undefined) {
      run.consumed.push(m);
    } else if (isControl(m)) {
      run.consumed.push(m);
      terminated = handlers[m.kind](run, m);
    } else work.push(m);
  }
  return { work, terminated };
}
