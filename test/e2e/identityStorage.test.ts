// The app on identity-based storage end to end, as in Azure: no connection string and no
// account key anywhere, only AzureWebJobsStorage__blobServiceUri/__queueServiceUri/
// __tableServiceUri + __credential=managedidentity + __clientId. Azurite runs on HTTPS with
// OAuth and accepts the emulator's managed-identity tokens, so the host's bindings, the durable
// task hub, the stores and health all go through ManagedIdentityCredential.
// Before identity-based settings were accepted, this stack did not even start (settings error).
import { afterAll, beforeAll, expect, test } from "vitest";
import { eventually, startStack, type Stack } from "../support/stack";

let stack: Stack;
beforeAll(async () => {
  stack = await startStack({ storage: "identity", env: { INSTANCE_POLL_INITIAL_MS: "50", INSTANCE_POLL_MAX_MS: "500" } });
});
afterAll(() => stack?.stop());

test("no key in the app's settings: health is ok and an instance goes Running and away", async () => {
  expect(Object.values(stack.settings).some((v) => /AccountKey=/i.test(v))).toBe(false);
  expect(stack.settings.AzureWebJobsStorage__credential).toBe("managedidentity");

  const health = await stack.api<{ status: string }>("GET", "/api/health");
  expect(health.status, health.text).toBe(200);

  const put = await stack.api("PUT", "/api/instances/id-storage-1", { as: "alice", body: { vmSize: "Standard_D2s_v5" } });
  expect(put.status, put.text).toBe(201);
  const running = await eventually(
    () => stack.api<{ state: string; lastOperation?: unknown }>("GET", "/api/instances/id-storage-1", { as: "alice" }),
    (r) => r.status === 200 && ["Running", "CreateFailed"].includes(r.body.state), 60_000, 100,
  );
  expect(running.body.state, JSON.stringify(running.body.lastOperation)).toBe("Running");
  expect((await stack.api("DELETE", "/api/instances/id-storage-1", { as: "alice" })).status).toBe(202);
  await eventually(() => stack.api("GET", "/api/instances/id-storage-1", { as: "alice" }), (r) => r.status === 404, 60_000, 100);
});
