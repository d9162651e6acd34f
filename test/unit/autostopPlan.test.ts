// The auto-stop tick with a fake clock: minute-by-minute ticks across DST changes, month ends
// and leap days; catch-up after downtime acts once; repeated ticks derive the same ids.
import { describe, expect, it } from "vitest";
import { planTick, previousTick, TickMemory, type AutoStopRecord } from "../../shared/autostop/plan";
import type { ScheduleSpec } from "../../shared/schedules";
import { World } from "./autostopWorld";

const sched = (action: "Start" | "Stop", cron: string, timeZone: string): ScheduleSpec => ({ action, cron, timeZone, enabled: true });
const STO = "Europe/Stockholm";
const NY = "America/New_York";
const base = (name: string, over: Partial<AutoStopRecord> = {}): AutoStopRecord => ({
  name, state: "Running", idleShutdownMinutes: null, lastActivityAt: null, schedules: [], jobs: { queued: 0, running: 0 }, ...over,
});

describe("schedules across DST with a tick every minute", () => {
  it.each<[string, ScheduleSpec[], string, string, string[]]>([
    [
      "Stockholm fall back: 02:30 stops once, at the first 02:30 (CEST)",
      [sched("Stop", "30 2 * * *", STO), sched("Start", "0 8 * * *", STO)],
      "2025-10-25T12:00:00Z", "2025-10-27T12:00:00Z",
      ["Stop gpu 2025-10-26T00:30Z", "Start gpu 2025-10-26T07:00Z", "Stop gpu 2025-10-27T01:30Z", "Start gpu 2025-10-27T07:00Z"],
    ],
    [
      "Stockholm spring forward: 02:30 does not exist and stops at 03:00 CEST",
      [sched("Stop", "30 2 * * *", STO), sched("Start", "0 8 * * *", STO)],
      "2025-03-29T12:00:00Z", "2025-03-31T12:00:00Z",
      ["Stop gpu 2025-03-30T01:00Z", "Start gpu 2025-03-30T06:00Z", "Stop gpu 2025-03-31T00:30Z", "Start gpu 2025-03-31T06:00Z"],
    ],
    [
      "New York spring forward: 02:15 fires at 03:00 EDT",
      [sched("Stop", "15 2 * * *", NY), sched("Start", "0 9 * * *", NY)],
      "2025-03-08T12:00:00Z", "2025-03-10T12:00:00Z",
      ["Stop gpu 2025-03-09T07:00Z", "Start gpu 2025-03-09T13:00Z", "Stop gpu 2025-03-10T06:15Z"],
    ],
    [
      "New York fall back: 01:30 stops once (EDT), the start at 01:45 too",
      [sched("Stop", "30 1 * * *", NY), sched("Start", "45 1 * * *", NY)],
      "2025-11-01T12:00:00Z", "2025-11-03T12:00:00Z",
      ["Stop gpu 2025-11-02T05:30Z", "Start gpu 2025-11-02T05:45Z", "Stop gpu 2025-11-03T06:30Z", "Start gpu 2025-11-03T06:45Z"],
    ],
    [
      "interval schedules follow real time: hourly stop fires on both 02:00s (Stockholm fall back)",
      [sched("Stop", "0 * * * *", STO), sched("Start", "30 * * * *", STO)],
      "2025-10-25T23:10:00Z", "2025-10-26T02:10:00Z",
      ["Stop gpu 2025-10-26T00:00Z", "Start gpu 2025-10-26T00:30Z", "Stop gpu 2025-10-26T01:00Z", "Start gpu 2025-10-26T01:30Z", "Stop gpu 2025-10-26T02:00Z"],
    ],
    [
      "leap day: Feb 29 only in a leap year, local midnight is the previous UTC day",
      [sched("Stop", "0 0 29 2 *", STO)],
      "2028-02-28T00:00:00Z", "2028-03-01T12:00:00Z",
      ["Stop gpu 2028-02-28T23:00Z"],
    ],
    [
      "month end: the 31st skips April, fires May 31",
      [sched("Stop", "0 18 31 * *", NY)],
      "2025-04-29T00:00:00Z", "2025-05-01T12:00:00Z",
      [],
    ],
    [
      "month end: the first of the month at local midnight",
      [sched("Stop", "0 0 1 * *", STO)],
      "2025-01-31T12:00:00Z", "2025-02-01T12:00:00Z",
      ["Stop gpu 2025-01-31T23:00Z"],
    ],
  ])("%s", async (_case, schedules, from, to, expected) => {
    const w = new World().add(base("gpu", { schedules }));
    await w.run(from, to);
    expect(w.actions()).toEqual(expected);
  });

  it("a disabled schedule never fires; a due Start on a running instance does nothing", async () => {
    const w = new World()
      .add(base("off", { schedules: [{ ...sched("Stop", "*/10 * * * *", STO), enabled: false }] }))
      .add(base("up", { schedules: [sched("Start", "*/10 * * * *", STO)] }));
    await w.run("2025-06-02T10:00:00Z", "2025-06-02T11:00:00Z");
    expect(w.acted).toEqual([]);
  });
});

describe("catch-up and repeated ticks", () => {
  const stop19 = sched("Stop", "0 19 * * *", STO); // 17:00Z in summer

  it("after downtime, the first tick acts once for the missed run (not once per missed minute)", async () => {
    const w = new World().add(base("gpu", { schedules: [stop19] }));
    await w.run("2025-06-02T15:00:00Z", "2025-06-02T16:00:00Z");
    // The host is down 16:00–20:00; the timer fires past due with scheduleStatus.last = 15:59.
    const s = await w.tick(new Date("2025-06-02T20:00:00Z"));
    expect(s.started).toBe(1);
    expect(w.acted).toMatchObject([{ action: "Stop", id: "autostop-gpu-stop-202506021700" }]);
    await w.run("2025-06-02T20:01:00Z", "2025-06-02T21:00:00Z");
    expect(w.acted).toHaveLength(1);
  });

  it("a catch-up over several days acts once, with the latest run", async () => {
    const w = new World().add(base("gpu", { state: "Stopped", schedules: [stop19, sched("Start", "0 7 * * *", STO)] }));
    await w.tick(new Date("2025-06-02T12:00:00Z"));
    await w.tick(new Date("2025-06-04T06:00:00Z")); // down for 42 h: only the last 24 h count, latest run is Start 05:00Z
    expect(w.actions()).toEqual(["Start gpu 2025-06-04T06:00Z"]);
    expect(w.acted[0]?.id).toBe("autostop-gpu-start-202506040500");
  });

  it("a repeated tick (or a second host) plans the same ids and acts once", async () => {
    const w = new World().add(base("gpu", { schedules: [stop19] })).add(base("idle", { idleShutdownMinutes: 30, lastActivityAt: "2025-06-02T16:10:20Z" }));
    const tick = new Date("2025-06-02T17:00:00Z");
    const last = new Date("2025-06-02T16:59:00Z");
    const records = [...w.records.values()];
    const a = planTick(records, { now: tick, lastTick: last }, w.settings);
    const b = planTick(records, { now: new Date(tick.getTime() + 900), lastTick: last }, w.settings);
    expect(a.actions.map((x) => x.orchestrationId).sort()).toEqual(["autostop-gpu-stop-202506021700", "autostop-idle-stop-202506021640"]);
    expect(b.actions.map((x) => x.orchestrationId)).toEqual(a.actions.map((x) => x.orchestrationId));

    // Two hosts run the same tick against the same world: the second finds the ids taken.
    const s1 = await w.tick(tick, { lastTick: last });
    const s2 = await w.tick(tick, { lastTick: last });
    expect([s1.started, s2.started, s2.skipped]).toEqual([2, 0, 0]); // the second sees Stopped instances: nothing planned
    expect(w.acted).toHaveLength(2);
  });

  it("the same due action planned twice while the state is unchanged is refused by its id", async () => {
    const w = new World().add(base("gpu", { schedules: [stop19] }));
    const a = planTick([w.get("gpu")], { now: new Date("2025-06-02T17:00:00.100Z"), lastTick: new Date("2025-06-02T16:59:00Z") }, w.settings).actions[0]!;
    expect(await w.act(a)).toEqual({ outcome: "started" });
    w.get("gpu").state = "Running"; // someone started it again within the minute
    expect(await w.act(a)).toEqual({ outcome: "skipped", why: "already acted" });
  });
});

describe("idle shutdown in ticks", () => {
  it("stops an idle instance once, at its idle deadline", async () => {
    const w = new World().add(base("idle", { idleShutdownMinutes: 15, lastActivityAt: "2025-06-02T10:00:30Z" }));
    await w.run("2025-06-02T10:00:00Z", "2025-06-02T11:00:00Z");
    expect(w.actions()).toEqual(["Stop idle 2025-06-02T10:16Z"]);
    expect(w.acted[0]?.id).toBe("autostop-idle-stop-202506021015");
  });

  it("never stops an instance with a running or queued job, and says nothing about it", async () => {
    const w = new World()
      .add(base("busy", { idleShutdownMinutes: 15, lastActivityAt: "2025-06-02T08:00:00Z", state: "JobRunning", jobs: { queued: 0, running: 1 } }))
      .add(base("queued", { idleShutdownMinutes: 15, lastActivityAt: "2025-06-02T08:00:00Z", jobs: { queued: 2, running: 0 } }));
    await w.run("2025-06-02T10:00:00Z", "2025-06-02T11:00:00Z");
    expect(w.acted).toEqual([]);
    w.get("busy").jobs = { queued: 0, running: 0 };
    w.get("busy").state = "Running";
    await w.tick(new Date("2025-06-02T11:00:00Z"));
    expect(w.actions()).toEqual(["Stop busy 2025-06-02T11:00Z"]);
  });

  it("a schedule wins over idle; the policy minimum lengthens a short timeout", async () => {
    const w = new World({ idleShutdownMinMinutes: 30 }).add(base("short", { idleShutdownMinutes: 15, lastActivityAt: "2025-06-02T10:00:00Z" }));
    await w.run("2025-06-02T10:00:00Z", "2025-06-02T10:45:00Z");
    expect(w.actions()).toEqual(["Stop short 2025-06-02T10:30Z"]);
  });

  it("records without job counters count as no jobs; bad records are skipped with a reason", () => {
    const now = new Date("2025-06-02T12:00:00Z");
    const plan = planTick(
      [
        { name: "nojobs", state: "Running", idleShutdownMinutes: 15, lastActivityAt: "2025-06-02T11:00:00Z" },
        { name: "weird", state: "Sleeping" as never, idleShutdownMinutes: 15 },
        { name: "neg", state: "Running", idleShutdownMinutes: -1 },
      ],
      { now },
      { idleShutdownMinMinutes: 15 },
    );
    expect(plan.actions.map((a) => a.instance)).toEqual(["nojobs"]);
    expect(plan.skipped).toEqual([
      { instance: "weird", reason: 'unknown state "Sleeping"' },
      { instance: "neg", reason: "idleShutdownMinutes is not a positive number" },
    ]);
  });
});

describe("records the tick cannot or need not act on", () => {
  const now = new Date("2025-06-02T12:00:00Z");
  const settings = { idleShutdownMinMinutes: 15 };
  const idle = { state: "Running" as const, idleShutdownMinutes: 15, lastActivityAt: "2025-06-02T11:00:00Z" };

  it("skips bad records with a reason and plans the rest", () => {
    const plan = planTick(
      [
        { ...idle, name: "" },
        { ...idle, name: 7 as never },
        { ...idle, name: "sched", schedules: "0 19 * * *" as never },
        { ...idle, name: "zero", idleShutdownMinutes: 0 },
        { ...idle, name: "text", idleShutdownMinutes: "15" as never },
        { ...idle, name: "nan", idleShutdownMinutes: NaN },
        { ...idle, name: "ok", schedules: null, idleShutdownMinutes: 15 },
      ],
      { now },
      settings,
    );
    expect(plan.skipped).toEqual([
      { instance: "", reason: "the record has no name" },
      { instance: "?", reason: "the record has no name" },
      { instance: "sched", reason: "schedules is not a list" },
      { instance: "zero", reason: "idleShutdownMinutes is not a positive number" },
      { instance: "text", reason: "idleShutdownMinutes is not a positive number" },
      { instance: "nan", reason: "idleShutdownMinutes is not a positive number" },
    ]);
    expect(plan.evaluated).toBe(1);
    expect(plan.actions).toEqual([
      {
        action: "Stop",
        dueMinute: new Date("2025-06-02T11:15:00Z"),
        source: "idle",
        reason: "idle since 2025-06-02T11:00:00.000Z (idle shutdown after 15 min)",
        instance: "ok",
        orchestrationId: "autostop-ok-stop-202506021115",
      },
    ]);
  });

  it("a record with idle shutdown unset (null or absent) is evaluated and left alone", () => {
    const plan = planTick([{ name: "a", state: "Running", lastActivityAt: "2025-06-02T11:00:00Z" }, { ...idle, name: "b", idleShutdownMinutes: null }], { now }, settings);
    expect(plan).toEqual({ actions: [], evaluated: 2, skipped: [] });
  });

  it.each<[string, unknown, boolean]>([
    ["one running job", { queued: 0, running: 1 }, false],
    ["one queued job", { queued: 1 }, false],
    ["unreadable counters count as none", { queued: -1, running: Number.POSITIVE_INFINITY }, true],
    ["counters that are not numbers count as none", { queued: "2", running: null }, true],
    ["no counters", null, true],
  ])("job counters: %s → idle stop %s", (_case, jobs, stops) => {
    const plan = planTick([{ ...idle, name: "a", jobs: jobs as AutoStopRecord["jobs"] }], { now }, settings);
    expect(plan.actions.length).toBe(stops ? 1 : 0);
  });
});

describe("the previous tick from the timer input", () => {
  const now = new Date("2025-06-02T12:00:05Z");
  it.each<[string, { scheduleStatus?: { last?: string | null } | null }, Date | undefined, string | undefined]>([
    ["status.last", { scheduleStatus: { last: "2025-06-02T12:00:00.000Z" } }, undefined, "2025-06-02T12:00:00.000Z"],
    ["before the first run (.NET default time)", { scheduleStatus: { last: "0001-01-01T00:00:00.000Z" } }, undefined, undefined],
    ["no monitor", { scheduleStatus: null }, undefined, undefined],
    ["no monitor, remembered tick", { scheduleStatus: null }, new Date("2025-06-02T12:00:00.040Z"), "2025-06-02T12:00:00.040Z"],
    ["a later remembered tick narrows the window", { scheduleStatus: { last: "2025-06-02T11:59:55Z" } }, new Date("2025-06-02T12:00:00.040Z"), "2025-06-02T12:00:00.040Z"],
    ["a status from the future is ignored", { scheduleStatus: { last: "2025-06-02T13:00:00Z" } }, undefined, undefined],
    ["garbage", { scheduleStatus: { last: "yesterday" } }, undefined, undefined],
    ["no status at all", {}, undefined, undefined],
    ["a remembered tick in the future is ignored (status.last used)", { scheduleStatus: { last: "2025-06-02T11:59:55Z" } }, new Date("2025-06-02T12:00:06Z"), "2025-06-02T11:59:55.000Z"],
    ["a remembered tick in the future is ignored (no status)", { scheduleStatus: null }, new Date("2025-06-02T12:00:06Z"), undefined],
    ["an earlier remembered tick loses to status.last", { scheduleStatus: { last: "2025-06-02T12:00:00Z" } }, new Date("2025-06-02T11:59:00Z"), "2025-06-02T12:00:00.000Z"],
    ["status.last exactly now", { scheduleStatus: { last: "2025-06-02T12:00:05Z" } }, undefined, "2025-06-02T12:00:05.000Z"],
    ["a remembered tick exactly now", { scheduleStatus: { last: "2025-06-02T11:59:55Z" } }, new Date("2025-06-02T12:00:05Z"), "2025-06-02T12:00:05.000Z"],
    ["no status, a remembered tick exactly now", { scheduleStatus: null }, new Date("2025-06-02T12:00:05Z"), "2025-06-02T12:00:05.000Z"],
    ["just after the .NET default time", { scheduleStatus: { last: "0001-01-01T00:00:00.001Z" } }, undefined, "0001-01-01T00:00:00.001Z"],
  ])("%s", (_case, timer, remembered, expected) => {
    expect(previousTick(timer, now, remembered)?.toISOString()).toBe(expected);
  });
});

describe("a host's tick memory", () => {
  const rec = base("gpu", { schedules: [sched("Stop", "0 19 * * *", STO)] }); // 17:00Z
  const settings = { idleShutdownMinMinutes: 15 };
  const status = (iso: string) => ({ scheduleStatus: { last: iso } });
  const plan = (now: Date, lastTick: Date | undefined) => planTick([rec], { now, lastTick }, settings).actions.map((a) => a.orchestrationId);

  it("retries a due run after a failed tick, with the same id, then moves on", () => {
    const m = new TickMemory();
    const t1 = new Date("2025-06-02T17:00:00.050Z");
    const w1 = m.lastTick(status("2025-06-02T16:59:00Z"), t1);
    expect(plan(t1, w1)).toEqual(["autostop-gpu-stop-202506021700"]);
    m.finished(t1, w1, false); // the stop threw (storage hiccup)

    const t2 = new Date("2025-06-02T17:01:00.040Z");
    const w2 = m.lastTick(status("2025-06-02T17:00:00Z"), t2);
    expect(w2?.toISOString()).toBe("2025-06-02T16:59:00.000Z");
    expect(plan(t2, w2)).toEqual(["autostop-gpu-stop-202506021700"]);
    m.finished(t2, w2, true);

    const t3 = new Date("2025-06-02T17:02:00.030Z");
    const w3 = m.lastTick(status("2025-06-02T17:01:00Z"), t3);
    expect(w3?.toISOString()).toBe("2025-06-02T17:01:00.040Z"); // its own last tick: later than the stored status
    expect(plan(t3, w3)).toEqual([]);
  });

  it("after two failed ticks the window still starts where the first failed one did", () => {
    const m = new TickMemory();
    const t1 = new Date("2025-06-02T17:00:00.050Z");
    const w1 = m.lastTick(status("2025-06-02T16:59:00Z"), t1);
    m.finished(t1, w1, false);
    const t2 = new Date("2025-06-02T17:01:00.050Z");
    const w2 = m.lastTick(status("2025-06-02T17:00:00Z"), t2);
    m.finished(t2, w2, false);
    const t3 = new Date("2025-06-02T17:02:00.050Z");
    const w3 = m.lastTick(status("2025-06-02T17:01:00Z"), t3);
    expect(w3?.toISOString()).toBe("2025-06-02T16:59:00.000Z");
    m.finished(t3, w3, true);
    const t4 = new Date("2025-06-02T17:03:00.050Z");
    expect(m.lastTick(status("2025-06-02T17:02:00Z"), t4)?.toISOString()).toBe("2025-06-02T17:02:00.050Z");
  });

  it("a failed tick's window start is used only while it is earlier than the previous tick", () => {
    const m = new TickMemory();
    const t1 = new Date("2025-06-02T17:00:00.050Z");
    m.finished(t1, new Date("2025-06-02T16:59:00Z"), false);
    // The status says the previous tick was before the failed window started (a restored host).
    expect(m.lastTick(status("2025-06-02T16:58:00Z"), new Date("2025-06-02T17:01:00Z"))?.toISOString()).toBe("2025-06-02T16:59:00.000Z");
  });

  it("after a failed tick and a clock set back, the window starts at the earlier of the failed window's start and the previous tick", () => {
    const m = new TickMemory();
    m.finished(new Date("2025-06-02T17:00:00.050Z"), new Date("2025-06-02T16:59:00Z"), false);
    // Now is before the remembered tick (ignored); the status's last tick is before the failed window's start.
    expect(m.lastTick(status("2025-06-02T16:58:00Z"), new Date("2025-06-02T16:58:30Z"))?.toISOString()).toBe("2025-06-02T16:58:00.000Z");
  });

  it("a failed first tick with no status retries the last minute", () => {
    const m = new TickMemory();
    const t1 = new Date("2025-06-02T17:00:00.050Z");
    const w1 = m.lastTick({ scheduleStatus: null }, t1);
    expect(w1).toBeUndefined();
    m.finished(t1, w1, false);
    const t2 = new Date("2025-06-02T17:00:05.050Z");
    expect(m.lastTick({ scheduleStatus: null }, t2)?.toISOString()).toBe("2025-06-02T16:59:00.050Z");
  });
});
