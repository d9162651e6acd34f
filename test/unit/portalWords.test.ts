// The portal's plain-language texts (portal/src/words.ts): auto-stop, schedule previews, quota.
import { describe, expect, it } from "vitest";
import { autoStopWords, jobsWords, overQuota, previewRuns, quotaLeft, timeIn, warningWords } from "../../portal/src/words";

const NOW = new Date("2026-12-01T12:00:00Z"); // 13:00 in Stockholm (CET)

describe("autoStopWords", () => {
  const stopAt19 = { action: "Stop" as const, cron: "0 19 * * *", timeZone: "Europe/Stockholm", enabled: true };

  it("names the scheduled stop in the schedule's own zone, and why the instance is not idle", () => {
    const words = autoStopWords(
      {
        schedules: [stopAt19],
        idleShutdownMinutes: 60,
        autoStop: { nextScheduledAction: { action: "Stop", at: "2026-12-01T18:00:00.000Z" }, notIdleBecause: ["1 job running"] },
      },
      NOW,
    );
    expect(words).toEqual(["Stops at 19:00 Europe/Stockholm (schedule)", "Not idle: 1 job running"]);
  });

  it("says tomorrow when the run is not today in that zone", () => {
    const [w] = autoStopWords(
      { schedules: [{ ...stopAt19, cron: "0 9 * * *", action: "Start" }], idleShutdownMinutes: null, autoStop: { nextScheduledAction: { action: "Start", at: "2026-12-02T08:00:00.000Z" } } },
      NOW,
    );
    expect(w).toBe("Starts tomorrow at 09:00 Europe/Stockholm (schedule)");
  });

  it("gives the idle shutdown time when idle, and 'off' alone as such", () => {
    expect(autoStopWords({ schedules: [], idleShutdownMinutes: 30, autoStop: { idle: true, idleSince: "2026-12-01T11:50:00Z", idleShutdownAt: "2026-12-01T12:20:00Z" } }, NOW)[0]).toMatch(
      /^Idle since \d\d:50: stops at \d\d:20 unless used$/,
    );
    expect(autoStopWords({ schedules: [], idleShutdownMinutes: null, autoStop: { notIdleBecause: ["idle shutdown is off"] } }, NOW)).toEqual(["Idle shutdown is off"]);
  });
});

describe("warningWords", () => {
  const stopAt1308 = { action: "Stop" as const, cron: "8 13 * * *", timeZone: "Europe/Stockholm", enabled: true };

  it("says when a scheduled stop comes, in the schedule's zone, and that a schedule does it", () => {
    const at = "2026-12-01T12:08:00.000Z";
    const inst = { schedules: [stopAt1308], autoStop: { nextScheduledAction: { action: "Stop" as const, at }, warning: { action: "Stop" as const, source: "schedule" as const, at, message: "" } } };
    expect(warningWords(inst, NOW)).toBe("Stops at 13:08 Europe/Stockholm (in 8 min): a scheduled stop.");
  });

  it("says when an idle stop comes and since when the instance has been idle", () => {
    const inst = { schedules: [], autoStop: { idle: false, idleSince: "2026-12-01T11:05:00Z", idleShutdownAt: "2026-12-01T12:05:00Z", warning: { action: "Stop" as const, source: "idle" as const, at: "2026-12-01T12:05:00Z", message: "" } } };
    expect(warningWords(inst, NOW)).toMatch(/^Stops at \d\d:05 \(in 5 min\): idle since \d\d:05, nothing keeps it busy\.$/);
  });

  it("says 'now' for a stop already due, and nothing without a warning", () => {
    const inst = { schedules: [], autoStop: { warning: { action: "Stop" as const, source: "idle" as const, at: "2026-12-01T11:59:00Z", message: "" } } };
    expect(warningWords(inst, NOW)).toBe("Stops now: idle, nothing keeps it busy.");
    expect(warningWords({ schedules: [], autoStop: { idle: false } }, NOW)).toBeUndefined();
  });
});

describe("schedule preview", () => {
  it("lists the next runs as the auto-stop timer computes them, DST included", () => {
    const runs = previewRuns({ cron: "30 2 * * *", timeZone: "Europe/Stockholm" }, new Date("2027-03-27T12:00:00Z"), 2) as Date[];
    // 02:30 does not exist on 28 March 2027 (spring forward): it fires at 03:00 local = 01:00Z.
    expect(runs.map((d) => d.toISOString())).toEqual(["2027-03-28T01:00:00.000Z", "2027-03-29T00:30:00.000Z"]);
    expect(timeIn(runs[0]!, "Europe/Stockholm", new Date("2027-03-28T00:00:00Z"))).toBe("03:00");
  });

  it("explains a schedule that cannot run", () => {
    expect(previewRuns({ cron: "not cron", timeZone: "Europe/Stockholm" }, NOW)).toMatch(/^no run/);
    expect(previewRuns({ cron: "0 19 * * *", timeZone: "Mars/Olympus" }, NOW)).toMatch(/^no run/);
  });
});

describe("quota and jobs", () => {
  const size = { name: "Standard_D4s_v5", family: "standardDSv5Family", vCpus: 4, gpus: 0, memoryGb: 16 };
  it("disables a size with the reason only when its family has too little left", () => {
    expect(overQuota(size, [{ family: "standardDSv5Family", used: 7, limit: 10 }])).toBe("Needs 4 vCPUs; 3 of 10 left in standardDSv5Family");
    expect(overQuota(size, [{ family: "standardDSv5Family", used: 6, limit: 10 }])).toBeUndefined();
    expect(overQuota(size, [{ family: "standardDSv5Family", used: 6 }])).toBeUndefined();
    expect(quotaLeft(size, [{ family: "standardDSv5Family", used: 12, limit: 10 }])).toBe("0 of 10 vCPUs left");
  });
  it("counts jobs against the cap", () => {
    expect(jobsWords({ running: 1, queued: 0, cap: 4 })).toBe("1/4 running");
    expect(jobsWords({ running: 4, queued: 3, cap: 4 })).toBe("4/4 running, 3 queued");
  });
});
