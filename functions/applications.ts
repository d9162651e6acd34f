// Opening the workstation's applications (terminal, Jupyter, JupyterLab):
// - POST /api/instances/{name}/applications/{app}/sessions — the assigned user (nobody else, not
//   even an admin: it is their shell) gets a URL on the VM's proxy with a single-use ticket;
// - POST /api/agent/instances/{name}/tickets — that instance's agent redeems the ticket (once,
//   before it expires) and learns whose session it starts.
import { AppError, ForbiddenError, NotFoundError } from "../shared/errors";
import { callerResourceId, instanceVmResourceId } from "../shared/jobs/agent";
import { APPLICATION_NAMES, type ApplicationName } from "../shared/instances/agentSignals";
import { applicationViews, createTicketStore, newTicket, TICKET_TTL_SECONDS, type TicketStore } from "../shared/instances/applications";
import { sameIncarnation } from "../shared/instances/record";
import { INSTANCE_NAME_PATTERN } from "../shared/schemas/common";
import { apiRoute } from "./http/api";
import { ROUTES } from "../shared/api/routes";
import { loadInstance } from "./instances";
import { getClients, getSettings, stores } from "../services/root";

let tickets: TicketStore | undefined;
const ticketStore = () => (tickets ??= createTicketStore(getClients().storage));

function applicationName(raw: string | undefined): ApplicationName {
  const name = (raw ?? "").toLowerCase();
  if (!(APPLICATION_NAMES as readonly string[]).includes(name)) throw NotFoundError.resource("Application", raw ?? "");
  return name as ApplicationName;
}

apiRoute(ROUTES.openApplication, async ({ principal, params }) => {
  const got = await loadInstance(principal, params.name, "instance:activity");
  const rec = got.record;
  if (principal.userId !== rec.assignedUser) throw new ForbiddenError(`Only ${rec.assignedUser}, the instance's assigned user, may open its applications.`);
  const app = applicationName(params.app);
  const view = applicationViews(rec).find((a) => a.name === app)!;
  if (view.state !== "Available" || !view.url) throw new AppError("ApplicationNotAvailable", `${view.title} is not available: ${view.message ?? view.state}`, 409);
  const ticket = newTicket();
  const expiresAt = new Date(Date.now() + TICKET_TTL_SECONDS * 1000).toISOString();
  await ticketStore().put(ticket, { instance: rec.name, ...(rec.instanceId ? { instanceId: rec.instanceId } : {}), application: app, user: rec.assignedUser, expiresAt });
  return { status: 201, body: { application: app, url: `${view.url}?ticket=${ticket}`, expiresAt }, headers: { "Cache-Control": "no-store" } };
});

apiRoute(ROUTES.redeemTicket, async ({ ctx, req, params, body }) => {
  const name = params.name ?? "";
  if (!INSTANCE_NAME_PATTERN.test(name)) throw NotFoundError.resource("Instance", name);
  const settings = getSettings();
  const caller = callerResourceId(req.headers.get("x-ms-client-principal"));
  if (!caller || caller.toLowerCase() !== instanceVmResourceId(settings.subscriptionId, settings.resourceGroup, name).toLowerCase()) {
    ctx.warn(`ticket redeem refused: instance ${name} asked by ${caller ?? "a caller without a managed identity"}`);
    throw new ForbiddenError("Only the agent of this instance's VM may redeem its tickets.");
  }
  const b = (body ?? {}) as { ticket?: unknown; application?: unknown };
  if (typeof b.ticket !== "string" || b.ticket.length > 200 || typeof b.application !== "string") {
    throw new AppError("InvalidRequest", "ticket and application are required strings.", 400);
  }
  const invalid = () => new AppError("TicketInvalid", "The ticket is unknown, already used, expired, or for another application.", 403);
  const taken = await ticketStore().take(name, b.ticket);
  if (!taken || taken.application !== b.application || Date.parse(taken.expiresAt) <= Date.now()) throw invalid();
  // A ticket of an earlier instance of this name opens nothing on a later one.
  const current = await stores().instances.get(name);
  if (!current || !sameIncarnation(current.record, taken) || current.record.assignedUser !== taken.user) throw invalid();
  return { status: 200, body: { user: taken.user, application: taken.application } };
});
