// Plain-language text for what the API returns: auto-stop, times, job counts. Pure functions
// (no DOM), so they are unit-tested (test/unit/portalWords.test.ts) and benchmarked alone.
import type { Instance, Sizes } from "./types";
import { nextOccurrence } from "../../shared/schedules";

type Schedule = Instance["schedules"][number];

// Intl formatters are costly to build (a list of 500 rows would build thousands): one per zone.
const formatters = new Map<string, { time: Intl.DateTimeFormat; day: Intl.DateTimeFormat }>();
function formattersFor(timeZone: string | undefined) {
  const key = timeZone ?? "";
  let f = formatters.get(key);
  if (!f) {
    const zone = timeZone ? { timeZone } : {};
    f = {
      time: new Intl.DateTimeFormat("en-GB", { hour: "2-digit", minute: "2-digit", hourCycle: "h23", ...zone }),
      day: new Intl.DateTimeFormat("en-GB", { weekday: "short", day: "numeric", month: "short", ...zone }),
    };
    formatters.set(key, f);
  }
  return f;
}

/** "19:00" in that zone, with the day when it is not today ("tomorrow 19:00", "Thu 3 Dec 19:00"). */
export function timeIn(at: Date, timeZone: string | undefined, now: Date): string {
  const { time, day } = formattersFor(timeZone);
  const t = time.format(at);
  const d = day.format(at);
  if (d === day.format(now)) return t;
  if (d === day.format(new Date(now.getTime() + 86_400_000))) return `tomorrow ${t}`;
  return `${d} ${t}`;
}

/** "at 19:00", "tomorrow at 09:00", "on Thu 3 Dec at 19:00": a time in a sentence. */
export function whenIn(at: Date, timeZone: string | undefined, now: Date): string {
  const t = timeIn(at, timeZone, now);
  const m = /^(.*) (\d\d:\d\d)$/.exec(t);
  if (!m) return `at ${t}`;
  return m[1] === "tomorrow" ? `tomorrow at ${m[2]}` : `on ${m[1]} at ${m[2]}`;
}

/** The schedule whose next run is `at` (the API names the time, the schedule has the zone). */
export function scheduleAt(schedules: readonly Schedule[], at: Date, now: Date): Schedule | undefined {
  const minute = Math.floor(now.getTime() / 60_000) * 60_000 - 60_000;
  return schedules.find((s) => s.enabled !== false && nextRunAfter(s, minute) === at.getTime());
}

// Many instances share a schedule: its next run after a given minute is computed once.
const nextRuns = new Map<string, number | null>();
function nextRunAfter(s: Schedule, minute: number): number | null {
  const key = `${s.cron}\u0000${s.timeZone}\u0000${minute}`;
  if (!nextRuns.has(key)) {
    if (nextRuns.size > 1000) nextRuns.clear();
    nextRuns.set(key, nextOccurrence(s, new Date(minute))?.getTime() ?? null);
  }
  return nextRuns.get(key)!;
}

/** Sentences for `autoStop`: "Stops at 19:00 Europe/Stockholm", "Not idle: 1 job running". */
export function autoStopWords(inst: Pick<Instance, "autoStop" | "schedules" | "idleShutdownMinutes">, now: Date): string[] {
  const a = inst.autoStop;
  const out: string[] = [];
  if (a?.nextScheduledAction) {
    const at = new Date(a.nextScheduledAction.at);
    const s = scheduleAt(inst.schedules, at, now);
    const zone = s?.timeZone;
    out.push(`${a.nextScheduledAction.action === "Stop" ? "Stops" : "Starts"} ${whenIn(at, zone, now)} ${zone ?? "UTC"} (schedule)`);
  }
  if (a?.idleShutdownAt) {
    out.push(`Idle since ${timeIn(new Date(a.idleSince ?? a.idleShutdownAt), undefined, now)}: stops ${whenIn(new Date(a.idleShutdownAt), undefined, now)} unless used`);
  } else if (a?.notIdleBecause?.length) {
    const reasons = a.notIdleBecause;
    out.push(reasons.includes("idle shutdown is off") && reasons.length === 1 ? "Idle shutdown is off" : `Not idle: ${reasons.join(", ")}`);
  }
  if (out.length === 0) out.push(inst.idleShutdownMinutes === null ? "No auto-stop" : `Stops after ${inst.idleShutdownMinutes} idle minutes`);
  return out;
}

/**
 * The banner for `autoStop.warning`: when the stop comes and why ("Stops at 14:32 (in 8 min):
 * idle since 14:02, nothing keeps it busy."). Undefined when there is no warning.
 */
export function warningWords(inst: Pick<Instance, "autoStop" | "schedules">, now: Date): string | undefined {
  const w = inst.autoStop?.warning;
  if (!w) return undefined;
  const at = new Date(w.at);
  const zone = w.source === "schedule" ? scheduleAt(inst.schedules, at, now)?.timeZone : undefined;
  const when = at.getTime() <= now.getTime() ? "now" : `${whenIn(at, zone, now)}${zone ? ` ${zone}` : ""} (${relative(at, now)})`;
  if (w.source === "idle") {
    const since = inst.autoStop?.idleSince;
    return `Stops ${when}: idle${since ? ` since ${timeIn(new Date(since), undefined, now)}` : ""}, nothing keeps it busy.`;
  }
  return `Stops ${when}: ${inst.autoStop?.nextScheduledAction?.postponed ? "a postponed scheduled stop" : "a scheduled stop"}.`;
}

/** The next `count` runs of a schedule as the auto-stop timer computes them (shared/schedules.ts), or why there are none. */
export function previewRuns(s: { cron: string; timeZone: string }, now: Date, count = 3): Date[] | string {
  const out: Date[] = [];
  let after = now;
  for (let i = 0; i < count; i++) {
    const next = nextOccurrence(s, after);
    if (!next) break;
    out.push(next);
    after = next;
  }
  return out.length ? out : "no run: check the cron expression (5 fields) and the time zone";
}

export function jobsWords(j: Instance["jobs"]): string {
  return `${j.running}/${j.cap} running${j.queued ? `, ${j.queued} queued` : ""}`;
}

/** "3 min ago", "in 2 h": for the list, where exact times are noise. */
export function relative(at: Date, now: Date): string {
  const s = Math.round((at.getTime() - now.getTime()) / 1000);
  const abs = Math.abs(s);
  const v = abs < 60 ? `${abs} s` : abs < 3600 ? `${Math.round(abs / 60)} min` : abs < 172800 ? `${Math.round(abs / 3600)} h` : `${Math.round(abs / 86400)} days`;
  return s >= 0 ? `in ${v}` : `${v} ago`;
}

type Size = Sizes["value"][number];

/** Why a size cannot be picked, from the quota left in its family; undefined when it can. */
export function overQuota(size: Size, quota: Sizes["quota"]): string | undefined {
  const q = quota.find((f) => f.family === size.family);
  if (!q || q.limit === undefined) return undefined;
  const left = q.limit - q.used;
  return size.vCpus > left ? `Needs ${size.vCpus} vCPUs; ${Math.max(0, left)} of ${q.limit} left in ${size.family}` : undefined;
}

export function quotaLeft(size: Size, quota: Sizes["quota"]): string {
  const q = quota.find((f) => f.family === size.family);
  return !q || q.limit === undefined ? "no limit" : `${Math.max(0, q.limit - q.used)} of ${q.limit} vCPUs left`;
}
