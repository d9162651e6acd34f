// An episode the task hub refuses to store — here a 1 MB output on a connection string with
// no blob endpoint, so it cannot leave the row — fails the orchestration with an error saying
// why after a few attempts. Before, the engine retried the write every 500 ms forever,
// re-running the orchestrator each time.
import path from "node:path";
import { afterAll, beforeAll, expect, it } from "vitest";
import { startInProcessHost, type InProcessHost } from "../../bench/durable/harness";
import { startTestAzurite, type AzuriteProcess } from "../support/azurite";
import { start, waitFor } from "./support";

const APP = path.resolve(__dirname, "../fixtures/durable-extras-app");

let azurite: AzuriteProcess;
let host: InProcessHost;

beforeAll(async () => {
  azurite = await startTestAzurite();
  const tableOnly = azurite.connectionString
    .split(";")
    .filter((p) => !/^(BlobEndpoint|QueueEndpoint)=/.test(p))
    .join(";");
  host = await startInProcessHost({ appDir: APP, connectionString: tableOnly, quiet: true });
}, 60_000);
afterAll(async () => {
  await host?.stop();
  await azurite?.stop();
});

it("fails the orchestration cleanly after bounded retries, and the engine goes idle", async () => {
  const id = await start(host.baseUrl, "BigOutput", { bytes: 1024 * 1024 });
  const s = await waitFor(host.baseUrl, id, undefined, 60_000);
  expect(s.runtimeStatus).toBe("Failed");
  expect(s.output).toMatch(/^Orchestrator function 'BigOutput' failed: The task hub could not store the orchestration's state: .*names no blob endpoint/);
  expect(JSON.stringify(s).length).toBeLessThan(2000);
  // Nothing keeps retrying once it failed.
  await host.engine.whenIdle();
  // Small orchestrations still run on this hub.
  const ok = await start(host.baseUrl, "Small");
  expect((await waitFor(host.baseUrl, ok)).output).toBe(4);
}, 90_000);
