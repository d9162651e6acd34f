// Delivering what a committed batch or episode sent (its outbox row): the entries go out in
// order, one chain per sending partition, then the row is deleted. At least once: a row
// delivered before a crash is delivered again after it, and receivers recognise the copies
// by their message keys.
import type { EntityStore } from "./store";
import type { EntityMessage, OutboxEntry, ResponseMessage } from "./types";

/** Outbox rows this process delivered (or is delivering): the start-up scan and an entity's load both find them. */
const DELIVERED_MEMORY = 20_000;

export type OutboxDeliveryOptions = {
  store: EntityStore;
  toEntity(id: string, rowKey: string, msg: EntityMessage): Promise<void>;
  /** Delivers a message row to an orchestration instance (dropped if it is gone or finished). */
  toOrchestration(instanceId: string, rowKey: string, msg: unknown): Promise<void>;
  log(level: "warning" | "error", message: string): void;
  stopped(): boolean;
};

export class OutboxDelivery {
  /** Deliveries of one sender run in order: a chain per sending partition. */
  private readonly chains = new Map<string, Promise<void>>();
  private readonly delivered = new Set<string>();

  constructor(private readonly o: OutboxDeliveryOptions) {}

  /** Sends the entries of a committed outbox row in order, then deletes the row. */
  deliver(partition: string, rowKey: string, entries: OutboxEntry[]): void {
    const key = `${partition}\u0000${rowKey}`;
    if (this.delivered.has(key)) return;
    this.delivered.add(key);
    if (this.delivered.size > DELIVERED_MEMORY) this.delivered.delete(this.delivered.values().next().value!);
    const prev = this.chains.get(partition) ?? Promise.resolve();
    const next = prev.then(async () => {
      for (let attempt = 0; ; attempt++) {
        try {
          for (const e of entries) await this.deliverOne(partition, e);
          await this.o.store.deleteRow(partition, rowKey);
          return;
        } catch (err) {
          if (this.o.stopped()) return;
          this.o.log("warning", `durable: delivering messages of '${partition}' failed, retrying: ${(err as Error).message}`);
          await sleep(Math.min(5000, 200 * 2 ** attempt));
        }
      }
    });
    this.chains.set(partition, next);
    void next.finally(() => {
      if (this.chains.get(partition) === next) this.chains.delete(partition);
    });
  }

  private async deliverOne(from: string, e: OutboxEntry): Promise<void> {
    try {
      if (e.to.startsWith("@")) await this.o.toEntity(e.to, e.rowKey, e.msg as EntityMessage);
      else await this.o.toOrchestration(e.to, e.rowKey, e.msg);
    } catch (err) {
      const status = (err as { statusCode?: number }).statusCode;
      const msg = e.msg as { kind?: string; name?: string };
      if ((status !== 400 && status !== 413) || e.to.startsWith("@") || msg.kind !== "event") throw err;
      // A reply storage refuses for good (too large for a message row): the caller gets an error instead of waiting forever.
      const message = `the reply of '${from}' could not be delivered: ${(err as Error).message.split("\n")[0]}`;
      this.o.log("error", `durable: ${message}`);
      const input = JSON.stringify({ result: JSON.stringify(message), exceptionType: "Error" } satisfies ResponseMessage);
      await this.o.toOrchestration(e.to, e.rowKey, { ...msg, input });
    }
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
