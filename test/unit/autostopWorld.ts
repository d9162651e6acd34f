// A fake clock and a minimal world for auto-stop tests: instances in memory, ticks at chosen
// instants, and an `act` that, like the durable client with a business id, refuses an
// orchestration id it has seen before.
import type { AutoStopRecord, PlannedAction } from "../../shared/autostop/plan";
import { runAutoStopTick, type ActOutcome, type TickSummary } from "../../shared/autostop/tick";

export type Acted = { at: string; instance: string; action: "Start" | "Stop"; source: string; id: string };

export class World {
  readonly records = new Map<string, AutoStopRecord>();
  readonly ids = new Set<string>();
  readonly acted: Acted[] = [];
  readonly logs: string[] = [];
  now = new Date(0);
  lastTick: Date | undefined;
  pageSize = 2;

  constructor(readonly settings = { idleShutdownMinMinutes: 15 }) {}

  add(r: AutoStopRecord): this {
    this.records.set(r.name, { ...r });
    return this;
  }

  get(name: string): AutoStopRecord {
    return this.records.get(name) as AutoStopRecord;
  }

  async act(a: PlannedAction): Promise<ActOutcome> {
    if (this.ids.has(a.orchestrationId)) return { outcome: "skipped", why: "already acted" };
    this.ids.add(a.orchestrationId);
    const r = this.get(a.instance);
    if (a.action === "Stop") r.state = "Stopped";
    else {
      r.state = "Running";
      r.lastActivityAt = this.now.toISOString(); // starting counts as activity
    }
    this.acted.push({ at: this.now.toISOString(), instance: a.instance, action: a.action, source: a.source, id: a.orchestrationId });
    return { outcome: "started" };
  }

  /** One tick at `at` (the timer fires a few ms after its occurrence); the previous tick is remembered. */
  async tick(at: Date, opts: { lastTick?: Date | null } = {}): Promise<TickSummary> {
    this.now = new Date(at.getTime() + 37);
    const lastTick = opts.lastTick === null ? undefined : (opts.lastTick ?? this.lastTick);
    const all = [...this.records.values()];
    const summary = await runAutoStopTick(
      {
        listPage: async (token) => {
          const start = token ? Number(token) : 0;
          const end = start + this.pageSize;
          return { items: all.slice(start, end).map((r) => ({ ...r })), ...(end < all.length ? { continuationToken: String(end) } : {}) };
        },
        act: (a) => this.act(a),
        log: (_level, line) => this.logs.push(line),
      },
      { now: this.now, lastTick },
      this.settings,
    );
    this.lastTick = at;
    return summary;
  }

  /** Ticks every `stepMs` in [from, to). */
  async run(from: string, to: string, stepMs = 60_000): Promise<void> {
    for (let t = Date.parse(from); t < Date.parse(to); t += stepMs) await this.tick(new Date(t));
  }

  actions(): string[] {
    return this.acted.map((a) => `${a.action} ${a.instance} ${a.at.slice(0, 16)}Z`);
  }
}
