// Durable timers of the local engine: in-memory wake-ups for the TimerCreated events of open
// executions. The history is what is durable: after a restart the open timers re-arm from it.
import type { TimerWork } from "../executor/episode";

export class DurableTimers {
  private readonly handles = new Map<string, NodeJS.Timeout>();

  constructor(
    /** Delivers the firing to its orchestration. */
    private readonly fire: (t: TimerWork) => void,
    private readonly stopped: () => boolean,
  ) {}

  arm(t: TimerWork): void {
    if (this.stopped()) return;
    const key = timerKey(t);
    const delay = Math.max(0, Date.parse(t.fireAt) - Date.now());
    // setTimeout holds at most ~24.8 days; longer timers re-arm.
    const handle = setTimeout(() => {
      this.handles.delete(key);
      if (Date.parse(t.fireAt) > Date.now()) return this.arm(t);
      this.fire(t);
    }, Math.min(delay, 2 ** 31 - 1));
    this.handles.set(key, handle);
  }

  /** Every timer of an instance (its execution ended). */
  clear(instanceId: string): void {
    for (const [k, h] of this.handles) {
      if (k.startsWith(`${instanceId}\u0000`)) {
        clearTimeout(h);
        this.handles.delete(k);
      }
    }
  }

  clearAll(): void {
    for (const t of this.handles.values()) clearTimeout(t);
    this.handles.clear();
  }
}

function timerKey(t: TimerWork): string {
  return `${t.instanceId}\u0000${t.exec}\u0000${t.id}`;
}
