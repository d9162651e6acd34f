// One auto-stop tick: read the instance table page by page (once), plan each page, act on the
// planned actions. I/O is injected, so the same code runs in the timer function, in tests and
// in the benchmark. Acting on a page overlaps with reading the next one.
import type { AutoStopSettings } from "../idle";
import { planTick, type AutoStopRecord, type PlannedAction, type TickTimes } from "./plan";

export type ActOutcome =
  /** The operation was started. */
  | { outcome: "started"; operationId?: string }
  /** Nothing to do after all: already acted (same orchestration id), or the state moved on. */
  | { outcome: "skipped"; why: string };

export interface TickDeps {
  listPage(continuationToken: string | undefined): Promise<{ items: AutoStopRecord[]; continuationToken?: string }>;
  act(action: PlannedAction): Promise<ActOutcome>;
  log(level: "info" | "warn" | "error", line: string, ids?: { instance?: string; operation?: string }): void;
}

export interface TickSummary {
  pages: number;
  evaluated: number;
  skippedRecords: number;
  started: number;
  skipped: number;
  failed: number;
  /** Every action that was planned, with what came of it (for tests and the bench). */
  actions: (PlannedAction & { result: ActOutcome | { outcome: "failed"; error: string } })[];
}

const ACT_CONCURRENCY = 4;

export async function runAutoStopTick(deps: TickDeps, times: TickTimes, settings: AutoStopSettings): Promise<TickSummary> {
  const summary: TickSummary = { pages: 0, evaluated: 0, skippedRecords: 0, started: 0, skipped: 0, failed: 0, actions: [] };
  let page = await deps.listPage(undefined);
  for (;;) {
    summary.pages++;
    const plan = planTick(page.items, times, settings);
    summary.evaluated += plan.evaluated;
    summary.skippedRecords += plan.skipped.length;
    for (const s of plan.skipped) deps.log("warn", `autostop: skipped instance ${s.instance}: ${s.reason}`, { instance: s.instance });
    const token = page.continuationToken;
    const next = token ? deps.listPage(token) : undefined;
    // If acting throws unexpectedly the pending read must not become an unhandled rejection.
    next?.catch(() => undefined);
    await actAll(plan.actions, deps, summary);
    if (next === undefined) break;
    page = await next;
  }
  return summary;
}

async function actAll(actions: PlannedAction[], deps: TickDeps, summary: TickSummary): Promise<void> {
  let i = 0;
  const worker = async () => {
    while (i < actions.length) {
      const a = actions[i++] as PlannedAction;
      const what = `${a.action.toLowerCase()} ${a.instance} (${a.source}: ${a.reason}) [${a.orchestrationId}]`;
      try {
        const result = await deps.act(a);
        summary.actions.push({ ...a, result });
        if (result.outcome === "started") {
          summary.started++;
          deps.log("info", `autostop: ${what}${result.operationId ? ` operation ${result.operationId}` : ""}`, {
            instance: a.instance,
            ...(result.operationId ? { operation: result.operationId } : {}),
          });
        } else {
          summary.skipped++;
          deps.log("info", `autostop: not acting: ${what}: ${result.why}`, { instance: a.instance });
        }
      } catch (err) {
        summary.failed++;
        const error = err instanceof Error ? err.message : String(err);
        summary.actions.push({ ...a, result: { outcome: "failed", error } });
        deps.log("error", `autostop: failed to ${what}: ${error}`, { instance: a.instance });
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(ACT_CONCURRENCY, actions.length) }, worker));
}
