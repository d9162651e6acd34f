// Queued jobs whose orchestration never started. A submission writes the job's record and then
// starts its orchestration; a host that dies between the two leaves a record that nothing will
// ever run. A caller that retries with its Idempotency-Key (or a redelivered queue message)
// repairs it at once; without one, this timer does, so nothing submitted is lost silently.
//
// Each tick looks at Queued jobs old enough that their orchestration must exist (MIN_AGE) and
// submitted since shortly before the previous tick (so a deep queue is not re-checked every
// time), one partition query per instance, and starts the orchestration where there is none.
import { app, type InvocationContext, type Timer } from "@azure/functions";
import * as df from "durable-functions";
import { instancePages } from "../shared/autostop/source";
import { orchestrationIds } from "../shared/ids";
import { durablePort, type OrchestrationPort } from "../orchestrations/jobs/durablePort";
import { ORCHESTRATIONS, type JobInput } from "../orchestrations/jobs/types";
import type { JobRecord } from "../shared/jobs/record";
import type { TickDeps } from "../shared/autostop/tick";
import { getClients, getSettings, stores } from "../services/root";
import { recoverStalledOperations } from "../services/operationRecovery";
import { createInstanceStore, MAX_PAGE_SIZE } from "../shared/store";
import type { InstanceRecord } from "../shared/instances/record";

/** A submission's record and orchestration are written within moments; older than this, one is missing. */
export const ORPHAN_MIN_AGE_MS = 2 * 60_000;
/** How far before the previous tick to look again (ticks late or missed while the host was down). */
const LOOKBACK_MS = 10 * 60_000;

export type ReconcileDeps = {
  listPage: TickDeps["listPage"];
  queuedJobs(instance: string): Promise<JobRecord[]>;
  port: OrchestrationPort;
  log(line: string): void;
};

/** Starts the missing orchestrations; returns the ids of the jobs it queued. */
export async function reconcileOrphanedJobs(deps: ReconcileDeps, now: Date, lastTick: Date | undefined): Promise<string[]> {
  const until = now.getTime() - ORPHAN_MIN_AGE_MS;
  const since = lastTick ? lastTick.getTime() - ORPHAN_MIN_AGE_MS - LOOKBACK_MS : -Infinity;
  const repaired: string[] = [];
  let token: string | undefined;
  do {
    const page = await deps.listPage(token);
    for (const inst of page.items) {
      for (const job of await deps.queuedJobs(inst.name)) {
        const at = Date.parse(job.submittedAt);
        if (!(at <= until && at >= since)) continue;
        const id = orchestrationIds.job(job.id);
        if ((await deps.port.status(id)) !== "none") continue;
        const input: JobInput = { instance: job.instance, jobId: job.id, gpus: job.gpus };
        if ((await deps.port.start(ORCHESTRATIONS.job, id, input)) === "started") {
          deps.log(`jobs: job ${job.id} on ${job.instance} had no orchestration (its submission was interrupted); queued it now`);
          repaired.push(job.id);
        }
      }
    }
    token = page.continuationToken;
  } while (token);
  return repaired;
}

async function jobsReconcileTick(timer: Timer, context: InvocationContext): Promise<void> {
  const last = timer.scheduleStatus?.last ? new Date(timer.scheduleStatus.last) : undefined;
  const port = durablePort(df.getClient(context));
  // The same tick also restarts instance operations whose request died before starting them.
  const instances = createInstanceStore<InstanceRecord>(getClients().storage, getSettings().workspaceName);
  await recoverStalledOperations(
    {
      workspace: getSettings().workspaceName,
      listPage: async (continuationToken) => {
        const page = await instances.list({ pageSize: MAX_PAGE_SIZE, continuationToken });
        return { items: page.items.map((i) => i.record), ...(page.continuationToken ? { continuationToken: page.continuationToken } : {}) };
      },
      operations: stores().operations,
      audit: stores().audit,
      port,
      log: (line) => context.warn(line),
    },
    new Date(),
  );
  await reconcileOrphanedJobs(
    {
      listPage: instancePages(getClients().storage, getSettings().workspaceName),
      queuedJobs: async (instance) => (await stores().jobs.listAll(instance, { state: "Queued" })).map((s) => s.record),
      port,
      log: (line) => context.warn(line),
    },
    new Date(),
    last,
  );
}

app.timer("jobsReconcileTick", {
  schedule: "%JOBS_RECONCILE_SCHEDULE%",
  useMonitor: true,
  extraInputs: [df.input.durableClient()],
  handler: jobsReconcileTick,
});
