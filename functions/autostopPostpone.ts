// POST /api/instances/{name}/autostop/postpone — the one click behind autoStop.warning: every
// stop due within the warning window (idle or scheduled) moves back by the idle timeout. Rules
// in shared/idle.ts (postponeAutoStop); here: authorize, write, answer the instance.
import { AppError } from "../shared/errors";
import { postponeAutoStop } from "../shared/idle";
import { apiRoute } from "./http/api";
import { ROUTES } from "../shared/api/routes";
import { loadInstance } from "./instances";
import { updateInstance } from "./instanceUpdate";
import { toInstanceResponse } from "./instanceView";
import { getSettings } from "../services/root";

apiRoute(ROUTES.postponeAutoStop, async ({ principal, params }) => {
  const got = await loadInstance(principal, params.name, "instance:activity");
  const settings = getSettings();
  const now = new Date();
  const stored = await updateInstance(
    got.record.name,
    (rec) => {
      const change = postponeAutoStop(rec, rec.jobs, now, settings);
      if (change === null) {
        throw new AppError("NothingToPostpone", `No stop of instance '${rec.name}' is due within ${settings.autostopWarningMinutes} minutes.`, 409);
      }
      return { ...rec, ...change };
    },
    got,
  );
  return { status: 200, body: toInstanceResponse(stored.record, now, settings), headers: { ETag: stored.etag } };
});
