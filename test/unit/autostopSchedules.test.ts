// What the README promises about DST, checked, and the per-schedule next-run cache the tick
// relies on for speed, checked against croner's own backward search.
import fc from "fast-check";
import { Cron } from "croner";
import { describe, expect, it } from "vitest";
import { latestOccurrenceBetween, nextOccurrence, occursBetween, type ScheduleSpec } from "../../shared/schedules";

function runs(cron: string, timeZone: string, from: string, to: string): string[] {
  const out: string[] = [];
  let t: Date | null = new Date(from);
  while ((t = nextOccurrence({ cron, timeZone }, t)) !== null && t < new Date(to)) out.push(t.toISOString().slice(0, 16));
  return out;
}

describe("DST rules as documented in shared/schedules.ts", () => {
  it.each<[string, string, string, string, string, string[]]>([
    // Stockholm: spring 2025-03-30 02:00→03:00 (01:00Z); autumn 2025-10-26 03:00→02:00 (01:00Z).
    ["fixed time in the gap fires once at the gap's end", "0 2 * * *", "Europe/Stockholm", "2025-03-29T22:00Z", "2025-03-30T06:00Z", ["2025-03-30T01:00"]],
    ["several fixed times in one gap collapse into one run", "0,30 2 * * *", "Europe/Stockholm", "2025-03-29T22:00Z", "2025-03-30T06:00Z", ["2025-03-30T01:00"]],
    ["a range is fixed-time: 02:30 moves to 03:00, 03:30 stays", "30 2-3 * * *", "Europe/Stockholm", "2025-03-29T22:00Z", "2025-03-30T06:00Z", ["2025-03-30T01:00", "2025-03-30T01:30"]],
    ["an interval inside the gap is skipped", "*/20 2 * * *", "Europe/Stockholm", "2025-03-29T22:00Z", "2025-03-30T06:00Z", []],
    ["fixed time in the repeated hour fires once, first occurrence", "0,30 2 * * *", "Europe/Stockholm", "2025-10-25T22:00Z", "2025-10-26T06:00Z", ["2025-10-26T00:00", "2025-10-26T00:30"]],
    ["an interval fires on both occurrences", "0 * * * *", "Europe/Stockholm", "2025-10-25T23:30Z", "2025-10-26T02:30Z", ["2025-10-26T00:00", "2025-10-26T01:00", "2025-10-26T02:00"]],
    // New York: spring 2025-03-09 02:00→03:00 (07:00Z); autumn 2025-11-02 02:00→01:00 (06:00Z).
    ["New York range over the repeated hour: 01:30 once (EDT), 02:30 EST", "30 1-2 * * *", "America/New_York", "2025-11-02T03:00Z", "2025-11-02T09:00Z", ["2025-11-02T05:30", "2025-11-02T07:30"]],
    ["New York 02:59 in the gap fires at 03:00 EDT", "59 2 * * *", "America/New_York", "2025-03-09T05:00Z", "2025-03-09T09:00Z", ["2025-03-09T07:00"]],
    ["last day of February in a leap year (L)", "59 23 L 2 *", "Europe/Stockholm", "2028-02-01T00:00Z", "2028-03-05T00:00Z", ["2028-02-29T22:59"]],
  ])("%s", (_case, cron, tz, from, to, expected) => {
    expect(runs(cron, tz, from, to)).toEqual(expected);
  });
});

describe("occursBetween (cached) agrees with croner's backward search", () => {
  const specs: ScheduleSpec[] = [
    { action: "Stop", cron: "30 2 * * *", timeZone: "Europe/Stockholm" },
    { action: "Stop", cron: "0 * * * *", timeZone: "Europe/Stockholm" },
    { action: "Start", cron: "30 1-2 * * *", timeZone: "America/New_York" },
    { action: "Stop", cron: "*/7 * * * *", timeZone: "America/New_York" },
    { action: "Stop", cron: "0 0 29 2 *", timeZone: "Europe/Stockholm" },
    { action: "Stop", cron: "0 19 * * 1-5", timeZone: "Asia/Kolkata" },
  ];
  // Backward from the whole second after `to`: the latest run not after `to` decides.
  const reference = (s: ScheduleSpec, from: number, to: number): boolean => {
    const runs = new Cron(s.cron, { mode: "5-part", timezone: s.timeZone, fixedTimeRule: "no-wildcard", paused: true }).previousRuns(3, new Date(Math.floor(to / 1000) * 1000 + 1000));
    const prev = runs.find((d) => d.getTime() <= to);
    return prev !== undefined && prev.getTime() > from;
  };
  // Instants around DST changes and a leap day, so the cache is exercised where it matters.
  const anchors = ["2025-03-30T00:00:00Z", "2025-10-26T00:00:00Z", "2025-03-09T06:00:00Z", "2025-11-02T05:00:00Z", "2028-02-28T22:00:00Z"].map(Date.parse);

  it("a window ending just before a run still sees the earlier runs in it (regression)", () => {
    const every7 = specs[3] as ScheduleSpec;
    const from = new Date("2025-03-30T02:17:59.001Z");
    const to = new Date("2025-03-30T02:55:59.001Z"); // the next run, 02:56:00, is 1 ms after to + 1 s
    expect(occursBetween(every7, from, to)).toBe(true);
    expect(latestOccurrenceBetween(every7, from, to)?.toISOString()).toBe("2025-03-30T02:49:00.000Z");
    expect(latestOccurrenceBetween(every7, from, new Date("2025-03-30T02:56:00.000Z"))?.toISOString()).toBe("2025-03-30T02:56:00.000Z");
  });

  it("for sequences of windows, moving forward and jumping back", () => {
    fc.assert(
      fc.property(
        fc.constantFrom(...specs),
        fc.constantFrom(...anchors),
        fc.array(fc.tuple(fc.integer({ min: -60, max: 240 }), fc.integer({ min: 0, max: 120 }), fc.integer({ min: 0, max: 59_999 })), { minLength: 1, maxLength: 12 }),
        (spec, anchor, windows) => {
          for (const [startMin, lenMin, ms] of windows) {
            const from = anchor + startMin * 60_000 + ms;
            const to = from + lenMin * 60_000;
            const expected = reference(spec, from, to);
            expect(occursBetween(spec, new Date(from), new Date(to))).toBe(expected);
            expect(latestOccurrenceBetween(spec, new Date(from), new Date(to)) !== null).toBe(expected);
          }
        },
      ),
      { numRuns: 300 },
    );
  });
});
