// POST /api/agent/instances/{name}/signals — the VM agent's periodic report of what keeps the
// machine busy (and which applications its proxy serves). Accepted only from the managed
// identity of that instance's VM, as job reports are (functions/agent.ts); anything else 403.
import { ForbiddenError, NotFoundError } from "../shared/errors";
import { INSTANCE_NAME_PATTERN } from "../shared/schemas/common";
import { callerResourceId, instanceVmResourceId } from "../shared/jobs/agent";
import { agentSignalsReport, applySignals, signalsNeedWrite } from "../shared/instances/agentSignals";
import { parseWith } from "../shared/validation";
import { apiRoute } from "./http/api";
import { ROUTES } from "../shared/api/routes";
import { updateInstance } from "./instanceUpdate";
import { getSettings } from "../services/root";

/** Reports only change what runs the VM; a stopped or deleting instance ignores a late one. */
const REPORTING_STATES = new Set(["Running", "JobRunning", "SettingUp", "Starting", "Restarting"]);

apiRoute(ROUTES.reportSignals, async ({ ctx, req, params, body }) => {
  const name = params.name ?? "";
  if (!INSTANCE_NAME_PATTERN.test(name)) throw NotFoundError.resource("Instance", name);
  const settings = getSettings();
  const caller = callerResourceId(req.headers.get("x-ms-client-principal"));
  if (!caller || caller.toLowerCase() !== instanceVmResourceId(settings.subscriptionId, settings.resourceGroup, name).toLowerCase()) {
    ctx.warn(`agent signals refused: instance ${name} reported by ${caller ?? "a caller without a managed identity"}`);
    throw new ForbiddenError("Only the agent of this instance's VM may report its signals.");
  }
  const parsed = parseWith(agentSignalsReport, body);
  if (!parsed.ok) throw parsed.error;
  const now = new Date();
  const interval = settings.agentSignalsSeconds;
  await updateInstance(name, (rec) =>
    REPORTING_STATES.has(rec.state) && signalsNeedWrite(rec, parsed.value, now, interval) ? applySignals(rec, parsed.value, now, interval) : undefined,
  );
  // The interval comes back so a settings change reaches running agents without a re-create.
  return { status: 200, body: { intervalSeconds: settings.agentSignalsSeconds } };
});
