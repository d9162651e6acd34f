// POST /api/instances/{name}/activity — a heartbeat from an agent or notebook extension on the
// VM (api.md "Activity"): someone is using the instance, so idle shutdown waits. Authorised
// like other writes to the instance (its user or an admin; readers 403, others 404). The
// write is coarse (recordActivity skips it when the last one is < 30 s old), so agents may
// call every minute without loading the table. Answers 204.
import { NotFoundError } from "../shared/errors";
import { instanceName } from "../shared/schemas/common";
import { assertAuthorized } from "../shared/rbac";
import { parseWith } from "../shared/validation";
import { apiRoute } from "./http/api";
import { recordActivity } from "./instanceActivity";
import { instanceStores } from "./instanceStores";

apiRoute("instanceActivity", { route: "instances/{name}/activity", methods: ["POST"] }, async ({ principal, params }) => {
  const parsed = parseWith(instanceName, params.name, "name");
  if (!parsed.ok) throw parsed.error;
  const found = await instanceStores().instances.get(parsed.value);
  if (found === undefined) throw NotFoundError.resource("Instance", parsed.value);
  assertAuthorized(principal, "instance:activity", { instance: { name: found.record.name, assignedUser: found.record.assignedUser } });
  await recordActivity(found.record.name, new Date());
  return { status: 204 };
});
