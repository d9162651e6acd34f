// Timer triggers, as the Timers extension runs them: six-field NCRONTAB (seconds first) in
// UTC (or WEBSITE_TIME_ZONE), `%SETTING%` schedules, runOnStartup, and a schedule monitor
// in blob storage so that a restart after a missed occurrence fires once with isPastDue.
// A timer never overlaps itself: the next occurrence is computed after the run finishes.
import { Cron } from "croner";
import type { HostContext, HostExtension } from "../extensions";
import type { RegisteredFunction } from "../functionsCore";
import { resolveSettingExpression } from "../settings";
import { hostId } from "../hostId";
import { blobService } from "../storageClients";
import { BlobScheduleMonitor, DEFAULT_TIME, HOSTS_CONTAINER, type ScheduleStatus } from "./scheduleMonitor";
import { retryPolicy, runWithRetries, type RetryPolicy } from "../retryPolicy";

const MAX_TIMEOUT_MS = 2 ** 31 - 1;

export function timerExtension(): HostExtension {
  const runners: TimerRunner[] = [];
  return {
    name: "timer",
    triggerTypes: ["timertrigger"],
    async start(ctx) {
      const timers = [...ctx.core.functions.values()].filter((f) => f.trigger.type.toLowerCase() === "timertrigger");
      if (timers.length === 0) return;
      let monitor: BlobScheduleMonitor | undefined;
      const getMonitor = () =>
        (monitor ??= new BlobScheduleMonitor(blobService(ctx.env).getContainerClient(HOSTS_CONTAINER), hostId(ctx)));
      for (const fn of timers) {
        const runner = new TimerRunner(ctx, fn, getMonitor);
        runners.push(runner);
        await runner.start();
      }
    },
    async stop() {
      await Promise.all(runners.map((r) => r.stop()));
    },
  };
}

class TimerRunner {
  readonly #ctx: HostContext;
  readonly #fn: RegisteredFunction;
  readonly #cron: Cron;
  readonly #timerName: string;
  readonly #monitor: BlobScheduleMonitor | undefined;
  readonly #runOnStartup: boolean;
  readonly #retry: RetryPolicy | undefined;
  /** Wakes a retry delay early when the timer stops. */
  #wakeRetry: (() => void) | undefined;
  #status: ScheduleStatus | null = null;
  #timeout: NodeJS.Timeout | undefined;
  #running: Promise<void> | undefined;
  #stopped = false;
  #lastOccurrence = new Date(0);

  constructor(ctx: HostContext, fn: RegisteredFunction, getMonitor: () => BlobScheduleMonitor) {
    this.#ctx = ctx;
    this.#fn = fn;
    this.#timerName = `Host.Functions.${fn.name}`;
    const raw = fn.trigger.schedule;
    if (typeof raw !== "string" || raw.trim() === "") throw new Error(`Timer "${fn.name}": the schedule is missing.`);
    const schedule = resolveSettingExpression(raw, ctx.env).trim();
    if (schedule.split(/\s+/).length !== 6) {
      throw new Error(`Timer "${fn.name}": schedule "${schedule}" must be six-field NCRONTAB ({second} {minute} {hour} {day} {month} {day-of-week}).`);
    }
    try {
      this.#cron = new Cron(schedule, { mode: "6-part", timezone: ctx.env.WEBSITE_TIME_ZONE || "UTC", domAndDow: true, paused: true });
    } catch (err) {
      throw new Error(`Timer "${fn.name}": invalid schedule "${schedule}": ${(err as Error).message}`);
    }
    this.#runOnStartup = fn.trigger.runOnStartup === true;
    this.#retry = retryPolicy(fn.name, fn.metadata.retryOptions);
    // The real host monitors schedules of a minute or longer by default; an explicit
    // useMonitor wins (tests use it on fast schedules to observe isPastDue).
    const useMonitor = typeof fn.trigger.useMonitor === "boolean" ? fn.trigger.useMonitor : this.#intervalMs() >= 60_000;
    this.#monitor = useMonitor ? getMonitor() : undefined;
  }

  #intervalMs(): number {
    const [a, b] = this.#cron.nextRuns(2);
    return a && b ? b.getTime() - a.getTime() : Infinity;
  }

  #next(after: Date): Date {
    const n = this.#cron.nextRun(after);
    if (!n) throw new Error(`Timer "${this.#fn.name}": the schedule has no future occurrence.`);
    return n;
  }

  async start(): Promise<void> {
    const now = new Date();
    let pastDue = false;
    let originalSchedule: Date | undefined;
    if (this.#monitor) {
      const last = await this.#monitor.get(this.#timerName);
      if (!last) {
        this.#status = { Last: DEFAULT_TIME, Next: this.#next(now).toISOString(), LastUpdated: now.toISOString() };
        await this.#monitor.update(this.#timerName, this.#status);
      } else {
        this.#status = last;
        // If the schedule changed since the status was written, the earlier of the two counts.
        const base = last.Last !== DEFAULT_TIME ? new Date(last.Last) : new Date(last.LastUpdated);
        const expected = this.#next(base);
        const recorded = new Date(last.Next);
        const due = expected < recorded ? expected : recorded;
        if (now > due) {
          pastDue = true;
          originalSchedule = due;
        }
      }
    }
    const nextDesc = this.#next(now).toISOString();
    this.#ctx.log("information", `Timer ${this.#fn.name}: next occurrence ${nextDesc}${pastDue ? " (past due: firing now)" : ""}`);
    // Start-up runs do not hold up host start-up; the schedule is armed once they finish.
    this.#running = (async () => {
      if (pastDue) await this.#invoke(now, true, originalSchedule);
      else if (this.#runOnStartup) await this.#invoke(now, false, undefined);
    })();
    void this.#running.then(() => this.#arm());
  }

  #arm(): void {
    if (this.#stopped) return;
    const now = new Date();
    const after = now > this.#lastOccurrence ? now : this.#lastOccurrence;
    const next = this.#next(after);
    const delay = Math.min(MAX_TIMEOUT_MS, Math.max(0, next.getTime() - now.getTime()));
    this.#timeout = setTimeout(() => {
      if (this.#stopped) return;
      if (Date.now() < next.getTime()) return this.#arm(); // long waits are re-armed in steps
      this.#lastOccurrence = next;
      this.#running = this.#invoke(next, false, next);
      void this.#running.then(() => this.#arm());
    }, delay);
  }

  async #invoke(invocationTime: Date, isPastDue: boolean, originalSchedule: Date | undefined): Promise<void> {
    const input = {
      Schedule: { AdjustForDST: true },
      ScheduleStatus: this.#monitor ? this.#status : null,
      IsPastDue: isPastDue,
    };
    // A retry policy re-runs a failed occurrence after its delay; the next occurrence waits for the last attempt.
    await runWithRetries(
      this.#retry,
      async (retryContext) => {
        await this.#ctx.invoke(this.#fn, { data: { json: JSON.stringify(input) }, retryContext });
        this.#ctx.log("information", `Executed 'Functions.${this.#fn.name}' (Succeeded${isPastDue ? ", past due" : ""}${retryContext ? `, retry ${retryContext.retryCount}` : ""})`);
      },
      {
        stopped: () => this.#stopped,
        sleep: (ms) =>
          new Promise<void>((resolve) => {
            const t = setTimeout(done, ms);
            const self = this;
            function done() {
              clearTimeout(t);
              self.#wakeRetry = undefined;
              resolve();
            }
            this.#wakeRetry = done;
          }),
        onFailure: (err, retryCount, willRetry) =>
          this.#ctx.log(
            "error",
            `Executed 'Functions.${this.#fn.name}' (Failed${this.#retry ? `, retry ${retryCount} of ${this.#retry.maxRetryCount}` : ""}${willRetry ? ", will retry" : ""}): ${(err as Error)?.stack ?? String(err)}`,
          ),
      },
    ).catch(() => undefined); // already logged; a failed occurrence does not stop the schedule
    if (!this.#monitor) return;
    const now = new Date();
    const base = invocationTime > now ? invocationTime : now;
    this.#status = {
      Last: (originalSchedule ?? invocationTime).toISOString(),
      Next: this.#next(base).toISOString(),
      LastUpdated: now.toISOString(),
    };
    try {
      await this.#monitor.update(this.#timerName, this.#status);
    } catch (err) {
      this.#ctx.log("warning", `Timer ${this.#fn.name}: could not save its schedule status: ${(err as Error).message}`);
    }
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    clearTimeout(this.#timeout);
    this.#wakeRetry?.();
    // Give a run in progress a moment to finish; after that it is abandoned with the process.
    if (this.#running) await Promise.race([this.#running, new Promise((r) => setTimeout(r, 5000).unref())]);
  }
}
