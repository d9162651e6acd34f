// Observability end to end (issue 15), on one stack: the host's log of a whole run — a create,
// a job with secret variables that the agent runs with its managed identity and SAS log URLs,
// a forged agent report, a stop — is structured (one JSON line per event with its ids) and
// holds none of the secrets that passed through the app.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DEV_KEY } from "../../local/shared/azurite";
import { eventually, startStack, TOKENS, type Stack } from "../support/stack";
import { runningInstance, submit, waitJob } from "./jobs.support";

let stack: Stack;
beforeAll(async () => {
  stack = await startStack();
}, 120_000);
afterAll(() => stack?.stop());

/** The app's own lines (category Function.<name>.User): every JSON object the host printed for a function. */
function appEvents(output: string): Record<string, unknown>[] {
  const events: Record<string, unknown>[] = [];
  for (const line of output.split("\n")) {
    const m = /^\[Functions\.[^\]]+\] (\{.*\})$/.exec(line);
    if (m) events.push(JSON.parse(m[1]!) as Record<string, unknown>);
  }
  return events;
}

describe("structured logs", () => {
  it("an e2e run: one JSON line per event with its ids, and no secret anywhere in the host's log", async () => {
    const variable = `v4r-${Math.random().toString(36).slice(2)}-secret`;
    const functionKey = `key-${Math.random().toString(36).slice(2)}`;
    await runningInstance(stack, "obs-1");
    const job = await submit(stack, "obs-1", { name: "with-secret", command: "echo $MY_TOKEN | wc -c", environment: { variables: { MY_TOKEN: variable } } });
    expect((await waitJob(stack, job.id)).state).toBe("Completed");
    // A key in a query string (as `?code=` is sent to function-key routes) and a forged report.
    expect((await stack.api("GET", `/api/instances/obs-1?code=${functionKey}`, { as: "alice" })).status).toBe(200);
    expect((await stack.api("POST", `/api/agent/jobs/${job.id}/reports`, { as: "bob", body: { kind: "heartbeat" } })).status).toBe(403);
    expect((await stack.api("POST", "/api/instances/obs-1/stop", { as: "alice" })).status).toBe(202);

    const output = stack.host.output();
    const events = appEvents(output);
    // Every event has the four fields; the requests carry who and what.
    for (const e of events) expect(e).toMatchObject({ timestamp: expect.any(String), level: expect.any(String), message: expect.any(String) });
    const submitLine = events.find((e) => e.job === job.id && e.method === "POST" && e.status === 202);
    expect(submitLine).toMatchObject({ instance: "obs-1", user: "alice", trace: expect.stringMatching(/^[0-9a-f]{32}$/) });
    const stopLine = events.find((e) => e.instance === "obs-1" && e.path === "/api/instances/obs-1/stop");
    expect(stopLine).toMatchObject({ user: "alice", status: 202, operation: expect.any(String) });
    expect(events.find((e) => String(e.message).startsWith("agent report refused"))).toMatchObject({ level: "warning", job: job.id, instance: "obs-1" });

    // The secrets that went through the app in this run.
    const secrets = [variable, functionKey, DEV_KEY, stack.settings.IDENTITY_HEADER!, ...Object.values(TOKENS)];
    for (const s of secrets) expect(output, `the log holds ${s.slice(0, 6)}…`).not.toContain(s);
    expect(output).not.toMatch(/[?&]sig=(?!\[redacted\])/); // SAS signatures
    expect(output).not.toMatch(/eyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{4,}\./); // managed-identity / Entra tokens
    expect(output).not.toMatch(/PRIVATE KEY-----/); // SSH private material
  }, 180_000);
});

type AuditEntry = {
  id: string; at: string; actor: string; action: string; instance?: string; assignedUser?: string; operationId?: string; jobId?: string;
  result: string; httpStatus?: number; reason?: string; error?: { code: string }; endedAt?: string;
};
type Instance = { state: string; lastOperation?: { id: string; name: string; status: string; audit?: string } };

const audit = async (query: string, as: "alice" | "bob" | "admin" | "reader" = "admin") => {
  const res = await stack.api<{ value: AuditEntry[]; nextLink?: string }>("GET", `/api/audit${query}`, { as });
  expect(res.status, res.text).toBe(200);
  return res.body;
};

describe("audit trail", () => {
  it("create and stop by the user: one entry each with the actor, the operation and its result; lastOperation links to it", async () => {
    const before = new Date().toISOString();
    await runningInstance(stack, "aud-1");
    const created = await stack.api<Instance>("GET", "/api/instances/aud-1", { as: "alice" });
    // The create's entry, found through the instance's link, ends Succeeded.
    const link = created.body.lastOperation?.audit;
    expect(link).toMatch(/^\/api\/audit\/\d{13}-[a-z0-9]+$/);
    const entry = await stack.api<AuditEntry>("GET", link!, { as: "alice" });
    expect(entry.status, entry.text).toBe(200);
    expect(entry.body).toMatchObject({ actor: "alice", action: "instance.create", instance: "aud-1", assignedUser: "alice", operationId: created.body.lastOperation!.id, result: "Succeeded", endedAt: expect.any(String) });

    // Stop by alice; bob tries too (refused, 404 to him) and a reader cannot (403).
    expect((await stack.api("POST", "/api/instances/aud-1/stop", { as: "bob" })).status).toBe(404);
    expect((await stack.api("POST", "/api/instances/aud-1/stop", { as: "reader" })).status).toBe(403);
    const stop = await stack.api<{ id: string }>("POST", "/api/instances/aud-1/stop", { as: "alice" });
    expect(stop.status).toBe(202);
    await eventually(async () => (await stack.api<Instance>("GET", "/api/instances/aud-1", { as: "alice" })).body.state, (s) => s === "Stopped", 60_000, 250);
    const stopped = await stack.api<Instance>("GET", "/api/instances/aud-1", { as: "alice" });
    const stopEntry = await stack.api<AuditEntry>("GET", stopped.body.lastOperation!.audit!, { as: "alice" });
    expect(stopEntry.body).toMatchObject({ actor: "alice", action: "instance.stop", operationId: stop.body.id, result: "Succeeded" });

    // The list: newest first, filtered by instance, user and time; refused calls are on it too.
    const all = (await audit(`?instance=aud-1&from=${encodeURIComponent(before)}`)).value;
    expect(all.map((e) => [e.actor, e.action, e.result])).toEqual([
      ["alice", "instance.stop", "Succeeded"],
      ["reader", "instance.stop", "Refused"],
      ["bob", "instance.stop", "Refused"],
      ["alice", "instance.create", "Succeeded"],
    ]);
    expect(all[1]).toMatchObject({ httpStatus: 403, error: { code: "Forbidden" } });
    expect((await audit("?instance=aud-1&user=bob")).value.map((e) => e.httpStatus)).toEqual([404]);
    expect((await audit(`?instance=aud-1&to=${encodeURIComponent(all[3]!.at)}`)).value.map((e) => e.action)).toEqual(["instance.create"]);
    expect((await audit(`?instance=aud-1&from=${encodeURIComponent(new Date(Date.now() + 60_000).toISOString())}`)).value).toEqual([]);
  }, 180_000);

  it("who sees what: admins and readers all, users the entries of their own instances; paged with signed tokens", async () => {
    const forAlice = (await audit("?instance=aud-1", "alice")).value;
    expect(forAlice.length).toBeGreaterThanOrEqual(4);
    expect((await audit("?instance=aud-1", "reader")).value).toEqual(forAlice);
    expect((await audit("?instance=aud-1", "bob")).value).toEqual([]);
    expect((await stack.api("GET", `/api/audit/${forAlice[0]!.id}`, { as: "bob" })).status).toBe(404);
    expect((await stack.api("GET", `/api/audit/${forAlice[0]!.id}`, { as: "reader" })).status).toBe(200);
    expect((await stack.api("GET", "/api/audit")).status).toBe(401);

    // Pages of one, in the same order, through nextLink; a tampered token is a 400.
    const first = await audit("?instance=aud-1&top=1", "alice");
    expect(first.value).toEqual([forAlice[0]]);
    const second = await stack.api<{ value: AuditEntry[] }>("GET", first.nextLink!, { as: "alice" });
    expect(second.body.value).toEqual([forAlice[1]]);
    const url = new URL(first.nextLink!);
    const token = url.searchParams.get("continuationToken")!;
    url.searchParams.set("continuationToken", `${token.slice(0, -2)}xx`);
    expect((await stack.api<{ error: { target?: string; details?: { target: string }[] } }>("GET", url.toString(), { as: "alice" })).status).toBe(400);
    // Another list's token (bob's view of the same query) is refused too.
    expect((await stack.api("GET", first.nextLink!.replace("instance=aud-1", "instance=aud-2"), { as: "alice" })).status).toBe(400);

    // Bad filters name their field.
    const bad = await stack.api<{ error: { details?: { target: string }[]; target?: string } }>("GET", "/api/audit?from=yesterday&colour=red", { as: "alice" });
    expect(bad.status).toBe(400);
    expect(bad.text).toMatch(/from/);
  }, 60_000);
});
