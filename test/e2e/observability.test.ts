// Observability end to end (issue 15), on one stack: the host's log of a whole run — a create,
// a job with secret variables that the agent runs with its managed identity and SAS log URLs,
// a forged agent report, a stop — is structured (one JSON line per event with its ids) and
// holds none of the secrets that passed through the app.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DEV_KEY } from "../../local/shared/azurite";
import { startStack, TOKENS, type Stack } from "../support/stack";
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
