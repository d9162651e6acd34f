// Read-modify-write of one instance record under its ETag, retried when someone else wrote in
// between (the jobs workflow, the orchestrations and agents all write the same row).
import { AppError, NotFoundError, PreconditionFailedError } from "../shared/errors";
import type { InstanceRecord } from "../shared/instances/record";
import type { Stored } from "../shared/store/recordTable";
import { stores } from "../services/root";

/**
 * `change` answers the new record, or undefined to write nothing. Answers what is stored after.
 * `inHand`: a record just read, tried first.
 */
export async function updateInstance(
  name: string,
  change: (rec: InstanceRecord) => InstanceRecord | undefined,
  inHand?: Stored<InstanceRecord>,
): Promise<Stored<InstanceRecord>> {
  const { instances } = stores();
  for (let attempt = 1; attempt <= 10; attempt++) {
    const got = attempt === 1 && inHand ? inHand : await instances.get(name);
    if (!got) throw NotFoundError.resource("Instance", name);
    const next = change(got.record);
    if (next === undefined) return got;
    try {
      return await instances.update(next, got.etag);
    } catch (err) {
      if (!(err instanceof PreconditionFailedError)) throw err;
    }
  }
  throw new AppError("Contention", `Instance '${name}' kept changing; try again.`, 503, { retryable: true });
}
