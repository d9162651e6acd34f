import { describe, expect, it } from "vitest";
import { autoStopDecision, autoStopView, idleStatus, type IdleInstance } from "../../shared/idle";
import { orchestrationIds } from "../../shared/ids";

const settings = { idleShutdownMinMinutes: 15 };
const now = new Date("2025-06-02T12:00:00Z");
const minutesAgo = (m: number) => new Date(now.getTime() - m * 60_000).toISOString();
const inst = (over: Partial<IdleInstance> = {}): IdleInstance => ({ state: "Running", idleShutdownMinutes: 60, lastActivityAt: minutesAgo(61), ...over });
const none = { queued: 0, running: 0 };

describe("idle status explains itself", () => {
  it.each<[string, IdleInstance, { queued: number; running: number }, boolean, string[]]>([
    ["idle past its timeout", inst(), none, true, []],
    ["counting down", inst({ lastActivityAt: minutesAgo(3) }), none, false, ["activity 3 min ago (idle shutdown after 60 min)"]],
    ["jobs running", inst(), { queued: 0, running: 2 }, false, ["2 jobs running"]],
    ["one job queued", inst(), { queued: 1, running: 0 }, false, ["1 job queued"]],
    ["stopped", inst({ state: "Stopped" }), none, false, ["state is Stopped"]],
    ["idle shutdown off", inst({ idleShutdownMinutes: null }), none, false, ["idle shutdown is off"]],
    ["no activity recorded", inst({ lastActivityAt: null }), none, false, ["no activity recorded yet"]],
    ["several reasons at once", inst({ state: "JobRunning", idleShutdownMinutes: null }), { queued: 3, running: 1 }, false, ["1 job running", "3 jobs queued", "idle shutdown is off"]],
    ["exactly at the timeout", inst({ lastActivityAt: minutesAgo(60) }), none, true, []],
  ])("%s", (_case, instance, jobs, idle, reasons) => {
    const s = idleStatus(instance, jobs, now, settings);
    expect(s.idle).toBe(idle);
    expect(s.notIdleBecause).toEqual(reasons);
  });

  it("reports idleSince and idleShutdownAt during the countdown", () => {
    expect(idleStatus(inst({ lastActivityAt: minutesAgo(3) }), none, now, settings)).toMatchObject({
      idleSince: "2025-06-02T11:57:00.000Z",
      idleShutdownAt: "2025-06-02T12:57:00.000Z",
    });
  });

  it("a raised policy minimum lengthens an older, shorter timeout", () => {
    const s = idleStatus(inst({ idleShutdownMinutes: 15, lastActivityAt: minutesAgo(20) }), none, now, { idleShutdownMinMinutes: 30 });
    expect(s.idle).toBe(false);
    expect(s.idleShutdownAt).toBe("2025-06-02T12:10:00.000Z");
  });
});

describe("auto-stop decisions", () => {
  const stop19 = { action: "Stop" as const, cron: "0 19 * * *", timeZone: "Europe/Stockholm", enabled: true };
  const start7 = { action: "Start" as const, cron: "0 7 * * 1-5", timeZone: "Europe/Stockholm", enabled: true };
  const tick = new Date("2025-06-02T17:00:00.050Z"); // 19:00:00.050 CEST, Monday
  const prevTick = new Date("2025-06-02T16:59:00.040Z");

  it("a due Stop schedule stops a running instance, even with jobs", () => {
    const d = autoStopDecision({ ...inst({ lastActivityAt: minutesAgo(0) }), schedules: [stop19] }, { queued: 0, running: 1 }, tick, prevTick, settings);
    expect(d.act).toEqual({ action: "Stop", dueMinute: new Date("2025-06-02T17:00:00Z"), source: "schedule", reason: expect.stringContaining("schedule 0") });
  });

  it("a due Stop on a stopped instance does nothing and says why", () => {
    const d = autoStopDecision({ ...inst({ state: "Stopped" }), schedules: [stop19] }, none, tick, prevTick, settings);
    expect(d.act).toBeNull();
    expect(d.reasons[0]).toMatch(/is due but the instance is Stopped/);
  });

  it("a due Start starts a stopped instance", () => {
    const t = new Date("2025-06-03T05:00:00.010Z");
    const d = autoStopDecision({ ...inst({ state: "Stopped" }), schedules: [start7] }, none, t, new Date("2025-06-03T04:59:00Z"), settings);
    expect(d.act?.action).toBe("Start");
  });

  it("idle shutdown fires with a due minute that repeated ticks agree on", () => {
    const i = inst({ lastActivityAt: "2025-06-02T10:58:30.000Z" });
    const a = autoStopDecision(i, none, now, new Date(now.getTime() - 60_000), settings);
    const b = autoStopDecision(i, none, new Date(now.getTime() + 60_000), now, settings);
    expect(a.act).toMatchObject({ action: "Stop", source: "idle", dueMinute: new Date("2025-06-02T11:58:00Z") });
    expect(orchestrationIds.autoStop("x", "Stop", a.act!.dueMinute)).toBe(orchestrationIds.autoStop("x", "Stop", b.act!.dueMinute));
  });

  it("never idles out an instance with a running job", () => {
    const d = autoStopDecision(inst(), { queued: 0, running: 1 }, now, undefined, settings);
    expect(d).toEqual({ act: null, reasons: ["1 job running"] });
  });

  it("after downtime, catches up once; without a previous tick, only the current minute counts", () => {
    const i = { ...inst({ idleShutdownMinutes: null }), schedules: [stop19] };
    const later = new Date("2025-06-02T20:00:00Z");
    expect(autoStopDecision(i, none, later, new Date("2025-06-02T16:00:00Z"), settings).act?.dueMinute).toEqual(new Date("2025-06-02T17:00:00Z"));
    expect(autoStopDecision(i, none, later, undefined, settings).act).toBeNull();
  });

  it("does not act on runs older than the catch-up limit (24 h)", () => {
    const i = { ...inst({ idleShutdownMinutes: null }), schedules: [{ ...stop19, cron: "0 19 2 6 *" }] }; // only on June 2
    const d = autoStopDecision(i, none, new Date("2025-06-05T12:00:00Z"), new Date("2025-06-02T16:00:00Z"), settings);
    expect(d.act).toBeNull();
  });

  it("the first tick (no previous tick) fires a run due 30 s ago, but not one due 61 s ago", () => {
    const i = { ...inst({ idleShutdownMinutes: null }), schedules: [stop19] }; // 17:00Z
    const d = autoStopDecision(i, none, new Date("2025-06-02T17:00:30Z"), undefined, settings);
    expect(d.act).toEqual({
      action: "Stop",
      dueMinute: new Date("2025-06-02T17:00:00Z"),
      source: "schedule",
      reason: "schedule 0 (Stop at 2025-06-02T17:00:00.000Z) is due",
    });
    expect(autoStopDecision(i, none, new Date("2025-06-02T17:01:01Z"), undefined, settings).act).toBeNull();
  });

  it("catches up a run just inside the 24 h limit, not one just outside", () => {
    const i = { ...inst({ idleShutdownMinutes: null }), schedules: [stop19] }; // 17:00Z daily
    const longAgo = new Date("2025-06-01T00:00:00Z");
    expect(autoStopDecision(i, none, new Date("2025-06-03T16:59:00Z"), longAgo, settings).act?.dueMinute).toEqual(new Date("2025-06-02T17:00:00Z"));
    // 2025-06-03T17:00:01Z: yesterday's run is 24 h + 1 s ago and today's is the one due.
    expect(autoStopDecision(i, none, new Date("2025-06-03T17:00:01Z"), longAgo, settings).act?.dueMinute).toEqual(new Date("2025-06-03T17:00:00Z"));
    const onlyJune2 = { ...i, schedules: [{ ...stop19, cron: "0 19 2 6 *" }] };
    expect(autoStopDecision(onlyJune2, none, new Date("2025-06-03T17:00:01Z"), longAgo, settings).act).toBeNull();
  });

  it.each<[IdleInstance["state"], boolean]>([
    ["Running", true],
    ["JobRunning", true],
    ["SetupFailed", true],
    ["Stopped", false],
    ["Unknown", false],
    ["Starting", false],
  ])("a due Stop schedule on a %s instance acts: %s", (state, acts) => {
    const d = autoStopDecision({ ...inst({ state, idleShutdownMinutes: null }), schedules: [stop19] }, none, tick, prevTick, settings);
    expect(d.act?.action ?? null).toBe(acts ? "Stop" : null);
    if (!acts) expect(d.reasons[0]).toBe(`schedule 0 (Stop at 2025-06-02T17:00:00.000Z) is due but the instance is ${state}`);
  });

  it.each<[IdleInstance["state"], boolean]>([
    ["Stopped", true],
    ["Running", false],
    ["Unknown", false],
    ["Stopping", false],
  ])("a due Start schedule on a %s instance acts: %s", (state, acts) => {
    const start19 = { ...stop19, action: "Start" as const };
    const d = autoStopDecision({ ...inst({ state, idleShutdownMinutes: null }), schedules: [start19] }, none, tick, prevTick, settings);
    expect(d.act?.action ?? null).toBe(acts ? "Start" : null);
  });

  it("idle shutdown stops a JobRunning instance whose jobs have ended, and says why", () => {
    const d = autoStopDecision(inst({ state: "JobRunning", lastActivityAt: "2025-06-02T10:58:30.000Z" }), none, now, undefined, settings);
    expect(d).toEqual({
      act: {
        action: "Stop",
        dueMinute: new Date("2025-06-02T11:58:00Z"),
        source: "idle",
        reason: "idle since 2025-06-02T10:58:30.000Z (idle shutdown after 60 min)",
      },
      reasons: [],
    });
  });

  it("a due schedule that does not apply still lets idle shutdown act, and keeps its reason", () => {
    const start19 = { ...stop19, action: "Start" as const };
    const d = autoStopDecision({ ...inst(), schedules: [start19] }, none, tick, prevTick, settings);
    expect(d.act).toMatchObject({ action: "Stop", source: "idle" });
    expect(d.reasons).toEqual(["schedule 0 (Start at 2025-06-02T17:00:00.000Z) is due but the instance is Running"]);
  });

  it("activity recorded in the future counts as just now", () => {
    const s = idleStatus(inst({ lastActivityAt: new Date(now.getTime() + 90_000).toISOString() }), none, now, settings);
    expect(s.notIdleBecause).toEqual(["activity 0 min ago (idle shutdown after 60 min)"]);
  });

  it("reports idleSince (but no deadline) while idle shutdown is off, and one job in the singular", () => {
    expect(idleStatus(inst({ idleShutdownMinutes: null }), none, now, settings)).toEqual({
      idle: false,
      idleSince: "2025-06-02T10:59:00.000Z",
      notIdleBecause: ["idle shutdown is off"],
    });
    expect(idleStatus(inst(), { queued: 0, running: 1 }, now, settings).notIdleBecause).toEqual(["1 job running"]);
    expect(idleStatus(inst(), { queued: 2, running: 0 }, now, settings)).toEqual({ idle: false, notIdleBecause: ["2 jobs queued"] });
  });

  it("the API's autoStop view of an idle instance with no schedules has no extra fields but the stop's warning", () => {
    expect(autoStopView(inst(), none, now, settings)).toEqual({
      idle: true,
      idleSince: "2025-06-02T10:59:00.000Z",
      idleShutdownAt: "2025-06-02T11:59:00.000Z",
      warning: { action: "Stop", source: "idle", at: "2025-06-02T11:59:00.000Z", message: expect.stringContaining("Idle") },
    });
    expect(autoStopView(inst({ state: "Stopped", lastActivityAt: null }), none, now, settings)).toEqual({ idle: false, notIdleBecause: ["state is Stopped"] });
  });

  it("builds the API's autoStop view", () => {
    const v = autoStopView({ ...inst({ lastActivityAt: minutesAgo(3) }), schedules: [stop19] }, none, now, settings);
    expect(v).toEqual({
      idle: false,
      idleSince: "2025-06-02T11:57:00.000Z",
      idleShutdownAt: "2025-06-02T12:57:00.000Z",
      nextScheduledAction: { action: "Stop", at: "2025-06-02T17:00:00.000Z" },
      notIdleBecause: ["activity 3 min ago (idle shutdown after 60 min)"],
    });
  });
});
