// POST /api/instances/{name}/activity — a heartbeat from an agent or notebook extension on the
// VM (api.md "Activity"): someone is using the instance, so idle shutdown waits. Authorised
// like other writes to the instance (its user or an admin; readers 403, others 404). The
// write is coarse (recordActivity skips it when the last one is < 30 s old), so agents may
// call every minute without loading the table. Answers 204.
import { ROUTES } from "../shared/api/routes";
import { apiRoute } from "./http/api";
import { loadInstance } from "./instances";
import { services } from "../services/root";

apiRoute(ROUTES.reportActivity, async ({ principal, params }) => {
  const got = await loadInstance(principal, params.name, "instance:activity");
  await services().activity.recordActivity(got.record.name, new Date());
  return { status: 204 };
});
