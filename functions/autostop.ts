// The auto-stop timer (architecture.md "Auto-stop"): on %AUTOSTOP_SCHEDULE% it reads the
// instance table once, page by page, and starts a stop or start operation only where a
// schedule or the idle timeout says so. Deciding is shared/autostop (pure, tested with a fake
// clock); this file wires it to the table, the durable client and beginInstanceOperation.
//
// Acting twice is prevented by the orchestration id (instance + action + due minute): a
// repeated tick, a second host, or a catch-up after downtime derives the same id and finds it
// taken. A missed window is caught up once: the window starts at the host's scheduleStatus.last
// (persisted across restarts), and only the latest run in it counts.
import { app, type InvocationContext, type Timer } from "@azure/functions";
import * as df from "durable-functions";
import { TickMemory, type PlannedAction } from "../shared/autostop/plan";
import { instancePages } from "../shared/autostop/source";
import { runAutoStopTick, type ActOutcome, type TickDeps } from "../shared/autostop/tick";
import { recordAutoStopAction, recordInstanceStates } from "../shared/telemetry/metrics";
import { AppError } from "../shared/errors";
import { SYSTEM_ACTORS } from "../shared/audit/actors";
import { logger } from "../shared/telemetry/log";
import { inSpan } from "../shared/telemetry/tracing";
import { getClients, getSettings, services } from "../services/root";

export const AUTOSTOP_FUNCTION = "autoStopTick";
/** Who asked, on the operation record and in logs. */
export const AUTOSTOP_REQUESTER = "system:autostop";

// This host's memory of its ticks (window start, retry after a failed tick).
const memory = new TickMemory();

export async function autoStopTick(timer: Timer, context: InvocationContext): Promise<void> {
  const now = new Date();
  const settings = getSettings();
  const lastTick = memory.lastTick(timer, now);
  const client = df.getClient(context);
  const log = logger(context, { user: AUTOSTOP_REQUESTER });
  const states: Record<string, number> = {};

  const started = Date.now();
  let failed = true;
  try {
    const summary = await runAutoStopTick(
      {
        listPage: countingStates(instancePages(getClients().storage, settings.workspaceName), states),
        // Each action is a span of its own: the stop or start it begins continues its trace.
        act: (a) => inSpan(`autostop ${a.action.toLowerCase()}`, { parent: context.traceContext?.traceParent, attributes: { "ci.instance": a.instance, "ci.autostop.source": a.source } }, () => act(client, a)),
        log: (level, line, ids) => {
          const l = log.with({ ...ids });
          if (level === "error") l.error(line);
          else if (level === "warn") l.warn(line);
          else l.info(line);
        },
      },
      { now, lastTick },
      settings,
    );
    failed = summary.failed > 0;
    recordInstanceStates(states);
    if (summary.actions.length > 0 || timer.isPastDue) {
      log.info(
        `autostop: tick${timer.isPastDue ? " (past due, catching up once)" : ""} evaluated ${summary.evaluated} instances in ${Date.now() - started} ms: ` +
          `${summary.started} started, ${summary.skipped} not needed, ${summary.failed} failed`,
      );
    }
  } finally {
    memory.finished(now, lastTick, !failed);
  }
}

/** The tick reads every instance anyway: it counts them by state on the way (the ci.instances gauge). */
function countingStates(listPage: TickDeps["listPage"], counts: Record<string, number>): TickDeps["listPage"] {
  return async (token) => {
    const page = await listPage(token);
    for (const r of page.items) if (typeof r.state === "string") counts[r.state] = (counts[r.state] ?? 0) + 1;
    return page;
  };
}

async function act(client: df.DurableClient, a: PlannedAction): Promise<ActOutcome> {
  if (await orchestrationExists(client, a.orchestrationId)) return { outcome: "skipped", why: "already acted (the orchestration exists)" };
  try {
    const op = await services().operations.beginInstanceOperation({
      name: a.instance,
      operation: a.action === "Stop" ? "stop" : "start",
      requestedBy: AUTOSTOP_REQUESTER,
      client,
      orchestrationId: a.orchestrationId,
      reason: `${a.source}: ${a.reason}`,
      actor: a.source === "idle" ? SYSTEM_ACTORS.idle : SYSTEM_ACTORS.schedule,
    });
    recordAutoStopAction(a.source, a.action);
    return { outcome: "started", operationId: op.id };
  } catch (err) {
    // The state moved on since the page was read (someone stopped, deleted or started it, or
    // another host acted first): nothing to do, and not an error.
    if (err instanceof AppError && [404, 409, 412].includes(err.status)) return { outcome: "skipped", why: `${err.code}: ${err.message}` };
    throw err;
  }
}

async function orchestrationExists(client: df.DurableClient, id: string): Promise<boolean> {
  try {
    await client.getStatus(id);
    return true;
  } catch (err) {
    // durable-functions reports an unknown instance id only through this message.
    if (err instanceof Error && /HTTP 404/.test(err.message)) return false;
    throw err;
  }
}

app.timer(AUTOSTOP_FUNCTION, {
  schedule: "%AUTOSTOP_SCHEDULE%",
  // The schedule monitor is what gives isPastDue and scheduleStatus.last after downtime, also
  // for schedules shorter than a minute (tests tick every 5 s).
  useMonitor: true,
  extraInputs: [df.input.durableClient()],
  handler: autoStopTick,
});
