// The durable extension's trace line for an orchestration a client starts, as `func start` prints it.
import { afterAll, beforeAll, expect, it } from "vitest";
import { startTestAzurite, type AzuriteProcess } from "../support/azurite";
import { startHost, type TestHost } from "../support/host";
import { FIXTURE_APP, MASTER_KEY, start, waitFor } from "./support";

let azurite: AzuriteProcess;
let host: TestHost;

beforeAll(async () => {
  azurite = await startTestAzurite();
  host = await startHost({ appDir: FIXTURE_APP, env: { AzureWebJobsStorage: azurite.connectionString, LOCAL_MASTER_KEY: MASTER_KEY } });
});
afterAll(async () => {
  await host?.stop();
  await azurite?.stop();
});

it("a client start logs FunctionScheduled with the instance id, and no input", async () => {
  const id = await start(host.baseUrl, "Sequence", ["a-secret-looking-input"]);
  await waitFor(host.baseUrl, id);
  const line = host.output().split("\n").find((l) => l.includes(`${id}: Function 'Sequence (Orchestrator)' scheduled.`));
  expect(line).toMatch(/scheduled\. Reason: NewInstance\. IsReplay: False\. State: Scheduled\. RuntimeStatus: Pending\. HubName: DurableFixtureHub\./);
  expect(host.output()).not.toContain("a-secret-looking-input");
});
