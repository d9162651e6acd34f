// Activity work items: at most maxConcurrentActivityFunctions run at once; each result goes
// back to its orchestration as a message. Nothing here is durable on its own: an activity is
// open in its orchestration's history (TaskScheduled without a result) until its result is
// committed, so after a crash it runs again (at least once).
import { executeDurableHttp, HTTP_ACTIVITY, ManagedIdentityTokens } from "../durableHttp";
import type { ActivityWork } from "../executor/episode";
import type { InstanceMessage } from "../types";
import { describeFailure, errorMessage, kindOf, resultText, type AppFunctions } from "./invoke";

export type ActivityDispatcherOptions = {
  max: number;
  functions: AppFunctions;
  log(level: "information", message: string): void;
  stats: { activities: number };
  /** The queue an instance's activities wait in: its orchestrator function's name. */
  queueOf(instanceId: string): string;
  /** Hands an activity's result to its orchestration. */
  done(instanceId: string, msg: InstanceMessage): void;
  /** Called after each activity ends (the engine checks whether it is idle). */
  settled(): void;
  stopped(): boolean;
};

export class ActivityDispatcher {
  /**
   * Waiting activities, FIFO per orchestrator function name, served round-robin across names:
   * one workflow's burst (hundreds of job orchestrations, one activity each) cannot hold back
   * another's (a dispatcher whose single activity feeds all of them). Per-instance round-robin
   * would not help there — each instance has one activity waiting, so it degenerates to FIFO.
   */
  private readonly queue = new Map<string, ActivityWork[]>();
  private queued = 0;
  private running = 0;
  /** Managed identity tokens for durable HTTP's token sources. */
  private readonly tokens = new ManagedIdentityTokens();

  constructor(private readonly o: ActivityDispatcherOptions) {}

  get idle(): boolean {
    return this.running === 0 && this.queued === 0;
  }

  enqueue(a: ActivityWork): void {
    const key = this.o.queueOf(a.instanceId);
    const q = this.queue.get(key);
    if (q) q.push(a);
    else this.queue.set(key, [a]);
    this.queued++;
    this.pump();
  }

  /** The next activity: the head of the first name's queue; that name then goes to the back. */
  private next(): ActivityWork | undefined {
    for (const [key, q] of this.queue) {
      const a = q.shift()!;
      this.queue.delete(key);
      if (q.length) this.queue.set(key, q);
      this.queued--;
      return a;
    }
    return undefined;
  }

  private pump(): void {
    while (!this.o.stopped() && this.running < this.o.max && this.queued > 0) {
      const a = this.next()!;
      this.running++;
      void this.run(a).finally(() => {
        this.running--;
        this.pump();
        this.o.settled();
      });
    }
  }

  private async run(a: ActivityWork): Promise<void> {
    const msg = a.name === HTTP_ACTIVITY ? await this.runHttp(a) : await this.runFunction(a);
    if (!this.o.stopped()) this.o.done(a.instanceId, msg);
  }

  /** The extension's built-in activity behind callHttp. */
  private async runHttp(a: ActivityWork): Promise<InstanceMessage> {
    try {
      const res = await executeDurableHttp(a.input, this.tokens, (m) => this.o.log("information", `durable: ${a.instanceId}: ${m}`));
      return { kind: "taskCompleted", exec: a.exec, id: a.id, result: JSON.stringify(res) };
    } catch (err) {
      return { kind: "taskFailed", exec: a.exec, id: a.id, reason: `Durable HTTP request failed: ${errorMessage(err)}`, details: "" };
    }
  }

  private async runFunction(a: ActivityWork): Promise<InstanceMessage> {
    const fn = this.o.functions.get(a.name);
    if (kindOf(fn) !== "activitytrigger") {
      const reason = `The activity function '${a.name}' doesn't exist, is disabled, or is not an activity function.`;
      return { kind: "taskFailed", exec: a.exec, id: a.id, reason, details: "" };
    }
    try {
      const rv = await this.o.functions.invoke(fn!, a.input === undefined ? {} : { json: a.input });
      this.o.stats.activities++;
      return { kind: "taskCompleted", exec: a.exec, id: a.id, result: resultText(rv) };
    } catch (err) {
      const { reason, details, failure } = describeFailure(`Activity function '${a.name}' failed`, err);
      return { kind: "taskFailed", exec: a.exec, id: a.id, reason, details, failure };
    }
  }
}
