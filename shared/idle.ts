import type { InstanceState } from "./instances/states";
import { dueScheduledAction, nextScheduledAction, type ScheduleSpec } from "./schedules";

// Idle shutdown that explains itself. An instance is idle when it is Running, has no queued
// or running jobs, and has had no activity (API use, job events, heartbeats) for
// idleShutdownMinutes. `notIdleBecause` lists every reason it is not, so a user can see why
// it did (not) stop.
//
// Fields: `idleSince` = the last activity, shown as soon as nothing is running (also during
// the countdown); `idleShutdownAt` = idleSince + idleShutdownMinutes when idle shutdown is on;
// `idle` = true once that moment has passed and nothing else keeps the instance busy.

export interface IdleInstance {
  state: InstanceState;
  idleShutdownMinutes: number | null;
  /** ISO time of the last activity; the start of the instance counts as activity. */
  lastActivityAt?: string | null;
}

export interface JobCounts {
  queued: number;
  running: number;
}

export interface IdleStatus {
  idle: boolean;
  idleSince?: string;
  idleShutdownAt?: string;
  notIdleBecause: string[];
}

export function idleStatus(
  instance: IdleInstance,
  jobs: JobCounts,
  now: Date,
  settings: { idleShutdownMinMinutes: number },
): IdleStatus {
  const reasons: string[] = [];
  const running = instance.state === "Running" || instance.state === "JobRunning";
  if (!running) reasons.push(`state is ${instance.state}`);
  if (jobs.running > 0) reasons.push(`${plural(jobs.running, "job")} running`);
  if (jobs.queued > 0) reasons.push(`${plural(jobs.queued, "job")} queued`);
  const off = instance.idleShutdownMinutes === null;
  if (off) reasons.push("idle shutdown is off");

  const last = instance.lastActivityAt ? Date.parse(instance.lastActivityAt) : NaN;
  const status: IdleStatus = { idle: false, notIdleBecause: reasons };
  if (!running || jobs.running > 0 || jobs.queued > 0) return status;
  if (Number.isNaN(last)) {
    reasons.push("no activity recorded yet");
    return status;
  }
  status.idleSince = new Date(last).toISOString();
  if (off) return status;

  // A lowered policy minimum never shortens a timeout; a raised one lengthens old settings.
  const minutes = Math.max(instance.idleShutdownMinutes as number, settings.idleShutdownMinMinutes);
  const shutdownAt = last + minutes * 60_000;
  status.idleShutdownAt = new Date(shutdownAt).toISOString();
  if (now.getTime() < shutdownAt) {
    const ago = Math.max(0, Math.floor((now.getTime() - last) / 60_000));
    reasons.push(`activity ${ago} min ago (idle shutdown after ${minutes} min)`);
    return status;
  }
  status.idle = true;
  return status;
}

export interface AutoStopAction {
  action: "Start" | "Stop";
  /** The minute the action is due (UTC, whole minute): part of the orchestration id. */
  dueMinute: Date;
  source: "schedule" | "idle";
  reason: string;
}

export interface AutoStopDecision {
  act: AutoStopAction | null;
  /** Why nothing happens (when act is null), for logs. */
  reasons: string[];
}

const STOPPABLE: readonly InstanceState[] = ["Running", "JobRunning", "SetupFailed"];
/** How far back a tick looks for missed schedule runs after downtime. */
export const MAX_CATCH_UP_MS = 24 * 60 * 60_000;

/**
 * What the auto-stop timer should do for one instance at `now`, given the previous tick.
 * Schedules win over idle shutdown. A missed window is caught up once (latest run only).
 */
export function autoStopDecision(
  instance: IdleInstance & { schedules?: readonly ScheduleSpec[] },
  jobs: JobCounts,
  now: Date,
  lastTick: Date | undefined,
  settings: { idleShutdownMinMinutes: number },
): AutoStopDecision {
  const reasons: string[] = [];
  const windowStart = new Date(Math.max(lastTick?.getTime() ?? now.getTime() - 60_000, now.getTime() - MAX_CATCH_UP_MS));
  const due = dueScheduledAction(instance.schedules ?? [], windowStart, now);
  if (due !== null) {
    const applies = due.action === "Stop" ? STOPPABLE.includes(instance.state) : instance.state === "Stopped";
    const label = `schedule ${due.index} (${due.action} at ${due.at.toISOString()})`;
    if (applies) {
      return { act: { action: due.action, dueMinute: floorMinute(due.at), source: "schedule", reason: `${label} is due` }, reasons };
    }
    reasons.push(`${label} is due but the instance is ${instance.state}`);
  }

  const idle = idleStatus(instance, jobs, now, settings);
  if (idle.idle && idle.idleShutdownAt !== undefined && STOPPABLE.includes(instance.state)) {
    return {
      act: {
        action: "Stop",
        dueMinute: floorMinute(new Date(idle.idleShutdownAt)),
        source: "idle",
        reason: `idle since ${idle.idleSince} (idle shutdown after ${instance.idleShutdownMinutes} min)`,
      },
      reasons,
    };
  }
  reasons.push(...idle.notIdleBecause);
  return { act: null, reasons };
}

/** The `autoStop` block of the instance response. */
export function autoStopView(
  instance: IdleInstance & { schedules?: readonly ScheduleSpec[] },
  jobs: JobCounts,
  now: Date,
  settings: { idleShutdownMinMinutes: number },
): { idle: boolean; idleSince?: string; idleShutdownAt?: string; nextScheduledAction?: { action: "Start" | "Stop"; at: string }; notIdleBecause?: string[] } {
  const idle = idleStatus(instance, jobs, now, settings);
  const next = nextScheduledAction(instance.schedules ?? [], now);
  return {
    idle: idle.idle,
    ...(idle.idleSince ? { idleSince: idle.idleSince } : {}),
    ...(idle.idleShutdownAt ? { idleShutdownAt: idle.idleShutdownAt } : {}),
    ...(next ? { nextScheduledAction: { action: next.action, at: next.at.toISOString() } } : {}),
    ...(idle.notIdleBecause.length > 0 ? { notIdleBecause: idle.notIdleBecause } : {}),
  };
}

function floorMinute(d: Date): Date {
  return new Date(Math.floor(d.getTime() / 60_000) * 60_000);
}

function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? "" : "s"}`;
}
