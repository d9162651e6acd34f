// The health checks: ok only when Blob, Queue and Table all answer; names what is down.
import { afterAll, beforeAll, expect, it } from "vitest";
import { runHealthChecks } from "../../functions/health";
import { connectionStringFor, freePort } from "../../local/shared/azurite";
import { startTestAzurite, type AzuriteProcess } from "../support/azurite";

let azurite: AzuriteProcess;
const saved = process.env.AzureWebJobsStorage;

beforeAll(async () => {
  azurite = await startTestAzurite();
});
afterAll(async () => {
  process.env.AzureWebJobsStorage = saved;
  await azurite?.stop();
});

it("is ok when storage answers", async () => {
  process.env.AzureWebJobsStorage = azurite.connectionString;
  expect(await runHealthChecks()).toEqual({
    status: "ok",
    checks: { blob: { status: "ok" }, queue: { status: "ok" }, table: { status: "ok" } },
  });
});

it("names each dependency that is down", async () => {
  // Blob and Queue on Azurite, Table on a closed port.
  const closed = await freePort();
  process.env.AzureWebJobsStorage = connectionStringFor({ blob: azurite.ports.blob, queue: azurite.ports.queue, table: closed });
  const report = await runHealthChecks();
  expect(report.status).toBe("unhealthy");
  expect(report.checks.blob).toEqual({ status: "ok" });
  expect(report.checks.queue).toEqual({ status: "ok" });
  expect(report.checks.table!.status).toBe("down");
  expect(report.checks.table!.error).toBeTruthy();
});

it("times out a dependency that does not answer", async () => {
  const hanging = { name: "slow", probe: (signal: AbortSignal) => new Promise((_, reject) => signal.addEventListener("abort", () => reject(signal.reason))) };
  const report = await runHealthChecks([hanging], 200);
  expect(report).toEqual({ status: "unhealthy", checks: { slow: { status: "down", error: expect.stringContaining("no answer") } } });
});
