// The jobs workflow's I/O: job and instance records, run commands, log blobs, and events to
// orchestrations through a port. Plain async functions from a factory; nothing here knows
// durable-functions.
import type { AzureClients } from "../../shared/azure/clients";
import { blobSasUrl, ensureContainer } from "../../shared/azure/blobs";
import { deleteRunCommand, getRunCommand, putRunCommand, type RunCommandStatus } from "../../shared/azure/runCommands";
import { AppError, CloudError, NotFoundError, PreconditionFailedError } from "../../shared/errors";
import { armNames, orchestrationIds } from "../../shared/ids";
import { instanceRecords, sameIncarnation, type InstanceRecord } from "../../shared/instances/record";
import { isTerminalJobState, type JobState } from "../../shared/instances/states";
import { windowSize, type DispatcherCommand } from "../../shared/jobs/dispatcher";
import { createSpillStore, type SpillRow } from "../../shared/jobs/spillStore";
import { JOB_LOGS_CONTAINER, jobLogBlobs, jobRecords, type JobRecord } from "../../shared/jobs/record";
import { jobParameters, jobScript } from "../../shared/jobs/script";
import type { TokenBucket } from "../../shared/jobs/tokenBucket";
import type { Stored } from "../../shared/store/recordTable";
import { raiseToDispatcher, type OrchestrationPort } from "./dispatcherClient";
import { outcomeOf } from "./outcome";
import {
  CANCEL_EVENT,
  ORCHESTRATIONS,
  type ApplyInput,
  type ApplyResult,
  type FinishInput,
  type JobInput,
  type NotifyDispatcherInput,
  type ReconcileInput,
  type ReconcileResult,
  type RunStatusInput,
  type RunStatusResult,
  type StartRunInput,
  type StartRunResult,
} from "./types";

export type JobActivityDeps = {
  clients: AzureClients;
  workspace: string;
  jobsPerCoreDefault: number;
  orchestrations: OrchestrationPort;
  /** In-process budget for ARM run-command writes. */
  armWrites: TokenBucket;
  /** Longest an activity waits for the budget before giving the slot back to the engine's retry. */
  budgetWaitMs?: number;
};

const ETAG_RETRIES = 20;
/** Instance states that end running jobs, with the reason their records get. */
const STOP_REASONS: Record<string, string> = { Stopping: "instance stopped", Deleting: "instance deleted" };
/**
 * The log-upload SAS (write access to the job's two blobs, stored in the run-command resource,
 * which anyone who can read the VM can read) lives for the job's timeout plus this margin: the
 * orchestration stops the job at its timeout and ARM's own backstop is a minute later.
 */
const LOG_SAS_MARGIN_MINUTES = 10;
/** Activity is coarse: a lastActivityAt younger than this is not rewritten. */
const ACTIVITY_GRANULARITY_MS = 30_000;

export function createJobActivities(deps: JobActivityDeps) {
  const jobs = jobRecords(deps.clients.storage);
  const spill = createSpillStore(deps.clients.storage);
  const instances = instanceRecords(deps.clients.storage, deps.workspace);
  const arm = deps.clients.arm;

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

  async function armWrite<T>(fn: () => Promise<T>): Promise<T> {
    if (!(await deps.armWrites.take(deps.budgetWaitMs ?? 20_000))) {
      throw new CloudError("ClientThrottled", "the ARM write budget of this host is exhausted; retrying later", { retryable: true, httpStatus: 429 });
    }
    try {
      return await fn();
    } catch (err) {
      if (err instanceof CloudError && err.httpStatus === 429) deps.armWrites.backOff(err.retryAfterMs ?? 5_000);
      throw err;
    }
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

  const vmOf = (instance: string) => armNames.vm(instance);
  const rcOf = (jobId: string) => armNames.jobRunCommand(jobId);

  /** A run command's status as the orchestration sees it; a started command marks its job Running. */
  async function statusResult(instance: string, jobId: string, s: RunCommandStatus | undefined): Promise<RunStatusResult> {
    if (!s) return { state: "Missing" };
    const out: RunStatusResult = { state: s.state };
    if (s.exitCode !== undefined) out.exitCode = s.exitCode;
    if (s.startTime) out.startTime = s.startTime;
    if (s.endTime) out.endTime = s.endTime;
    if (s.executionMessage) out.message = s.executionMessage;
    if (s.startTime && (s.state === "Running" || s.state === "Pending")) {
      await updateJob(instance, jobId, (r) =>
        r.state === "Starting" || r.state === "Queued" ? { ...r, state: "Running", startedAt: s.startTime } : undefined,
      );
    }
    return out;
  }

  async function finishJob(instance: string, jobId: string, state: JobState): Promise<void> {
    await raiseToDispatcher(deps.orchestrations, deps.workspace, instance, { type: "JobFinished", jobId, state });
  }

  /** Records a job's end, removes its run command and tells the dispatcher. */
  async function finish(input: FinishInput): Promise<null> {
    const o = input.outcome;
    // Record first: once terminal, a replayed start sees it and never runs the job again.
    const rec = await updateJob(input.instance, input.jobId, (r) => {
      if (isTerminalJobState(r.state)) return undefined;
      const next: JobRecord = { ...r, state: o.state, endedAt: o.endTime ?? input.at };
      if (o.startTime) next.startedAt = o.startTime;
      if (o.exitCode !== undefined) next.exitCode = o.exitCode;
      if (o.error) next.error = o.error;
      return next;
    });
    if (input.runCommandStarted) {
      // Deleting a running command kills it (cancel, timeout, stop); Azure caps run commands per
      // VM. Accepted is enough: ARM finishes the removal, and a retried DELETE of a gone one is a 404.
      await armWrite(() => deleteRunCommand(arm, vmOf(input.instance), rcOf(input.jobId), { wait: false }));
    }
    await finishJob(input.instance, input.jobId, rec?.state ?? o.state);
    return null;
  }

  return {
    async notifyDispatcher(input: NotifyDispatcherInput): Promise<null> {
      const reason = STOP_REASONS[input.state];
      if (reason) {
        // The caller deallocates or deletes the VM as soon as this returns, which kills the
        // commands: the cancel must be with each job's orchestration before that, not after a
        // trip through the dispatcher (whose CancelJob follows and is then a no-op).
        const live = (await Promise.all((["Starting", "Running"] as const).map((state) => jobs.listAll(input.instance, { state })))).flat();
        await Promise.all(live.map(({ record: j }) => deps.orchestrations.raise(orchestrationIds.job(j.id), CANCEL_EVENT, { reason })));
      }
      await raiseToDispatcher(deps.orchestrations, deps.workspace, input.instance, { type: "InstanceStateChanged", state: input.state });
      return null;
    },

    async reconcile(input: ReconcileInput): Promise<ReconcileResult> {
      // O(queue) reads, but only every few generations; the RESULT stays bounded (the window),
      // because it lands in the dispatcher's history. Queued jobs the dispatcher neither holds
      // nor has spilled (their JobSubmitted was lost) go behind the spilled ones.
      const inst = await instances.get(input.instance);
      if (!inst) return { exists: false };
      const r = inst.record;
      const config = { vCpus: r.vCpus, gpus: r.gpus, jobsPerCore: r.jobsPerCore || deps.jobsPerCoreDefault };
      const [live, rows] = await Promise.all([
        // This incarnation's jobs only (the partition is the name, which an earlier instance may have had).
        Promise.all((["Queued", "Starting", "Running"] as const).map((state) => jobs.listAll(r.name, { state, instanceId: r.instanceId }))).then((x) => x.flat()),
        spill.all(r.name),
      ]);
      live.sort((a, b) => a.record.submittedAt.localeCompare(b.record.submittedAt) || a.record.id.localeCompare(b.record.id));
      const held = new Set(input.queued ?? []);
      const running = new Set(input.running ?? []);
      const spilled = new Set(rows.map((x) => x.jobId));
      let room = rows.length ? 0 : windowSize(config) - held.size;
      let next = Math.max(input.next ?? 0, ...rows.map((x) => x.seq + 1));
      const from = rows.length ? Math.min(...rows.map((x) => x.seq)) : next;
      const out: JobRecord[] = [];
      const toSpill: SpillRow[] = [];
      for (const { record: j } of live) {
        if (j.state !== "Queued" || running.has(j.id)) out.push(j);
        else if (held.has(j.id)) {
          if (j.cancelRequestedAt) out.push(j);
        } else if (!spilled.has(j.id)) {
          if (room > 0) room--, out.push(j);
          else toSpill.push({ seq: next++, jobId: j.id, gpus: j.gpus });
        }
      }
      await spill.put(r.name, toSpill);
      return {
        exists: true,
        config,
        running: r.state === "Running" || r.state === "JobRunning",
        deleting: r.state === "Deleting",
        jobs: out.map((j) => ({ id: j.id, gpus: j.gpus, state: j.state, cancelRequested: j.cancelRequestedAt !== undefined })),
        spill: { from, next },
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
          case "StartJob": {
            const job: JobInput = { instance: input.instance, jobId: c.jobId, gpuIndices: c.gpuIndices };
            await deps.orchestrations.start(ORCHESTRATIONS.job, orchestrationIds.job(c.jobId), job);
            return;
          }
          case "CancelJob":
            await deps.orchestrations.raise(orchestrationIds.job(c.jobId), CANCEL_EVENT, { reason: c.reason });
            return;
          case "MarkCanceled":
            await updateJob(input.instance, c.jobId, (r) =>
              r.state === "Queued"
                ? { ...r, state: "Canceled", endedAt: at, error: { code: "Canceled", message: "the job was canceled before it started" } }
                : undefined,
            );
            return;
          case "FailJob":
            await updateJob(input.instance, c.jobId, (r) =>
              isTerminalJobState(r.state) ? undefined : { ...r, state: "Failed", endedAt: at, error: { code: "JobCannotRun", message: c.reason } },
            );
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
      async function cancelSpilled(from: number, until: number): Promise<void> {
        const rows = await spill.read(input.instance, from, until, Number.MAX_SAFE_INTEGER);
        await Promise.all(
          rows.map((row) =>
            updateJob(input.instance, row.jobId, (r) =>
              r.state === "Queued"
                ? { ...r, state: "Canceled", endedAt: at, error: { code: "Canceled", message: "the job was canceled before it started" } }
                : undefined,
            ),
          ),
        );
        await spill.remove(input.instance, rows.map((r) => r.seq));
      }
      const refill = input.refill ? readBack(input.refill) : undefined;
      async function readBack(req: NonNullable<ApplyInput["refill"]>): Promise<NonNullable<NonNullable<ApplyResult>["refill"]>> {
        // Rows are deleted later (trim), once the dispatcher has this result: a retried refill reads the same rows.
        const rows = await spill.read(input.instance, req.from, req.until, req.max);
        const recs = await Promise.all(rows.map((row) => jobs.getInInstance(input.instance, row.jobId)));
        const out: NonNullable<NonNullable<ApplyResult>["refill"]>["jobs"] = [];
        recs.forEach((rec) => {
          if (rec?.record.state === "Queued") out.push({ id: rec.record.id, gpus: rec.record.gpus, cancelRequested: rec.record.cancelRequestedAt !== undefined });
        });
        return { from: rows.length < req.max ? req.until : rows[rows.length - 1]!.seq + 1, jobs: out };
      }
      const [readBackResult] = await Promise.all([refill, ...starts]);
      await updateInstance(input.instance, (r) => {
        let changed = false;
        const jobsCounts = input.counts;
        if (r.jobs?.queued !== jobsCounts.queued || r.jobs?.running !== jobsCounts.running || r.jobs?.cap !== jobsCounts.cap) {
          r.jobs = { ...jobsCounts };
          changed = true;
        }
        // Running ⇄ JobRunning only between those two: a stop or delete owns the state otherwise.
        if (busy === true && r.state === "Running") (r.state = "JobRunning"), (changed = true);
        if (busy === false && r.state === "JobRunning") (r.state = "Running"), (changed = true);
        // Jobs running or events flowing are activity (idle shutdown must not fire under a job).
        if ((jobsCounts.running > 0 || input.commands.length > 0) && isStale(r.lastActivityAt, at)) {
          r.lastActivityAt = at;
          changed = true;
        }
        return changed ? r : undefined;
      });
      return readBackResult ? { refill: readBackResult } : null;
    },

    async startRun(input: StartRunInput): Promise<StartRunResult> {
      // Independent reads go out together: this activity is on every job's start path.
      const [inst, cur] = await Promise.all([instances.get(input.instance), jobs.getInInstance(input.instance, input.jobId)]);
      if (!cur) return { started: false, outcome: { state: "Failed", error: { code: "JobNotFound", message: "the job record is missing" } } };
      const job = cur.record;
      if (isTerminalJobState(job.state)) return { started: false, outcome: { state: job.state as "Completed" } };
      if (job.cancelRequestedAt) return { started: false };
      // A job of a deleted instance never runs on a later instance that took its name.
      if (!inst || !sameIncarnation(inst.record, job)) {
        return { started: false, outcome: { state: "Failed", error: { code: "InstanceNotFound", message: "the instance no longer exists" } } };
      }
      // Queued → Starting (with the ETag) before the PUT is what makes the PUT happen once: only
      // the attempt that made this change PUTs without looking first. A record already Starting
      // means an earlier attempt got this far and may have created the command before its result
      // was lost (crash); a second PUT would carry fresh SAS URLs and ARM would run the script again.
      let claimed = false;
      const [rec] = await Promise.all([
        updateJob(input.instance, input.jobId, (r) => {
          claimed = r.state === "Queued" && !r.cancelRequestedAt;
          return claimed ? { ...r, state: "Starting", gpuIndices: input.gpuIndices } : undefined;
        }, cur),
        logsContainer(),
      ]);
      if (!claimed) {
        if (!rec || isTerminalJobState(rec.state)) return { started: false, outcome: { state: (rec?.state ?? "Failed") as "Completed" } };
        if (rec.state === "Queued") return { started: false }; // a cancel request came in meanwhile
        const existing = await getRunCommand(arm, vmOf(inst.record.name), rcOf(job.id));
        if (existing) return { started: true, timeoutMinutes: job.timeoutMinutes, status: await statusResult(input.instance, job.id, existing) };
      }
      // The run-command handler creates both append blobs through these URLs (hence "c"); until
      // the job writes, its logs read as empty.
      const sasMinutes = job.timeoutMinutes + LOG_SAS_MARGIN_MINUTES;
      const [outputBlobUri, errorBlobUri] = await Promise.all([
        blobSasUrl(deps.clients.storage, JOB_LOGS_CONTAINER, jobLogBlobs.stdout(job.id), { permissions: "racw", expiresInMinutes: sasMinutes }),
        blobSasUrl(deps.clients.storage, JOB_LOGS_CONTAINER, jobLogBlobs.stderr(job.id), { permissions: "racw", expiresInMinutes: sasMinutes }),
      ]);
      try {
        await armWrite(() =>
          putRunCommand(arm, vmOf(inst.record.name), rcOf(job.id), {
            script: jobScript(job.command),
            parameters: jobParameters({ jobId: job.id, instance: inst.record.name, user: inst.record.assignedUser, gpuIndices: input.gpuIndices }),
            // User variables may be secrets: protected parameters are never returned by ARM.
            protectedParameters: job.variables ?? {},
            // The orchestration enforces the timeout; ARM's own is a backstop a little later.
            timeoutInSeconds: job.timeoutMinutes * 60 + 60,
            outputBlobUri,
            errorBlobUri,
          }),
        );
      } catch (err) {
        if (err instanceof AppError && !err.retryable) {
          return { started: false, outcome: { state: "Failed", error: { code: err.code, message: err.message } } };
        }
        throw err;
      }
      // No status read here: the first poll brings it and marks the job Running (one ARM read
      // and one record write fewer per job; a job that ends before that poll goes straight to its end).
      return { started: true, timeoutMinutes: job.timeoutMinutes };
    },

    async runStatus(input: RunStatusInput): Promise<RunStatusResult> {
      const status = await statusResult(input.instance, input.jobId, await getRunCommand(arm, vmOf(input.instance), rcOf(input.jobId)));
      const outcome = status.state === "Succeeded" ? outcomeOf(status) : undefined;
      if (!outcome || !input.at) return status;
      // A command that completed on its own keeps its result whatever arrives meanwhile (see
      // jobOrchestrator), so its end is recorded right here: one activity and one episode fewer per job.
      await finish({ instance: input.instance, jobId: input.jobId, outcome, at: input.at, runCommandStarted: true });
      return { ...status, finished: true };
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
