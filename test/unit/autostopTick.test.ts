// The tick runner: reads every page once, acts on what is due, logs one line per action with
// its reason, and survives failures of single actions.
import { describe, expect, it } from "vitest";
import type { AutoStopRecord, PlannedAction } from "../../shared/autostop/plan";
import { runAutoStopTick, type ActOutcome } from "../../shared/autostop/tick";

const now = new Date("2025-06-02T12:00:00.020Z");
const settings = { idleShutdownMinMinutes: 15 };
const idle = (name: string): AutoStopRecord => ({ name, state: "Running", idleShutdownMinutes: 15, lastActivityAt: "2025-06-02T11:00:00Z", jobs: { queued: 0, running: 0 } });
const busy = (name: string): AutoStopRecord => ({ ...idle(name), jobs: { queued: 0, running: 1 }, state: "JobRunning" });

function pages(records: AutoStopRecord[], size: number) {
  const reads: (string | undefined)[] = [];
  return {
    reads,
    listPage: async (token: string | undefined) => {
      reads.push(token);
      const start = token ? Number(token) : 0;
      return { items: records.slice(start, start + size), ...(start + size < records.length ? { continuationToken: String(start + size) } : {}) };
    },
  };
}

describe("runAutoStopTick", () => {
  it("reads each page once and acts only where something is due", async () => {
    const records = Array.from({ length: 7 }, (_, i) => (i % 3 === 0 ? idle(`i${i}`) : busy(`b${i}`)));
    const p = pages(records, 3);
    const acted: PlannedAction[] = [];
    const logs: string[] = [];
    const s = await runAutoStopTick(
      { listPage: p.listPage, act: async (a) => (acted.push(a), { outcome: "started", operationId: `op-${a.instance}` }), log: (_l, line) => logs.push(line) },
      { now },
      settings,
    );
    expect(p.reads).toEqual([undefined, "3", "6"]);
    expect(s).toMatchObject({ pages: 3, evaluated: 7, started: 3, skipped: 0, failed: 0 });
    expect(acted.map((a) => a.instance)).toEqual(["i0", "i3", "i6"]);
    expect(logs).toHaveLength(3);
    expect(logs[0]).toBe(
      "autostop: stop i0 (idle: idle since 2025-06-02T11:00:00.000Z (idle shutdown after 15 min)) [autostop-i0-stop-202506021115] operation op-i0",
    );
  });

  it("a failed or refused action is logged and does not stop the others", async () => {
    const p = pages([idle("a"), idle("b"), idle("c")], 10);
    const logs: [string, string][] = [];
    const s = await runAutoStopTick(
      {
        listPage: p.listPage,
        act: async (a): Promise<ActOutcome> => {
          if (a.instance === "a") throw new Error("storage unavailable");
          if (a.instance === "b") return { outcome: "skipped", why: "already acted" };
          return { outcome: "started" };
        },
        log: (level, line) => logs.push([level, line]),
      },
      { now },
      settings,
    );
    expect(s).toMatchObject({ started: 1, skipped: 1, failed: 1 });
    expect(s.actions.find((x) => x.instance === "a")?.result).toEqual({ outcome: "failed", error: "storage unavailable" });
    expect(logs.map(([l]) => l).sort()).toEqual(["error", "info", "info"]);
    expect(logs.find(([l]) => l === "error")?.[1]).toMatch(/^autostop: failed to stop a \(idle: .*\) \[autostop-a-stop-202506021115\]: storage unavailable$/);
    expect(logs.some(([, line]) => line.startsWith("autostop: not acting: stop b") && line.endsWith("already acted"))).toBe(true);
  });

  it("an empty table is one read and no actions", async () => {
    const p = pages([], 10);
    const s = await runAutoStopTick({ listPage: p.listPage, act: async () => ({ outcome: "started" }), log: () => undefined }, { now }, settings);
    expect(p.reads).toEqual([undefined]);
    expect(s).toMatchObject({ pages: 1, evaluated: 0, started: 0 });
  });

  it("a failing page read fails the tick (the next tick tries again)", async () => {
    let n = 0;
    const tick = runAutoStopTick(
      {
        listPage: async () => {
          if (n++ === 1) throw new Error("read failed");
          return { items: [idle("a")], continuationToken: "x" };
        },
        act: async () => ({ outcome: "started" }),
        log: () => undefined,
      },
      { now },
      settings,
    );
    await expect(tick).rejects.toThrow("read failed");
  });
});
