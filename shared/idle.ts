import type { InstanceState } from "./instances/states";
import { dueScheduledAction, nextScheduledAction, type ScheduleSpec } from "./schedules";

// Idle shutdown that explains itself. An instance is idle when it is Running, has no queued
// or running jobs, none of its agent's busy signals holds (a busy kernel, a terminal command,
// GPU use, a session with recent input, the custom probe), and has had no activity (API use,
// job events, heartbeats, busy signals) for idleShutdownMinutes. `notIdleBecause` lists every reason it is not, so a user can see why
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
  /** What the VM's agent last reported as keeping it busy. */
  signals?: AgentSignals | null;
}

/**
 * The agent's busy signals (kernels, terminal commands, GPU, sessions with input, a probe),
 * as last reported. They hold until `validUntil` (a few report intervals): an agent that stops
 * reporting does not keep a machine up. While they hold, the app also moves lastActivityAt, so
 * the idle clock starts when the last of them ends.
 */
export interface AgentSignals {
  reportedAt: string;
  validUntil: string;
  busy: string[];
}

/** A scheduled Stop the user pushed back (POST .../autostop/postpone): `scheduledAt` runs at `until` instead. */
export interface PostponedStop {
  scheduledAt: string;
  until: string;
}

export interface AutoStopSettings {
  idleShutdownMinMinutes: number;
  /** How long before an idle or scheduled stop `autoStop.warning` shows (AUTOSTOP_WARNING_MINUTES). */
  autostopWarningMinutes?: number;
}

/** A postpone pushes a stop back by the idle timeout, or by this when idle shutdown is off. */
export const POSTPONE_DEFAULT_MINUTES = 60;
export const AUTOSTOP_WARNING_DEFAULT_MINUTES = 10;

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
  settings: AutoStopSettings,
): IdleStatus {
  const reasons: string[] = [];
  const running = instance.state === "Running" || instance.state === "JobRunning";
  if (!running) reasons.push(`state is ${instance.state}`);
  if (jobs.running > 0) reasons.push(`${plural(jobs.running, "job")} running`);
  if (jobs.queued > 0) reasons.push(`${plural(jobs.queued, "job")} queued`);
  const busy = activeSignals(instance.signals, now);
  reasons.push(...busy);
  const off = instance.idleShutdownMinutes === null;
  if (off) reasons.push("idle shutdown is off");

  const last = instance.lastActivityAt ? Date.parse(instance.lastActivityAt) : NaN;
  const status: IdleStatus = { idle: false, notIdleBecause: reasons };
  if (!running || jobs.running > 0 || jobs.queued > 0 || busy.length > 0) return status;
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
export type AutoStopInstance = IdleInstance & { schedules?: readonly ScheduleSpec[]; stopPostponed?: PostponedStop | null };

export function autoStopDecision(
  instance: AutoStopInstance,
  jobs: JobCounts,
  now: Date,
  lastTick: Date | undefined,
  settings: AutoStopSettings,
): AutoStopDecision {
  const reasons: string[] = [];
  const windowStart = new Date(Math.max(lastTick?.getTime() ?? now.getTime() - 60_000, now.getTime() - MAX_CATCH_UP_MS));
  const postponed = instance.stopPostponed ?? null;
  let due = dueScheduledAction(instance.schedules ?? [], windowStart, now);
  if (due !== null && due.action === "Stop" && postponed !== null && Date.parse(postponed.scheduledAt) === due.at.getTime()) {
    reasons.push(`schedule ${due.index} (Stop at ${due.at.toISOString()}) was postponed to ${postponed.until}`);
    due = null;
  }
  if (due !== null) {
    const applies = due.action === "Stop" ? STOPPABLE.includes(instance.state) : instance.state === "Stopped";
    const label = `schedule ${due.index} (${due.action} at ${due.at.toISOString()})`;
    if (applies) {
      return { act: { action: due.action, dueMinute: floorMinute(due.at), source: "schedule", reason: `${label} is due` }, reasons };
    }
    reasons.push(`${label} is due but the instance is ${instance.state}`);
  }

  if (postponed !== null) {
    const until = Date.parse(postponed.until);
    if (until > windowStart.getTime() && until <= now.getTime() && STOPPABLE.includes(instance.state)) {
      const reason = `the scheduled stop of ${postponed.scheduledAt}, postponed to ${postponed.until}, is due`;
      return { act: { action: "Stop", dueMinute: floorMinute(new Date(until)), source: "schedule", reason }, reasons };
    }
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

export interface AutoStopWarning {
  action: "Stop";
  source: "idle" | "schedule";
  /** When the stop is due. */
  at: string;
  message: string;
}

export interface AutoStopView {
  idle: boolean;
  idleSince?: string;
  idleShutdownAt?: string;
  nextScheduledAction?: { action: "Start" | "Stop"; at: string; postponed?: boolean };
  notIdleBecause?: string[];
  warning?: AutoStopWarning;
}

/** The `autoStop` block of the instance response. */
export function autoStopView(instance: AutoStopInstance, jobs: JobCounts, now: Date, settings: AutoStopSettings): AutoStopView {
  const idle = idleStatus(instance, jobs, now, settings);
  const next = nextStop(instance, now);
  const warning = upcomingStops(instance, idle, next, now, settings)[0];
  return {
    idle: idle.idle,
    ...(idle.idleSince ? { idleSince: idle.idleSince } : {}),
    ...(idle.idleShutdownAt ? { idleShutdownAt: idle.idleShutdownAt } : {}),
    ...(next ? { nextScheduledAction: next } : {}),
    ...(idle.notIdleBecause.length > 0 ? { notIdleBecause: idle.notIdleBecause } : {}),
    ...(warning ? { warning } : {}),
  };
}

/**
 * What POST .../autostop/postpone changes: every stop within the warning window moves back by
 * the idle timeout (an idle stop through lastActivityAt, a scheduled one through stopPostponed).
 * Null when no stop is close enough to postpone.
 */
export function postponeAutoStop(
  instance: AutoStopInstance,
  jobs: JobCounts,
  now: Date,
  settings: AutoStopSettings,
): { lastActivityAt?: string; stopPostponed?: PostponedStop } | null {
  const idle = idleStatus(instance, jobs, now, settings);
  const warnings = upcomingStops(instance, idle, nextStop(instance, now), now, settings);
  if (warnings.length === 0) return null;
  const minutes = instance.idleShutdownMinutes === null ? POSTPONE_DEFAULT_MINUTES : Math.max(instance.idleShutdownMinutes, settings.idleShutdownMinMinutes);
  const out: { lastActivityAt?: string; stopPostponed?: PostponedStop } = {};
  for (const w of warnings) {
    if (w.source === "idle") out.lastActivityAt = now.toISOString();
    else {
      const at = Date.parse(w.at);
      const postponed = instance.stopPostponed;
      // Postponing a postponed stop keeps naming the schedule run it replaces.
      const scheduledAt = postponed && Date.parse(postponed.until) === at ? postponed.scheduledAt : w.at;
      out.stopPostponed = { scheduledAt, until: new Date(Math.max(at, now.getTime()) + minutes * 60_000).toISOString() };
    }
  }
  return out;
}

/** The next scheduled action, with a postponed Stop shown at its new time. */
function nextStop(instance: AutoStopInstance, now: Date): AutoStopView["nextScheduledAction"] | undefined {
  const postponed = instance.stopPostponed ?? null;
  let next = nextScheduledAction(instance.schedules ?? [], now);
  if (next !== null && postponed !== null && next.action === "Stop" && next.at.getTime() === Date.parse(postponed.scheduledAt)) {
    // The postponed run itself: look past it.
    next = nextScheduledAction(instance.schedules ?? [], next.at);
  }
  const until = postponed ? Date.parse(postponed.until) : NaN;
  if (until > now.getTime() && (next === null || until <= next.at.getTime())) {
    return { action: "Stop", at: new Date(until).toISOString(), postponed: true };
  }
  return next ? { action: next.action, at: next.at.toISOString() } : undefined;
}

/** Stops due within the warning window (or overdue, not yet acted on), soonest first. */
function upcomingStops(
  instance: AutoStopInstance,
  idle: IdleStatus,
  next: AutoStopView["nextScheduledAction"] | undefined,
  now: Date,
  settings: AutoStopSettings,
): AutoStopWarning[] {
  if (!STOPPABLE.includes(instance.state)) return [];
  const horizon = now.getTime() + (settings.autostopWarningMinutes ?? AUTOSTOP_WARNING_DEFAULT_MINUTES) * 60_000;
  const out: AutoStopWarning[] = [];
  if (idle.idleShutdownAt !== undefined && Date.parse(idle.idleShutdownAt) <= horizon) {
    out.push({ action: "Stop", source: "idle", at: idle.idleShutdownAt, message: `Idle: stops at ${idle.idleShutdownAt} unless it is used or postponed.` });
  }
  if (next?.action === "Stop" && Date.parse(next.at) <= horizon) {
    out.push({ action: "Stop", source: "schedule", at: next.at, message: `Scheduled stop at ${next.at}; postpone to keep working.` });
  }
  return out.sort((a, b) => Date.parse(a.at) - Date.parse(b.at));
}

/** The busy signals that still hold at `now`. */
export function activeSignals(signals: AgentSignals | null | undefined, now: Date): string[] {
  if (!signals || !(Date.parse(signals.validUntil) > now.getTime())) return [];
  return signals.busy;
}

function floorMinute(d: Date): Date {
  return new Date(Math.floor(d.getTime() / 60_000) * 60_000);
}

function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? "" : "s"}`;
}
