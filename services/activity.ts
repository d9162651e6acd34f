// Activity of use (api.md): what keeps an instance from idle shutdown. Coarse on purpose: a
// busy notebook heartbeats often, and one table write per 30 s is enough for minute-level
// idle timeouts.
import { NotFoundError, PreconditionFailedError } from "../shared/errors";
import type { InstanceRecord } from "../shared/instances/record";
import type { InstanceStore } from "../shared/store/instances";
import type { Stored } from "../shared/store/recordTable";

export const ACTIVITY_WRITE_INTERVAL_MS = 30_000;

export function createActivityService(deps: { instances: InstanceStore<InstanceRecord> }) {
  const { instances } = deps;

  /**
   * Sets lastActivityAt = at (never moves it back); skips the write if the stored one is < 30 s older.
   * `inHand`: the record the caller just read, tried first (a conflict re-reads it).
   */
  async function recordActivity(name: string, at: Date = new Date(), inHand?: Stored<InstanceRecord>): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      const got = attempt === 1 && inHand ? inHand : await instances.get(name);
      if (!got) throw NotFoundError.resource("Instance", name);
      const last = got.record.lastActivityAt ? Date.parse(got.record.lastActivityAt) : NaN;
      if (!Number.isNaN(last) && at.getTime() - last < ACTIVITY_WRITE_INTERVAL_MS) return;
      try {
        await instances.update({ ...got.record, lastActivityAt: at.toISOString() }, got.etag);
        return;
      } catch (err) {
        if (!(err instanceof PreconditionFailedError) || attempt >= 10) throw err;
      }
    }
  }

  return { recordActivity };
}

export type ActivityService = ReturnType<typeof createActivityService>;
