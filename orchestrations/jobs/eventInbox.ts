// Batched reading of one external-event name in an orchestrator, without losing events.
//
// Why this is delicate (durable-functions 3.5, TaskOrchestrationExecutor): an event raised while
// no wait for its name is open is buffered and handed, FIFO, to the next wait task that is
// yielded (synchronously, while that task is tracked); an event raised while waits are open goes
// to the NEWEST open wait (LIFO). A wait that is yielded twice is registered twice, and its
// second registration later swallows an event; a wait abandoned after losing a Task.any stays
// open and takes the next event that finds no newer wait. And a task already yielded must never
// be put into a new Task.any (its action would be emitted a second time).
//
// The discipline here:
// - every wait task is created fresh and yielded exactly once, inside one Task.any;
// - every wait ever yielded is held until it has a result, and after EVERY resume of the
//   orchestrator the held waits are collected, so an event taken by an "abandoned" wait is
//   still processed (nothing is lost; none is processed twice);
// - several fresh waits in one Task.any drain up to that many buffered events in one go, which
//   is what lets the dispatcher handle a burst with one apply activity instead of one per event.
// The engine's continueAsNew carry-over counts wait actions per name: buffered events exist
// only while no wait is open, so "events beyond the number of waits" are exactly the ones no
// wait took, and every taken one has been collected before the orchestrator continues as new.
//
// Order: within one resume, waits were either filled at once from the buffer (FIFO: in creation
// order) or by events arriving later (LIFO: newest wait first); `collect` returns arrival order.
import type { OrchestrationContext, Task } from "durable-functions";

export class EventInbox {
  private held: { task: Task; seq: number }[] = [];
  private seq = 0;
  /** Waits of the Task.any yielded last (filled from the buffer at once, or by the next event). */
  private lastFresh = new Set<Task>();

  constructor(
    private readonly ctx: OrchestrationContext,
    private readonly name: string,
  ) {}

  /** Waits still open (each will take one future event). */
  get open(): number {
    return this.held.length;
  }

  /**
   * A Task.any to yield: `extra` (fresh tasks never yielded before) plus `n` fresh waits.
   * Resumes when any of them completes, at once if buffered events are there.
   */
  any(n: number, extra: Task[] = []): Task {
    const fresh: Task[] = [];
    for (let i = 0; i < Math.max(1, n); i++) {
      const task = this.ctx.df.waitForExternalEvent(this.name);
      this.held.push({ task, seq: this.seq++ });
      fresh.push(task);
    }
    this.lastFresh = new Set(fresh);
    return this.ctx.df.Task.any([...extra, ...fresh]);
  }

  /** Payloads of the waits that got an event since the last call, in arrival order. */
  collect(): unknown[] {
    const done = this.held.filter((h) => h.task.isCompleted || h.task.isFaulted);
    if (done.length === 0) return [];
    this.held = this.held.filter((h) => !(h.task.isCompleted || h.task.isFaulted));
    const fromBuffer = done.filter((h) => this.lastFresh.has(h.task)).sort((a, b) => a.seq - b.seq);
    const lifo = done.filter((h) => !this.lastFresh.has(h.task)).sort((a, b) => b.seq - a.seq);
    // Waits filled one by one by arriving events (LIFO) came before the ones a new Task.any
    // drained from the buffer: those events were buffered because no wait was open any more.
    this.lastFresh = new Set();
    return [...lifo, ...fromBuffer].map((h) => h.task.result);
  }
}
