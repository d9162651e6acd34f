// The jobs workflow's I/O: job and instance records, the instances' agent queues, and events to
// orchestrations through a port. Plain async functions from a factory; nothing here knows
// durable-functions. No ARM call per job: the agent on the VM takes jobs from its queue.
import type { AzureClients } from "../../shared/azure/clients";
import { ensureContainer } from "../../shared/azure/blobs";
import { AppError, CloudError, NotFoundError, PreconditionFailedError } from "../../shared/errors";
import { orchestrationIds } from "../../shared/ids";
import { sendToAgent, type AgentSettings } from "../../shared/jobs/agent";
import { instanceRecords, sameIncarnation, type InstanceRecord } from "../../shared/instances/record";
import { isTerminalJobState, type JobState } from "../../shared/instances/states";
import type { DispatcherCommand } from "../../shared/jobs/dispatcher";
import { createSpillStore } from "../../shared/jobs/spillStore";
import { JOB_LOGS_CONTAINER, jobRecords, type JobRecord } from "../../shared/jobs/record";
import type { Stored } from "../../shared/store/recordTable";
import type { OrchestrationPort } from "./durablePort";
import {
  JOB_EVENT,
  livenessFor,
  type ApplyInput,
  type ApplyResult,
  type CancelOnAgentInput,
  type CheckAgentInput,
  type CheckAgentResult,
  type FinishInput,
  type JobEventPayload,
  type JobOutcome,
  type NotifyDispatcherInput,
  type QueueConfigInput,
  type QueueConfigResult,
  type StartJobInput,
  type StartJobResult,
} from "./types";
import { SYSTEM_ACTORS } from "../../shared/audit/actors";
import { traceField } from "../../shared/telemetry/tracing";
import { recordJobCounts } from "../../shared/telemetry/metrics";
import { createAuditStore, operationAuditId } from "../../shared/store/audit";

export type JobActivityDeps = {
  clients: AzureClients;
  workspace: string;
  jobsPerCoreDefault: number;
  orchestrations: OrchestrationPort;
  agent: AgentSettings;
};

const ETAG_RETRIES = 20;
/** Instance states that end running jobs, with the reason their records get. */
const STOP_REASONS: Record<string, string> = { Stopping: "instance stopped", Deleting: "instance deleted" };
/** The dispatcher cancels running jobs with these reasons when the instance stops or goes. */
const FINAL_REASONS = new Set(Object.values(STOP_REASONS));
/** Activity is coarse: a lastActivityAt younger than this is not rewritten. */
const ACTIVITY_GRANULARITY_MS = 30_000;

export function createJobActivities(deps: JobActivityDeps) {
  const jobs = jobRecords(deps.clients.storage);
  const spill = createSpillStore(deps.clients.storage);
  const instances = instanceRecords(deps.clients.storage, deps.workspace);
  const audit = createAuditStore(deps.clients.storage, deps.workspace);
  const queues = deps.clients.storage.queues;
  const liveness = livenessFor(deps.agent.heartbeatSeconds);

  /** Read-modify-write of a job with ETag retry; `change` returns undefined to leave it. */
  async function updateJob(
    instance: string,
    jobId: string,
    change: (r: JobRecord) => JobRecord | undefined,
    inHand?: Stored<JobRecord>,
  ): Promise<JobRecord | undefined> {
    for (let i = 0; i < ETAG_RETRIES; i++) {
      // A record just read is tried first; a conflict re-reads it.
      const cur = i === 0 && inHand ? inHand : await jobs.getInInstance(instance, jobId);
      if (!cur) return undefined;
      const next = change({ ...cur.record });
      if (!next) return cur.record;
      try {
        return (await jobs.update(next, cur.etag)).record;
      } catch (err) {
        if (!(err instanceof PreconditionFailedError)) throw err;
      }
    }
    throw new CloudError("Contention", `job '${jobId}' kept changing while being updated`, { retryable: true });
  }

  async function updateInstance(name: string, change: (r: InstanceRecord) => InstanceRecord | undefined): Promise<void> {
    for (let i = 0; i < ETAG_RETRIES; i++) {
      const cur = await instances.get(name);
      if (!cur) return;
      const next = change(structuredClone(cur.record));
      if (!next) return;
      try {
        await instances.update(next, cur.etag);
        return;
      } catch (err) {
        if (err instanceof NotFoundError) return;
        if (!(err instanceof PreconditionFailedError)) throw err;
      }
    }
    throw new CloudError("Contention", `instance '${name}' kept changing while being updated`, { retryable: true });
  }

  // The log container is created once per process (createIfNotExists on every job was a round trip each).
  let container: Promise<void> | undefined;
  const logsContainer = (): Promise<void> => {
    container ??= ensureContainer(deps.clients.storage, JOB_LOGS_CONTAINER).catch((err: unknown) => {
      container = undefined;
      throw err;
    });
    return container;
  };

  /** Records a job's end (once: a terminal record is left as it is); the orchestration then frees its slot. */
  async function finish(input: FinishInput): Promise<null> {
    const o = input.outcome;
    // Record first: once terminal, a replayed start sees it and never runs the job again.
    let recorded: JobRecord | undefined;
    await updateJob(input.instance, input.jobId, (r) => {
      if (isTerminalJobState(r.state)) return undefined;
      const next: JobRecord = { ...r, state: o.state, endedAt: o.endTime ?? input.at };
      if (o.startTime) next.startedAt = o.startTime;
      if (o.exitCode !== undefined) next.exitCode = o.exitCode;
      if (o.error) next.error = o.error;
      return (recorded = next);
    });
    // The backstop giving up on a lost agent is an automatic action: it goes on the audit trail
    // (once: the entry id is the job's, and a retried activity finds the job terminal).
    if (o.error?.code === "AgentLost") {
      const inst = await instances.get(input.instance);
      await audit.record({
        id: operationAuditId(input.at, `lost-${input.jobId}`),
        at: input.at,
        actor: SYSTEM_ACTORS.recovery,
        action: "job.fail",
        instance: input.instance.toLowerCase(),
        ...(recorded?.instanceId ? { instanceId: recorded.instanceId } : {}),
        ...(inst ? { assignedUser: inst.record.assignedUser } : {}),
        jobId: input.jobId,
        result: "Succeeded",
        reason: o.error.message,
      });
    }
    return null;
  }

  return {
    /**
     * A stop or delete (after the queue entity heard of it, so the slots freed here start
     * nothing): the VM goes away with its jobs, so each running job's orchestration records its
     * job now (final), not after a trip through the queue (whose CancelJob follows, a no-op then).
     */
    async notifyDispatcher(input: NotifyDispatcherInput): Promise<null> {
      const reason = STOP_REASONS[input.state];
      if (!reason) return null;
      const live = (await Promise.all((["Starting", "Running"] as const).map((state) => jobs.listAll(input.instance, { state })))).flat();
      const event: JobEventPayload = { type: "Cancel", reason, final: true };
      await Promise.all(live.map(({ record: j }) => deps.orchestrations.raise(orchestrationIds.job(j.id), JOB_EVENT, event)));
      return null;
    },

    /** What a new queue entity starts from: the instance's size, jobs per core and whether it runs. */
    async queueConfig(input: QueueConfigInput): Promise<QueueConfigResult> {
      const inst = await instances.get(input.instance);
      if (!inst) return { exists: false };
      const r = inst.record;
      return {
        exists: true,
        config: { vCpus: r.vCpus, gpus: r.gpus, jobsPerCore: r.jobsPerCore || deps.jobsPerCoreDefault },
        running: r.state === "Running" || r.state === "JobRunning",
        deleting: r.state === "Deleting",
      };
    },

    async apply(input: ApplyInput): Promise<ApplyResult> {
      const at = input.at;
      const starts: Promise<unknown>[] = [];
      let busy: boolean | undefined;
      // Spill rows first: a refill in this same call may read them.
      const spills = input.commands.flatMap((c) => (c.type === "Spill" ? [{ seq: c.seq, jobId: c.jobId, gpus: c.gpus }] : []));
      if (spills.length) await spill.put(input.instance, spills);
      if (input.trim) starts.push(spill.remove(input.instance, range(input.trim.from, input.trim.until)));
      for (const c of input.commands) starts.push(applyOne(c));
      async function applyOne(c: DispatcherCommand): Promise<void> {
        switch (c.type) {
          case "StartJob":
            // The job's orchestration waits for its slot.
            await deps.orchestrations.raise(orchestrationIds.job(c.jobId), JOB_EVENT, { type: "Start", gpuIndices: c.gpuIndices } satisfies JobEventPayload);
            return;
          case "CancelJob":
            // A stop's or delete's cancel is final (the VM goes away with the job; no report will come).
            const final = FINAL_REASONS.has(c.reason);
            await deps.orchestrations.raise(orchestrationIds.job(c.jobId), JOB_EVENT, { type: "Cancel", reason: c.reason, ...(final ? { final } : {}) } satisfies JobEventPayload);
            return;
          case "MarkCanceled":
            await updateJob(input.instance, c.jobId, (r) =>
              r.state === "Queued"
                ? { ...r, state: "Canceled", endedAt: at, error: { code: "Canceled", message: "the job was canceled before it started" } }
                : undefined,
            );
            await dropped(c.jobId);
            return;
          case "FailJob":
            await updateJob(input.instance, c.jobId, (r) =>
              isTerminalJobState(r.state) ? undefined : { ...r, state: "Failed", endedAt: at, error: { code: "JobCannotRun", message: c.reason } },
            );
            await dropped(c.jobId);
            return;
          case "SetBusy":
            busy = c.busy;
            return;
          case "Spill":
            return;
          case "CancelSpilled":
            await cancelSpilled(c.from, c.until);
            return;
        }
      }
      /** The job's orchestration waits for a slot that will not come: it ends (the record says why). */
      async function dropped(jobId: string): Promise<void> {
        await deps.orchestrations.raise(orchestrationIds.job(jobId), JOB_EVENT, { type: "Dropped" } satisfies JobEventPayload);
      }
      async function cancelSpilled(from: number, until: number): Promise<void> {
        const rows = await spill.read(input.instance, from, until, Number.MAX_SAFE_INTEGER);
        await Promise.all(
          rows.map(async (row) => {
            await updateJob(input.instance, row.jobId, (r) =>
              r.state === "Queued"
                ? { ...r, state: "Canceled", endedAt: at, error: { code: "Canceled", message: "the job was canceled before it started" } }
                : undefined,
            );
            await dropped(row.jobId);
          }),
        );
        await spill.remove(input.instance, rows.map((r) => r.seq));
      }
      const refill = input.refill ? readBack(input.refill) : undefined;
      async function readBack(req: NonNullable<ApplyInput["refill"]>): Promise<NonNullable<NonNullable<ApplyResult>["refill"]>> {
        // Rows are deleted later (trim), once the dispatcher has this result: a retried refill reads the same rows.
        // Only the unbroken run of rows from `from`: the queue entity answers several callers at
        // once, and a row it allotted to another caller may not be written yet. Reading past such
        // a gap would mark that row read back and its job would never start; it is read next time.
        const found = await spill.read(input.instance, req.from, req.until, req.max);
        const rows: typeof found = [];
        for (const row of found) {
          if (row.seq !== req.from + rows.length) break;
          rows.push(row);
        }
        const recs = await Promise.all(rows.map((row) => jobs.getInInstance(input.instance, row.jobId)));
        const out: NonNullable<NonNullable<ApplyResult>["refill"]>["jobs"] = [];
        recs.forEach((rec) => {
          if (rec?.record.state === "Queued") out.push({ id: rec.record.id, gpus: rec.record.gpus, cancelRequested: rec.record.cancelRequestedAt !== undefined });
        });
        return { from: req.from + rows.length, jobs: out };
      }
      const [readBackResult] = await Promise.all([refill, ...starts]);
      await updateInstance(input.instance, (r) => {
        let changed = false;
        const jobsCounts = input.counts;
        // Several orchestrations apply answers of the same entity at once and may finish out of
        // order: only a newer answer than the one the record shows may set counts and JobRunning
        // (an older "1 running" written last kept an idle instance busy forever).
        const stale = input.seq !== undefined && r.jobsSeq !== undefined && input.seq <= r.jobsSeq;
        const nowBusy = stale ? undefined : busy;
        if (!stale && input.seq !== undefined && r.jobsSeq !== input.seq) (r.jobsSeq = input.seq), (changed = true);
        if (!stale && (r.jobs?.queued !== jobsCounts.queued || r.jobs?.running !== jobsCounts.running || r.jobs?.cap !== jobsCounts.cap)) {
          r.jobs = { ...jobsCounts };
          changed = true;
        }
        // The same newest-wins rule for the gauges.
        if (!stale) recordJobCounts(r.name, jobsCounts.queued, jobsCounts.running);
        // Running ⇄ JobRunning only between those two: a stop or delete owns the state otherwise.
        if (nowBusy === true && r.state === "Running") (r.state = "JobRunning"), (changed = true);
        if (nowBusy === false && r.state === "JobRunning") (r.state = "Running"), (changed = true);
        // Jobs running or events flowing are activity (idle shutdown must not fire under a job).
        if ((jobsCounts.running > 0 || input.commands.length > 0) && isStale(r.lastActivityAt, at)) {
          r.lastActivityAt = at;
          changed = true;
        }
        return changed ? r : undefined;
      });
      return readBackResult ? { refill: readBackResult } : null;
    },

    /**
     * Hands the job to the agent: Queued → Starting (with the ETag, recording when), then a
     * message on the instance's queue. A retry, or a replay that finds the job Starting or
     * Running, sends the message again: the agent runs a job id once (its journal), and a job it
     * already took is refused by the app's "started" check, so a duplicate message never runs it twice.
     */
    async startJob(input: StartJobInput): Promise<StartJobResult> {
      const [inst, cur] = await Promise.all([instances.get(input.instance), jobs.getInInstance(input.instance, input.jobId)]);
      if (!cur) return { started: false, outcome: { state: "Failed", error: { code: "JobNotFound", message: "the job record is missing" } } };
      const job = cur.record;
      if (isTerminalJobState(job.state)) return { started: false, outcome: { state: job.state as "Completed" } };
      if (job.cancelRequestedAt && job.state === "Queued") return { started: false };
      // A job of a deleted instance never runs on a later instance that took its name.
      if (!inst || !sameIncarnation(inst.record, job)) {
        return { started: false, outcome: { state: "Failed", error: { code: "InstanceNotFound", message: "the instance no longer exists" } } };
      }
      const [rec] = await Promise.all([
        updateJob(input.instance, input.jobId, (r) =>
          r.state === "Queued" && !r.cancelRequestedAt ? { ...r, state: "Starting", gpuIndices: input.gpuIndices, claimedAt: input.at } : undefined,
        cur),
        logsContainer(),
      ]);
      if (!rec || isTerminalJobState(rec.state)) return { started: false, outcome: { state: (rec?.state ?? "Failed") as "Completed" } };
      if (rec.state === "Queued") return { started: false }; // a cancel request came in meanwhile
      try {
        await sendToAgent(queues, inst.record.name, { type: "run", jobId: job.id, ...traceField() });
      } catch (err) {
        if (err instanceof AppError && !err.retryable) {
          return { started: false, outcome: { state: "Failed", error: { code: err.code, message: err.message } } };
        }
        throw err;
      }
      return { started: true, timeoutMinutes: job.timeoutMinutes, liveness };
    },

    /** Asks the agent to end the job; it reports the end (Canceled) like any other. */
    async cancelOnAgent(input: CancelOnAgentInput): Promise<null> {
      await sendToAgent(queues, input.instance, { type: "cancel", jobId: input.jobId, reason: input.reason });
      return null;
    },

    /** What the backstop needs from the record: state, when handed over, last heartbeat. */
    async checkAgent(input: CheckAgentInput): Promise<CheckAgentResult> {
      const cur = await jobs.getInInstance(input.instance, input.jobId);
      if (!cur) return { state: "Missing" };
      const r = cur.record;
      return {
        state: r.state,
        ...(r.claimedAt ? { claimedAt: r.claimedAt } : {}),
        ...(r.pullingAt ? { pullingAt: r.pullingAt } : {}),
        ...((r.heartbeatAt ?? r.startedAt ?? r.pullingAt) ? { heartbeatAt: r.heartbeatAt ?? r.startedAt ?? r.pullingAt } : {}),
        ...(r.exitReport ? { reported: r.exitReport as JobOutcome } : {}),
      };
    },

    finish,
  };
}

export type JobActivities = ReturnType<typeof createJobActivities>;

function range(from: number, until: number): number[] {
  return Array.from({ length: Math.max(0, until - from) }, (_, i) => from + i);
}

function isStale(last: string | undefined, at: string): boolean {
  return !last || Date.parse(at) - Date.parse(last) >= ACTIVITY_GRANULARITY_MS;
}
