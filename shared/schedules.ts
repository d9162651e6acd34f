import { Cron } from "croner";

// Start/stop schedules: five-field cron in an IANA time zone, evaluated with croner.
//
// Daylight saving time — what a schedule does when its local time does not exist or occurs twice:
//
// * Fixed-time schedules — minute and hour fields without `*` or a step (e.g. `30 2 * * *`,
//   `0 8,18 * * 1-5`, `0 2-3 * * *`):
//   - skipped hour (spring forward): the run fires ONCE, at the first valid instant after the
//     gap — 02:30 on the day Europe/Stockholm jumps 02:00→03:00 fires at 03:00 local.
//   - repeated hour (fall back): the run fires ONCE, at the first occurrence (02:30 summer time).
//   - several times inside one gap (`0,30 2 * * *`) collapse into that one run at the gap's end.
//   - lists and ranges count as fixed times: `30 2-3 * * *` on that day fires at 03:00 and 03:30.
//   Why: "stop at 02:30" means once a day, at or right after 02:30. Skipping it would leave a
//   GPU machine running for a day (or not start one someone needs); firing twice would stop an
//   instance again an hour after someone restarted it. This is also what Vixie cron does.
// * Interval schedules — a `*` or a step in the minute or hour field (e.g. `*/30 * * * *`) —
//   follow elapsed time: times inside a gap do not exist and are skipped, and a repeated time
//   fires on both occurrences, so "every 30 minutes" stays every 30 real minutes.
//
// Ties: if a Start and a Stop fall on the same instant, Stop wins (the cost-safe choice).

export interface ScheduleSpec {
  action: "Start" | "Stop";
  cron: string;
  timeZone: string;
  enabled?: boolean;
}

export interface DueAction {
  action: "Start" | "Stop";
  /** The instant the schedule fired (UTC). */
  at: Date;
  /** Index into the instance's schedules. */
  index: number;
}

const compiled = new Map<string, Cron>();
const MAX_COMPILED = 5000;

function cronOf(s: Pick<ScheduleSpec, "cron" | "timeZone">): Cron {
  const key = `${s.cron}\u0000${s.timeZone}`;
  return compiled.get(key) ?? compile(s, key);
}

function compile(s: Pick<ScheduleSpec, "cron" | "timeZone">, key: string): Cron {
  // No callback: croner only computes times and starts no timer.
  const cron = new Cron(s.cron, { mode: "5-part", timezone: s.timeZone, fixedTimeRule: "no-wildcard" });
  // Stryker disable next-line all: when the cache is emptied changes only speed and memory; every answer is recomputed the same
  if (compiled.size >= MAX_COMPILED) compiled.clear();
  compiled.set(key, cron);
  return cron;
}

/** The first run strictly after `after`, or null if there is none (or the schedule is invalid). */
export function nextOccurrence(s: Pick<ScheduleSpec, "cron" | "timeZone">, after: Date): Date | null {
  try {
    return cronOf(s).nextRun(after);
  } catch {
    return null;
  }
}

// The auto-stop tick asks every instance's schedules "any run in (lastTick, now]?" each minute,
// and the answer is almost always no. Remembering each schedule's first run after some instant
// answers that without croner (~50 µs a call) until the window reaches that run, so a tick
// over 10,000 instances costs map lookups, and a daily schedule is computed about once a day.
type NextRun = { after: number; next: number | null };
const nextRuns = new Map<string, NextRun>();
const MAX_NEXT_RUNS = 100_000;

/** Is there a run in (from, to]? Cached per schedule (see above); exact, not approximate. */
export function occursBetween(s: Pick<ScheduleSpec, "cron" | "timeZone">, from: Date, to: Date): boolean {
  const key = `${s.cron}\u0000${s.timeZone}`;
  let known = nextRuns.get(key);
  // Valid when it was computed from an instant at or before `from`: no run lies in (after, next).
  if (known === undefined || known.after > from.getTime() || (known.next !== null && known.next <= from.getTime())) {
    known = { after: from.getTime(), next: nextOccurrence(s, from)?.getTime() ?? null };
    // Stryker disable next-line all: when the cache is emptied changes only speed and memory; every answer is recomputed the same
    if (nextRuns.size >= MAX_NEXT_RUNS) nextRuns.clear();
    nextRuns.set(key, known);
  }
  // Here `next` is after `from` (a kept entry's is; a new one is computed from `from`).
  return known.next !== null && known.next <= to.getTime();
}

/** The latest run in (from, to], or null. */
export function latestOccurrenceBetween(s: Pick<ScheduleSpec, "cron" | "timeZone">, from: Date, to: Date): Date | null {
  if (!occursBetween(s, from, to)) return null;
  try {
    // Runs fall on whole minutes (five-field cron) and previousRuns excludes a run exactly at its
    // reference, so looking back from the whole second after `to` finds the latest run at or before `to`.
    const reference = Math.floor(to.getTime() / 1000) * 1000 + 1000;
    const prev = cronOf(s).previousRuns(1, new Date(reference)).at(0);
    if (prev === undefined) return null;
    return prev.getTime() > from.getTime() ? prev : null;
  } catch {
    return null;
  }
}

/** Does the schedule fire within the UTC minute that contains `minute`? */
export function firesInMinute(s: Pick<ScheduleSpec, "cron" | "timeZone">, minute: Date): boolean {
  const start = Math.floor(minute.getTime() / 60_000) * 60_000;
  return latestOccurrenceBetween(s, new Date(start - 1), new Date(start + 59_999)) !== null;
}

/**
 * The action due from the schedules in the window (from, to]. When ticks were missed, only the
 * latest run counts: a catch-up acts once, with the schedule that is in effect now.
 */
export function dueScheduledAction(schedules: readonly ScheduleSpec[], from: Date, to: Date): DueAction | null {
  let best: DueAction | null = null;
  schedules.forEach((s, index) => {
    if (s.enabled === false) return;
    const at = latestOccurrenceBetween(s, from, to);
    if (at === null) return;
    if (
      best === null ||
      at.getTime() > best.at.getTime() ||
      (at.getTime() === best.at.getTime() && s.action === "Stop" && best.action === "Start")
    ) {
      best = { action: s.action, at, index };
    }
  });
  return best;
}

/** The next run of any enabled schedule after `now` (for the API's autoStop.nextScheduledAction). */
export function nextScheduledAction(schedules: readonly ScheduleSpec[], now: Date): DueAction | null {
  let best: DueAction | null = null;
  schedules.forEach((s, index) => {
    if (s.enabled === false) return;
    const at = nextOccurrence(s, now);
    if (at === null) return;
    if (best === null || at.getTime() < best.at.getTime() || (at.getTime() === best.at.getTime() && s.action === "Stop")) {
      best = { action: s.action, at, index };
    }
  });
  return best;
}
