import { describe, expect, it } from "vitest";
import { dueScheduledAction, firesInMinute, latestOccurrenceBetween, nextOccurrence, occursBetween, nextScheduledAction, type ScheduleSpec } from "../../shared/schedules";

const at = (iso: string) => new Date(iso);
const sto = (cron: string): ScheduleSpec => ({ action: "Stop", cron, timeZone: "Europe/Stockholm" });
const ny = (cron: string): ScheduleSpec => ({ action: "Stop", cron, timeZone: "America/New_York" });
const iso = (d: Date | null) => d?.toISOString() ?? null;

describe("next occurrence across DST, month ends and leap days", () => {
  it.each<[string, ScheduleSpec, string, string]>([
    // Europe/Stockholm springs forward 2025-03-30 02:00 → 03:00 (01:00Z).
    ["Stockholm 02:30 in the gap fires at 03:00 local", sto("30 2 * * *"), "2025-03-29T12:00:00Z", "2025-03-30T01:00:00.000Z"],
    ["Stockholm 02:30 the day after the gap is 02:30 CEST", sto("30 2 * * *"), "2025-03-30T01:00:00Z", "2025-03-31T00:30:00.000Z"],
    ["Stockholm 03:30 on the gap day is unaffected", sto("30 3 * * *"), "2025-03-29T12:00:00Z", "2025-03-30T01:30:00.000Z"],
    // Falls back 2025-10-26 03:00 → 02:00 (01:00Z): 02:30 happens at 00:30Z and 01:30Z.
    ["Stockholm 02:30 in the repeated hour fires at the first occurrence", sto("30 2 * * *"), "2025-10-25T12:00:00Z", "2025-10-26T00:30:00.000Z"],
    ["… and not again at the second", sto("30 2 * * *"), "2025-10-26T00:30:00Z", "2025-10-27T01:30:00.000Z"],
    ["Stockholm 19:00 weekdays in winter time", sto("0 19 * * 1-5"), "2025-10-24T18:00:00Z", "2025-10-27T18:00:00.000Z"],
    // America/New_York springs forward 2025-03-09 02:00 → 03:00 (07:00Z), falls back 2025-11-02 02:00 → 01:00 (06:00Z).
    ["New York 02:30 in the gap fires at 03:00 EDT", ny("30 2 * * *"), "2025-03-08T12:00:00Z", "2025-03-09T07:00:00.000Z"],
    ["New York 01:30 in the repeated hour fires once (EDT)", ny("30 1 * * *"), "2025-11-01T12:00:00Z", "2025-11-02T05:30:00.000Z"],
    ["… next is the following day (EST)", ny("30 1 * * *"), "2025-11-02T05:30:00Z", "2025-11-03T06:30:00.000Z"],
    ["New York 19:00 Friday before DST (EST)", ny("0 19 * * 1-5"), "2025-03-07T12:00:00Z", "2025-03-08T00:00:00.000Z"],
    ["New York 19:00 Monday after DST (EDT)", ny("0 19 * * 1-5"), "2025-03-08T12:00:00Z", "2025-03-10T23:00:00.000Z"],
    // Month ends and leap days.
    ["the 31st skips short months", sto("0 9 31 * *"), "2025-01-31T09:00:00Z", "2025-03-31T07:00:00.000Z"],
    ["first of the month at local midnight (UTC previous day)", sto("0 0 1 * *"), "2025-01-15T00:00:00Z", "2025-01-31T23:00:00.000Z"],
    ["last day of February in a leap year", sto("0 18 28-29 2 *"), "2024-02-28T18:00:00Z", "2024-02-29T17:00:00.000Z"],
    ["Feb 29 waits for the next leap year", sto("0 12 29 2 *"), "2024-03-01T00:00:00Z", "2028-02-29T11:00:00.000Z"],
    ["Feb 29 in a leap year", ny("0 12 29 2 *"), "2024-01-01T00:00:00Z", "2024-02-29T17:00:00.000Z"],
  ])("%s", (_case, s, after, expected) => {
    expect(iso(nextOccurrence(s, at(after)))).toBe(expected);
  });

  it("interval schedules follow elapsed time: a repeated time fires twice, a skipped one not at all", () => {
    const every30 = sto("*/30 * * * *");
    const runs: string[] = [];
    let t: Date | null = at("2025-10-25T23:59:00Z");
    for (let i = 0; i < 6 && t; i++) runs.push(iso((t = nextOccurrence(every30, t))) as string);
    expect(runs).toEqual([
      "2025-10-26T00:00:00.000Z", // 02:00 CEST
      "2025-10-26T00:30:00.000Z", // 02:30 CEST
      "2025-10-26T01:00:00.000Z", // 02:00 CET
      "2025-10-26T01:30:00.000Z", // 02:30 CET
      "2025-10-26T02:00:00.000Z",
      "2025-10-26T02:30:00.000Z",
    ]);
    expect(iso(nextOccurrence(sto("*/30 2 * * *"), at("2025-03-29T12:00:00Z")))).toBe("2025-03-31T00:00:00.000Z");
  });
});

describe("is an action due in minute M", () => {
  it.each<[ScheduleSpec, string, boolean]>([
    [sto("30 2 * * *"), "2025-03-30T01:00:00Z", true],
    [sto("30 2 * * *"), "2025-03-30T01:00:42Z", true],
    [sto("30 2 * * *"), "2025-03-30T00:30:00Z", false],
    [sto("30 2 * * *"), "2025-10-26T00:30:00Z", true],
    [sto("30 2 * * *"), "2025-10-26T01:30:00Z", false],
    [sto("0 19 * * 1-5"), "2025-06-02T17:00:00Z", true], // Monday 19:00 CEST
    [sto("0 19 * * 1-5"), "2025-06-01T17:00:00Z", false], // Sunday
    [sto("0 19 * * 1-5"), "2025-06-02T17:01:00Z", false],
  ])("%j at %s → %s", (s, minute, due) => {
    expect(firesInMinute(s, at(minute))).toBe(due);
  });

  it("a run just after `to`, within the same second, is not in the window", () => {
    const s = sto("0 19 * * *");
    expect(latestOccurrenceBetween(s, at("2025-06-02T16:00:00Z"), at("2025-06-02T16:59:59.500Z"))).toBeNull();
    expect(iso(latestOccurrenceBetween(s, at("2025-06-02T16:00:00Z"), at("2025-06-02T17:00:00.500Z")))).toBe("2025-06-02T17:00:00.000Z");
    // Of two runs in the window, the later one.
    expect(iso(latestOccurrenceBetween(sto("0 * * * *"), at("2025-06-02T14:30:00Z"), at("2025-06-02T16:30:00Z")))).toBe("2025-06-02T16:00:00.000Z");
  });

  it("an unreadable schedule never fires", () => {
    const bad: ScheduleSpec = { action: "Stop", cron: "0 19 * * *", timeZone: "Not/AZone" };
    expect(nextOccurrence(bad, at("2025-06-02T12:00:00Z"))).toBeNull();
    expect(latestOccurrenceBetween(bad, at("2025-06-01T12:00:00Z"), at("2025-06-03T12:00:00Z"))).toBeNull();
    expect(firesInMinute(bad, at("2025-06-02T17:00:00Z"))).toBe(false);
  });

  it("a minute is the whole UTC minute, first and last millisecond included", () => {
    const s = sto("0 19 * * *");
    expect(firesInMinute(s, at("2025-06-02T17:00:59.999Z"))).toBe(true);
    expect(firesInMinute(s, at("2025-06-02T16:59:59.999Z"))).toBe(false);
  });

  it("windows are (from, to]", () => {
    const s = sto("0 19 * * *");
    expect(latestOccurrenceBetween(s, at("2025-06-02T16:59:00Z"), at("2025-06-02T17:00:00Z"))).not.toBeNull();
    expect(latestOccurrenceBetween(s, at("2025-06-02T17:00:00Z"), at("2025-06-02T17:01:00Z"))).toBeNull();
    expect(latestOccurrenceBetween(s, at("2025-06-02T17:01:00Z"), at("2025-06-02T17:00:00Z"))).toBeNull();
  });

  it("back-to-back windows: one that starts on the run the last one found does not see that run again", () => {
    const hourly = sto("0 * * * *");
    expect(occursBetween(hourly, at("2025-06-02T16:30:00Z"), at("2025-06-02T16:45:00Z"))).toBe(false); // next run 17:00 UTC
    expect(occursBetween(hourly, at("2025-06-02T16:45:00Z"), at("2025-06-02T17:00:00Z"))).toBe(true);
    expect(occursBetween(hourly, at("2025-06-02T17:00:00Z"), at("2025-06-02T17:30:00Z"))).toBe(false);
    expect(iso(latestOccurrenceBetween(hourly, at("2025-06-02T17:00:00Z"), at("2025-06-02T18:00:00Z")))).toBe("2025-06-02T18:00:00.000Z");
  });
});

describe("choosing among schedules", () => {
  const stop19: ScheduleSpec = { action: "Stop", cron: "0 19 * * *", timeZone: "Europe/Stockholm" };
  const start7: ScheduleSpec = { action: "Start", cron: "0 7 * * *", timeZone: "Europe/Stockholm" };

  it("a catch-up acts once, with the latest run", () => {
    const due = dueScheduledAction([stop19, start7], at("2025-06-02T10:00:00Z"), at("2025-06-03T06:00:00Z"));
    expect(due).toEqual({ action: "Start", at: at("2025-06-03T05:00:00Z"), index: 1 });
  });

  it("Stop wins a tie; disabled schedules are ignored", () => {
    const startAt19: ScheduleSpec = { ...start7, cron: "0 19 * * *" };
    expect(dueScheduledAction([startAt19, stop19], at("2025-06-02T16:59:00Z"), at("2025-06-02T17:00:00Z"))?.action).toBe("Stop");
    expect(dueScheduledAction([startAt19, { ...stop19, enabled: false }], at("2025-06-02T16:59:00Z"), at("2025-06-02T17:00:00Z"))?.action).toBe("Start");
    expect(dueScheduledAction([], at("2025-06-02T16:59:00Z"), at("2025-06-02T17:00:00Z"))).toBeNull();
  });

  it("a tie between two schedules of the same action keeps the first listed", () => {
    const w = [at("2025-06-02T16:59:00Z"), at("2025-06-02T17:00:00Z")] as const;
    const startAt19: ScheduleSpec = { ...start7, cron: "0 19 * * *" };
    expect(dueScheduledAction([stop19, { ...stop19 }], ...w)).toEqual({ action: "Stop", at: at("2025-06-02T17:00:00Z"), index: 0 });
    expect(dueScheduledAction([startAt19, { ...startAt19 }], ...w)).toEqual({ action: "Start", at: at("2025-06-02T17:00:00Z"), index: 0 });
  });

  it("the next action is the earliest of several schedules, wherever it is listed", () => {
    const start15: ScheduleSpec = { ...start7, cron: "0 15 * * *" }; // 13:00Z in summer
    const stop14: ScheduleSpec = { ...stop19, cron: "0 14 * * *" }; // 12:00Z: not after now, so tomorrow
    const now = at("2025-06-02T12:00:00Z");
    expect(nextScheduledAction([stop19, start15, stop14], now)).toEqual({ action: "Start", at: at("2025-06-02T13:00:00Z"), index: 1 });
    expect(nextScheduledAction([stop14, stop19, start15], now)).toEqual({ action: "Start", at: at("2025-06-02T13:00:00Z"), index: 2 });
    // A disabled or unreadable earlier schedule does not count.
    expect(nextScheduledAction([{ ...start15, enabled: false }, stop19], now)).toEqual({ action: "Stop", at: at("2025-06-02T17:00:00Z"), index: 1 });
    expect(nextScheduledAction([{ ...start15, timeZone: "Not/AZone" }, stop19], now)?.index).toBe(1);
  });

  it("the next action: Stop wins a tie in either order", () => {
    const start19: ScheduleSpec = { ...start7, cron: "0 19 * * *" };
    const now = at("2025-06-02T12:00:00Z");
    expect(nextScheduledAction([start19, stop19], now)).toEqual({ action: "Stop", at: at("2025-06-02T17:00:00Z"), index: 1 });
    expect(nextScheduledAction([stop19, start19], now)).toEqual({ action: "Stop", at: at("2025-06-02T17:00:00Z"), index: 0 });
  });

  it("a catch-up over several due runs picks the latest, wherever it is listed", () => {
    const stop21: ScheduleSpec = { ...stop19, cron: "0 21 * * *" }; // 19:00Z
    const from = at("2025-06-02T04:00:00Z");
    const to = at("2025-06-02T20:00:00Z"); // start 05:00Z, stop 17:00Z and stop 19:00Z are all due
    expect(dueScheduledAction([stop21, start7, stop19], from, to)).toEqual({ action: "Stop", at: at("2025-06-02T19:00:00Z"), index: 0 });
    expect(dueScheduledAction([start7, stop19, stop21], from, to)).toEqual({ action: "Stop", at: at("2025-06-02T19:00:00Z"), index: 2 });
    // A later Start wins over an earlier Stop.
    const to2 = at("2025-06-03T06:00:00Z"); // stop 19:00Z, then start 05:00Z the next day
    expect(dueScheduledAction([start7, stop21], from, to2)).toEqual({ action: "Start", at: at("2025-06-03T05:00:00Z"), index: 0 });
  });

  it("a catch-up tie: Stop wins in either order", () => {
    const startAt19: ScheduleSpec = { ...start7, cron: "0 19 * * *" };
    const from = at("2025-06-02T16:00:00Z");
    const to = at("2025-06-02T18:00:00Z");
    expect(dueScheduledAction([stop19, startAt19], from, to)).toEqual({ action: "Stop", at: at("2025-06-02T17:00:00Z"), index: 0 });
    expect(dueScheduledAction([startAt19, stop19], from, to)).toEqual({ action: "Stop", at: at("2025-06-02T17:00:00Z"), index: 1 });
  });

  it("next scheduled action for the API", () => {
    expect(nextScheduledAction([stop19, start7], at("2025-06-02T12:00:00Z"))).toEqual({ action: "Stop", at: at("2025-06-02T17:00:00Z"), index: 0 });
    expect(nextScheduledAction([{ ...stop19, enabled: false }], at("2025-06-02T12:00:00Z"))).toBeNull();
  });
});
