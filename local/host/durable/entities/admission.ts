// Which messages an entity's next batch runs, as the extension's entity scheduler decides:
// pure rules over the entity's record (its queue, its lock, the message keys it consumed).
import type { StoredEntityMessage } from "./store";
import type { EntityMessage, EntityRecord, RequestMessage } from "./types";

/**
 * Consumed message keys an entity remembers: more than the deliveries that can be in flight when
 * the process dies (the outbox rows delivered but not yet deleted), so each copy is recognised.
 */
const RECENT_KEYS = 1000;

/** A message some sender may deliver again after a crash (clients' signals are persisted once, before they return). */
const fromSender = (m: EntityMessage) => (m.kind === "op" ? m.req.parent !== undefined : true);

export const mayDequeue = (r: EntityRecord) => r.queue.length > 0 && (r.lockedBy === undefined || r.lockedBy === r.queue[0]!.parent);

/**
 * Takes a batch's messages into the entity's queue and picks the operations it runs: copies of
 * messages consumed before (redelivered after a crash) have no effect; requests of the lock
 * holder go before everything queued; a release by the holder unlocks; the batch stops at a
 * lock request.
 */
export function admit(rec: EntityRecord, taken: StoredEntityMessage[], maxBatch: number): { ops: RequestMessage[]; lockRequest?: RequestMessage } {
  // Copies of messages consumed before (redelivered after a crash) are consumed without effect.
  const seen = new Set(rec.recent ?? []);
  const fresh = taken.filter((m) => !seen.has(m.rowKey));
  const recent = [...(rec.recent ?? []), ...fresh.filter((m) => fromSender(m.msg)).map((m) => m.rowKey)];
  rec.recent = recent.slice(Math.max(0, recent.length - RECENT_KEYS));
  // Delivery: requests of the lock holder go before everything queued; a release by the holder unlocks.
  const holder: RequestMessage[] = [];
  for (const { msg } of fresh) {
    if (msg.kind === "op") {
      if (rec.lockedBy !== undefined && rec.lockedBy === msg.req.parent) holder.push(msg.req);
      else rec.queue.push(msg.req);
    } else if (rec.lockedBy === msg.rel.parent) rec.lockedBy = undefined;
  }
  rec.queue = [...holder, ...rec.queue];
  const ops: RequestMessage[] = [];
  let lockRequest: RequestMessage | undefined;
  while (mayDequeue(rec) && ops.length < maxBatch) {
    const r = rec.queue.shift()!;
    if (r.lockset) {
      lockRequest = r;
      break;
    }
    ops.push(r);
  }
  return { ops, lockRequest };
}
