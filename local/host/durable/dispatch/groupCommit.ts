// Persisting messages for an instance or entity before they are accepted, with group commit:
// messages for one partition that arrive while a write is in flight share the next
// transaction (at most 100 rows, the Table limit).
type Waiting<M> = { m: M; done: (e?: unknown) => void };

export class GroupCommit<M> {
  private readonly writing = new Map<string, { next: Waiting<M>[] }>();

  constructor(private readonly write: (partition: string, batch: M[]) => Promise<void>) {}

  persist(partition: string, m: M): Promise<void> {
    return new Promise((resolve, reject) => {
      const done = (e?: unknown) => (e ? reject(e) : resolve());
      const w = this.writing.get(partition);
      if (w) {
        w.next.push({ m, done });
        return;
      }
      const state = { next: [] as Waiting<M>[] };
      this.writing.set(partition, state);
      const flush = async (batch: Waiting<M>[]) => {
        try {
          await this.write(partition, batch.map((b) => b.m));
          for (const b of batch) b.done();
        } catch (err) {
          for (const b of batch) b.done(err);
        }
        if (state.next.length) void flush(state.next.splice(0, 100));
        else this.writing.delete(partition);
      };
      void flush([{ m, done }]);
    });
  }
}
