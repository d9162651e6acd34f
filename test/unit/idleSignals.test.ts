// Idle that sees real use: the agent's busy signals hold idle shutdown off while they are
// fresh; a warning shows before an idle or scheduled stop; postpone moves either back.
import { describe, expect, it } from "vitest";
import { autoStopDecision, autoStopView, idleStatus, postponeAutoStop, type AutoStopInstance } from "../../shared/idle";
import { applySignals, signalsNeedWrite } from "../../shared/instances/agentSignals";
import type { InstanceRecord } from "../../shared/instances/record";
import { planTick } from "../../shared/autostop/plan";
import { gpuReasons } from "../../agent/workstation/busy";

const settings = { idleShutdownMinMinutes: 15, autostopWarningMinutes: 10 };
const now = new Date("2025-06-02T12:00:00Z");
const at = (minutes: number) => new Date(now.getTime() + minutes * 60_000).toISOString();
const none = { queued: 0, running: 0 };
const inst = (over: Partial<AutoStopInstance> = {}): AutoStopInstance => ({ state: "Running", idleShutdownMinutes: 60, lastActivityAt: at(-61), ...over });
const busy = (reasons: string[], validFor = 3) => ({ reportedAt: at(-1), validUntil: at(validFor), busy: reasons });

describe("busy signals", () => {
  it("fresh signals keep an instance past its idle timeout from stopping, and say why", () => {
    const s = idleStatus(inst({ signals: busy(["kernel busy in train.ipynb", "GPU 0: 87 % used"]) }), none, now, settings);
    expect(s.idle).toBe(false);
    expect(s.notIdleBecause).toEqual(["kernel busy in train.ipynb", "GPU 0: 87 % used"]);
    expect(s.idleShutdownAt).toBeUndefined();
    expect(autoStopDecision(inst({ signals: busy(["probe: training"]) }), none, now, new Date(now.getTime() - 60_000), settings).act).toBeNull();
  });

  it("stale signals (the agent stopped reporting) hold nothing", () => {
    const s = idleStatus(inst({ signals: busy(["kernel busy in train.ipynb"], -1) }), none, now, settings);
    expect(s.idle).toBe(true);
    expect(s.notIdleBecause).toEqual([]);
  });

  it("an empty report holds nothing", () => {
    expect(idleStatus(inst({ signals: busy([]) }), none, now, settings).idle).toBe(true);
  });

  it("a busy report is use: the idle clock starts again when the last signal ends", () => {
    const rec = { name: "a", state: "Running", idleShutdownMinutes: 60, lastActivityAt: at(-61) } as unknown as InstanceRecord;
    const after = applySignals(rec, { busy: ["terminal: python train.py running"] }, now, 60);
    expect(after.lastActivityAt).toBe(now.toISOString());
    expect(after.signals).toEqual({ reportedAt: now.toISOString(), validUntil: at(3), busy: ["terminal: python train.py running"] });
    const quiet = applySignals(rec, { busy: [] }, now, 60);
    expect(quiet.lastActivityAt).toBe(at(-61));
  });

  it("a steady report skips the write of the shared instance row; a change, an end or a lapse writes", () => {
    const rec = { name: "a", state: "Running", idleShutdownMinutes: 60 } as unknown as InstanceRecord;
    const report = { busy: ["probe: x"] };
    const written = applySignals(rec, report, now, 60);
    const later = (s: number) => new Date(now.getTime() + s * 1000);
    expect(signalsNeedWrite(rec, report, now, 60)).toBe(true);
    expect(signalsNeedWrite(written, report, later(30), 60)).toBe(false);
    expect(signalsNeedWrite(written, report, later(61), 60)).toBe(true); // under two intervals left: renew
    expect(signalsNeedWrite(written, { busy: ["probe: y"] }, later(30), 60)).toBe(true);
    expect(signalsNeedWrite(written, { busy: [] }, later(30), 60)).toBe(true);
    const quiet = applySignals(written, { busy: [] }, later(30), 60);
    expect(quiet.lastActivityAt).toBe(later(30).toISOString()); // the end of the busy spell is use too
    expect(signalsNeedWrite(quiet, { busy: [] }, later(60), 60)).toBe(false);
    expect(signalsNeedWrite(quiet, { busy: [], proxy: { url: "http://10.0.0.4:8890" }, applications: [] }, later(60), 60)).toBe(true);
  });

  it("the tick reads signals from the record and ignores malformed ones", () => {
    const base = { name: "a", state: "Running" as const, idleShutdownMinutes: 60, lastActivityAt: at(-61) };
    const tick = { now, lastTick: new Date(now.getTime() - 60_000) };
    expect(planTick([{ ...base, signals: busy(["probe: x"]) }], tick, settings).actions).toEqual([]);
    expect(planTick([{ ...base, signals: { busy: "yes" } as never }], tick, settings).actions).toHaveLength(1);
  });

  it("GPU utilisation at or above the threshold is use", () => {
    expect(gpuReasons("0, 87\n1, 3\n", 10)).toEqual(["GPU 0: 87 % used"]);
    expect(gpuReasons("", 10)).toEqual([]);
    expect(gpuReasons("0, [N/A]\n", 10)).toEqual([]);
  });
});

describe("warning before a stop", () => {
  it("shows the idle stop once it is within the warning window, not before", () => {
    expect(autoStopView(inst({ lastActivityAt: at(-49) }), none, now, settings).warning).toBeUndefined();
    expect(autoStopView(inst({ lastActivityAt: at(-51) }), none, now, settings).warning).toMatchObject({ action: "Stop", source: "idle", at: at(9) });
  });

  it("shows a scheduled stop within the window, also with jobs running", () => {
    const stopAt = new Date(now.getTime() + 5 * 60_000);
    const schedules = [{ action: "Stop" as const, cron: `${stopAt.getUTCMinutes()} ${stopAt.getUTCHours()} * * *`, timeZone: "UTC" }];
    expect(autoStopView(inst({ idleShutdownMinutes: null, schedules }), { queued: 0, running: 1 }, now, settings).warning).toMatchObject({ source: "schedule", at: at(5) });
    expect(autoStopView(inst({ idleShutdownMinutes: null, schedules }), none, now, { ...settings, autostopWarningMinutes: 4 }).warning).toBeUndefined();
  });

  it("no warning on a stopped instance or while signals hold", () => {
    expect(autoStopView(inst({ state: "Stopped", lastActivityAt: at(-55) }), none, now, settings).warning).toBeUndefined();
    expect(autoStopView(inst({ lastActivityAt: at(-55), signals: busy(["probe: x"]) }), none, now, settings).warning).toBeUndefined();
  });
});

describe("postpone", () => {
  it("moves an idle stop back by the idle timeout", () => {
    const change = postponeAutoStop(inst({ lastActivityAt: at(-55) }), none, now, settings);
    expect(change).toEqual({ lastActivityAt: now.toISOString() });
    expect(autoStopView(inst({ lastActivityAt: change!.lastActivityAt! }), none, now, settings)).toMatchObject({ idleShutdownAt: at(60) });
  });

  it("has nothing to postpone when no stop is near", () => {
    expect(postponeAutoStop(inst({ lastActivityAt: at(-5) }), none, now, settings)).toBeNull();
  });

  it("moves a scheduled stop: the run is skipped, the postponed stop fires once at its new time", () => {
    const stopAt = new Date(now.getTime() + 5 * 60_000);
    const schedules = [{ action: "Stop" as const, cron: `${stopAt.getUTCMinutes()} ${stopAt.getUTCHours()} * * *`, timeZone: "UTC" }];
    const i = inst({ idleShutdownMinutes: 30, lastActivityAt: at(0), schedules });
    const change = postponeAutoStop(i, none, now, settings);
    expect(change).toEqual({ stopPostponed: { scheduledAt: at(5), until: at(35) } });
    const moved = { ...i, ...change };
    expect(autoStopView(moved, none, now, settings)).toMatchObject({ nextScheduledAction: { action: "Stop", at: at(35), postponed: true } });
    expect(autoStopView(moved, none, now, settings).warning).toBeUndefined();
    // The schedule's own minute: nothing (it was postponed), and the tick says so.
    const atRun = new Date(stopAt.getTime() + 50);
    const skipped = autoStopDecision({ ...moved, lastActivityAt: atRun.toISOString() }, none, atRun, new Date(atRun.getTime() - 60_000), settings);
    expect(skipped.act).toBeNull();
    expect(skipped.reasons[0]).toMatch(/postponed to/);
    // Its new time: a stop, as a schedule action.
    const later = new Date(now.getTime() + 35 * 60_000 + 50);
    const due = autoStopDecision({ ...moved, lastActivityAt: later.toISOString() }, none, later, new Date(later.getTime() - 60_000), settings);
    expect(due.act).toMatchObject({ action: "Stop", source: "schedule", dueMinute: new Date(at(35)) });
    // Postponing the postponed stop again keeps naming the schedule run.
    const again = postponeAutoStop(moved, none, new Date(now.getTime() + 30 * 60_000), settings);
    expect(again?.stopPostponed).toEqual({ scheduledAt: at(5), until: at(65) });
  });
});

// The edges of the warning and postpone rules, with the answers written out.
describe("warning and postpone: stated answers", () => {
  const stopIn = (minutes: number) => {
    const t = new Date(now.getTime() + minutes * 60_000);
    return { action: "Stop" as const, cron: `${t.getUTCMinutes()} ${t.getUTCHours()} * * *`, timeZone: "UTC" };
  };
  const yesterday = (minutes: number) => new Date(now.getTime() - 24 * 3_600_000 + minutes * 60_000).toISOString();

  it("warns at the very edge of the window, with the stop's own words", () => {
    expect(autoStopView(inst({ lastActivityAt: at(-50) }), none, now, settings).warning).toEqual({
      action: "Stop",
      source: "idle",
      at: at(10),
      message: `Idle: stops at ${at(10)} unless it is used or postponed.`,
    });
    expect(autoStopView(inst({ idleShutdownMinutes: null, schedules: [stopIn(10)] }), none, now, settings).warning).toEqual({
      action: "Stop",
      source: "schedule",
      at: at(10),
      message: `Scheduled stop at ${at(10)}; postpone to keep working.`,
    });
  });

  it("the sooner of an idle and a scheduled stop is the warning", () => {
    const view = autoStopView(inst({ lastActivityAt: at(-51), schedules: [stopIn(5)] }), none, now, settings);
    expect(view.warning).toMatchObject({ source: "schedule", at: at(5) });
    const postpone = postponeAutoStop(inst({ lastActivityAt: at(-51), schedules: [stopIn(5)] }), none, now, settings);
    expect(postpone).toEqual({ lastActivityAt: now.toISOString(), stopPostponed: { scheduledAt: at(5), until: at(65) } });
  });

  it("no warning for a scheduled stop of an instance that is not running", () => {
    expect(autoStopView(inst({ state: "Stopped", schedules: [stopIn(5)] }), none, now, settings).warning).toBeUndefined();
    expect(postponeAutoStop(inst({ state: "Stopped", schedules: [stopIn(5)] }), none, now, settings)).toBeNull();
  });

  it("signals that lapse exactly now hold nothing", () => {
    expect(idleStatus(inst({ signals: busy(["gpu: 90 %"], 0) }), none, now, settings)).toMatchObject({ idle: true, notIdleBecause: [] });
  });

  it("an old postponement does not touch today's run: it warns, postpones and stops as scheduled", () => {
    const old = { scheduledAt: yesterday(5), until: yesterday(35) };
    const i = inst({ idleShutdownMinutes: 30, lastActivityAt: at(0), schedules: [stopIn(5)], stopPostponed: old });
    expect(autoStopView(i, none, now, settings)).toMatchObject({ nextScheduledAction: { action: "Stop", at: at(5) } });
    expect(autoStopView(i, none, now, settings).nextScheduledAction).not.toHaveProperty("postponed");
    expect(postponeAutoStop(i, none, now, settings)).toEqual({ stopPostponed: { scheduledAt: at(5), until: at(35) } });
    const atRun = new Date(now.getTime() + 5 * 60_000 + 50);
    expect(autoStopDecision({ ...i, lastActivityAt: atRun.toISOString() }, none, atRun, new Date(atRun.getTime() - 60_000), settings).act).toMatchObject({
      action: "Stop",
      source: "schedule",
      reason: `schedule 0 (Stop at ${at(5)}) is due`,
    });
  });

  it("a postponed Stop does not hide a Start scheduled at the same minute", () => {
    const t = new Date(now.getTime() + 5 * 60_000);
    const start = { action: "Start" as const, cron: `${t.getUTCMinutes()} ${t.getUTCHours()} * * *`, timeZone: "UTC" };
    const i = inst({ state: "Stopped", schedules: [start], stopPostponed: { scheduledAt: at(5), until: at(35) } });
    const atRun = new Date(t.getTime() + 50);
    expect(autoStopDecision(i, none, atRun, new Date(atRun.getTime() - 60_000), settings).act).toMatchObject({ action: "Start", source: "schedule" });
  });

  it("a postponed stop shows until an earlier scheduled stop comes first; at the same instant it shows as postponed", () => {
    const later = inst({ idleShutdownMinutes: null, schedules: [stopIn(20)], stopPostponed: { scheduledAt: yesterday(0), until: at(35) } });
    expect(autoStopView(later, none, now, settings).nextScheduledAction).toEqual({ action: "Stop", at: at(20) });
    const same = inst({ idleShutdownMinutes: null, schedules: [stopIn(35)], stopPostponed: { scheduledAt: yesterday(0), until: at(35) } });
    expect(autoStopView(same, none, now, settings).nextScheduledAction).toEqual({ action: "Stop", at: at(35), postponed: true });
    const lapsed = inst({ idleShutdownMinutes: null, stopPostponed: { scheduledAt: yesterday(0), until: now.toISOString() } });
    expect(autoStopView(lapsed, none, now, settings).nextScheduledAction).toBeUndefined();
  });

  it("the postponed stop fires in the tick whose window (previous tick, now] holds its time, and only then", () => {
    const postponed = { scheduledAt: at(-30), until: at(0) };
    const i = inst({ idleShutdownMinutes: null, stopPostponed: postponed });
    const tick = (nowAt: Date, last: Date) => autoStopDecision(i, none, nowAt, last, settings).act;
    expect(tick(now, new Date(now.getTime() - 60_000))).toEqual({
      action: "Stop",
      dueMinute: now,
      source: "schedule",
      reason: `the scheduled stop of ${at(-30)}, postponed to ${at(0)}, is due`,
    });
    expect(tick(new Date(now.getTime() + 60_000), now)).toBeNull(); // the previous tick acted
    expect(tick(new Date(now.getTime() - 1), new Date(now.getTime() - 60_000))).toBeNull(); // not yet
    expect(autoStopDecision({ ...i, state: "Stopped" }, none, now, new Date(now.getTime() - 60_000), settings).act).toBeNull();
  });
});

describe("the tick's reading of stored signals and postponements", () => {
  const record = { name: "a", state: "Running" as const, idleShutdownMinutes: 60, lastActivityAt: at(-61) };
  const tick = { now, lastTick: new Date(now.getTime() - 60_000) };

  it.each<[string, unknown]>([
    ["no signals", null],
    ["validUntil not a string", { validUntil: 5, reportedAt: at(-1), busy: ["probe: x"] }],
    ["validUntil a list holding a time", { validUntil: [at(3)], reportedAt: at(-1), busy: ["probe: x"] }],
    ["reportedAt not a string", { validUntil: at(3), reportedAt: null, busy: ["probe: x"] }],
    ["busy not a list", { validUntil: at(3), reportedAt: at(-1), busy: "probe: x" }],
    ["a busy entry not a string", { validUntil: at(3), reportedAt: at(-1), busy: ["probe: x", 3] }],
  ])("malformed signals (%s) hold nothing: the idle instance stops", (_case, signals) => {
    expect(planTick([{ ...record, signals: signals as never }], tick, settings).actions).toHaveLength(1);
  });

  it("a stored postponement skips its schedule run; a malformed one is ignored", () => {
    const schedules = [{ action: "Stop" as const, cron: `${now.getUTCMinutes()} ${now.getUTCHours()} * * *`, timeZone: "UTC" }];
    const r = { ...record, idleShutdownMinutes: null, lastActivityAt: at(0), schedules };
    expect(planTick([{ ...r, stopPostponed: { scheduledAt: at(0), until: at(30) } }], tick, settings).actions).toEqual([]);
    for (const bad of [{ scheduledAt: at(0), until: "soon" }, { scheduledAt: 0, until: at(30) }, { scheduledAt: [at(0)], until: at(30) }, { scheduledAt: at(0) }, null]) {
      expect(planTick([{ ...r, stopPostponed: bad as never }], tick, settings).actions, JSON.stringify(bad)).toHaveLength(1);
    }
  });
});
