// The auto-stop tick as pure logic: which instances to start or stop, given a page of instance
// records, the tick's time and the previous tick's. The timer function (functions/autostop.ts)
// reads the pages and acts; everything that decides lives here so it can be tested with a
// fake clock.
import { autoStopDecision, type AgentSignals, type AutoStopAction, type AutoStopSettings, type JobCounts, type PostponedStop } from "../idle";
import { orchestrationIds } from "../ids";
import { INSTANCE_STATES, type InstanceState } from "../instances/states";
import type { ScheduleSpec } from "../schedules";

/** The fields of an instance record the tick reads (a subset of the instances table row). */
export interface AutoStopRecord {
  name: string;
  state: InstanceState;
  idleShutdownMinutes?: number | null;
  lastActivityAt?: string | null;
  signals?: AgentSignals | null;
  stopPostponed?: PostponedStop | null;
  schedules?: readonly ScheduleSpec[] | null;
  /** Kept by the jobs workflow; absent before the first job. */
  jobs?: Partial<JobCounts> | null;
}

export interface PlannedAction extends AutoStopAction {
  instance: string;
  /** Durable instance id: the same for every tick that sees the same due action. */
  orchestrationId: string;
}

export interface TickTimes {
  now: Date;
  /** The previous tick (the timer's scheduleStatus.last); undefined on the first tick. */
  lastTick?: Date;
}

export interface TickPlan {
  actions: PlannedAction[];
  evaluated: number;
  /** Records that could not be evaluated (bad data), with why; they are skipped, not fatal. */
  skipped: { instance: string; reason: string }[];
}

export function planTick(records: readonly AutoStopRecord[], times: TickTimes, settings: AutoStopSettings): TickPlan {
  const plan: TickPlan = { actions: [], evaluated: 0, skipped: [] };
  for (const r of records) {
    const problem = recordProblem(r);
    if (problem !== null) {
      plan.skipped.push({ instance: typeof r.name === "string" ? r.name : "?", reason: problem });
      continue;
    }
    plan.evaluated++;
    const jobs = { queued: count(r.jobs?.queued), running: count(r.jobs?.running) };
    const decision = autoStopDecision(
      { state: r.state, idleShutdownMinutes: r.idleShutdownMinutes ?? null, lastActivityAt: r.lastActivityAt ?? null, schedules: r.schedules ?? [],
        signals: wellFormedSignals(r.signals), stopPostponed: wellFormedPostponed(r.stopPostponed) },
      jobs,
      times.now,
      times.lastTick,
      settings,
    );
    if (decision.act === null) continue;
    plan.actions.push({
      ...decision.act,
      instance: r.name,
      orchestrationId: orchestrationIds.autoStop(r.name, decision.act.action, decision.act.dueMinute),
    });
  }
  return plan;
}

// .NET's default(DateTime): what the host reports as scheduleStatus.last before the first run.
// (Not Date.UTC(1, 0, 1): Date.UTC reads years 0–99 as 1900–1999.)
const NEVER = Date.parse("0001-01-01T00:00:00Z");

/**
 * The previous tick from the timer's input. `scheduleStatus.last` is the last occurrence the
 * host ran (also across restarts, which is what makes a catch-up after downtime act once);
 * without it (first run, no schedule monitor) the caller's own memory of the last tick is used.
 */
export function previousTick(
  timer: { scheduleStatus?: { last?: string | null } | null },
  now: Date,
  remembered?: Date,
): Date | undefined {
  const raw = timer.scheduleStatus?.last;
  const last = typeof raw === "string" ? Date.parse(raw) : NaN;
  const mine = remembered !== undefined && remembered.getTime() <= now.getTime() ? remembered : undefined;
  if (Number.isFinite(last) && last > NEVER && last <= now.getTime()) {
    // A remembered tick that is later is closer to the truth (the status lags a running host by one tick).
    return new Date(Math.max(last, mine?.getTime() ?? last));
  }
  return mine;
}

function recordProblem(r: AutoStopRecord): string | null {
  if (typeof r.name !== "string" || r.name === "") return "the record has no name";
  if (!(INSTANCE_STATES as readonly string[]).includes(r.state)) return `unknown state ${JSON.stringify(r.state)}`;
  if (r.schedules != null && !Array.isArray(r.schedules)) return "schedules is not a list";
  if (r.idleShutdownMinutes != null && (typeof r.idleShutdownMinutes !== "number" || !(r.idleShutdownMinutes > 0))) {
    return "idleShutdownMinutes is not a positive number";
  }
  return null;
}

/** Bad stored signals are ignored (they never keep an instance up), not fatal. */
function wellFormedSignals(s: unknown): AgentSignals | null {
  const v = s as Partial<AgentSignals> | null | undefined;
  return v && typeof v.validUntil === "string" && typeof v.reportedAt === "string" && Array.isArray(v.busy) && v.busy.every((b) => typeof b === "string") ? (v as AgentSignals) : null;
}

function wellFormedPostponed(p: unknown): PostponedStop | null {
  const v = p as Partial<PostponedStop> | null | undefined;
  return v && typeof v.scheduledAt === "string" && typeof v.until === "string" && !Number.isNaN(Date.parse(v.until)) ? (v as PostponedStop) : null;
}

function count(n: unknown): number {
  return typeof n === "number" && Number.isFinite(n) ? Math.max(0, n) : 0;
}

/**
 * A host's memory of its ticks. The window of a tick starts at the previous tick, except after
 * a tick that failed (a read error, or an action that threw): then it starts where the failed
 * tick's window started, so a due schedule run is retried rather than skipped. Retrying is
 * harmless: the orchestration ids make a second attempt at a started action a no-op.
 */
export class TickMemory {
  #lastCompleted: Date | undefined;
  #retryFrom: Date | undefined;

  /** The previous tick to use for this one. */
  lastTick(timer: { scheduleStatus?: { last?: string | null } | null }, now: Date): Date | undefined {
    const last = previousTick(timer, now, this.#lastCompleted);
    if (this.#retryFrom === undefined) return last;
    return last === undefined ? this.#retryFrom : new Date(Math.min(this.#retryFrom.getTime(), last.getTime()));
  }

  /** Call after every tick with the window start it used and whether everything succeeded. */
  finished(now: Date, lastTick: Date | undefined, ok: boolean): void {
    this.#retryFrom = ok ? undefined : (this.#retryFrom ?? lastTick ?? new Date(now.getTime() - 60_000));
    this.#lastCompleted = now;
  }
}
