// Persisting messages for an instance (events, control, entity replies) before they are
// accepted. Group commit: messages for one instance that arrive while a write is in flight
// share the next transaction.
import type { StoredMessage } from "../backend/records";
import type { TaskHubStore } from "../backend/store";

type Waiting = { m: StoredMessage; done: (e?: unknown) => void };

export class MessageWriter {
  private readonly writing = new Map<string, { next: Waiting[] }>();

  constructor(private readonly store: TaskHubStore) {}

  persist(instanceId: string, m: StoredMessage): Promise<void> {
    return new Promise((resolve, reject) => {
      const done = (e?: unknown) => (e ? reject(e) : resolve());
      const w = this.writing.get(instanceId);
      if (w) {
        w.next.push({ m, done });
        return;
      }
      const state = { next: [] as Waiting[] };
      this.writing.set(instanceId, state);
      const flush = async (batch: Waiting[]) => {
        try {
          await this.store.putMessages(instanceId, batch.map((b) => b.m));
          for (const b of batch) b.done();
        } catch (err) {
          for (const b of batch) b.done(err);
        }
        if (state.next.length) {
          const more = state.next.splice(0, 100);
          void flush(more);
        } else this.writing.delete(instanceId);
      };
      void flush([{ m, done }]);
    });
  }
}
