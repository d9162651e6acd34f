// The health checks: ok only when storage (Blob, Queue, Table) and the cloud (ARM, Files)
// all answer; 503 names what is down.
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, expect, it } from "vitest";
import { runHealthChecks } from "../../functions/health";
import { startCloudEmulator, type CloudEmulator } from "../../local/cloud/emulator";
import { applyLocalSettings } from "../../local/host/settings";
import { connectionStringFor, freePort } from "../../local/shared/azurite";
import { REPO_ROOT } from "../support/host";
import { startTestAzurite, type AzuriteProcess } from "../support/azurite";

let azurite: AzuriteProcess;
let cloud: CloudEmulator;
let dataDir: string;
const savedEnv = { ...process.env };

beforeAll(async () => {
  dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "health-"));
  azurite = await startTestAzurite();
  cloud = await startCloudEmulator({ dataDir, port: 0, latencyProfile: "none" });
  applyLocalSettings(REPO_ROOT, process.env);
  Object.assign(process.env, {
    AzureWebJobsStorage: azurite.connectionString,
    ARM_ENDPOINT: cloud.url,
    ARM_TLS_CA_FILE: cloud.caCertFile,
    IDENTITY_ENDPOINT: cloud.identity.endpoint,
    IDENTITY_HEADER: cloud.identity.header,
    WORKSPACE_FILES_ENDPOINT: `${cloud.url}/files/wslocalfiles`,
    AZURE_SDK_MAX_RETRIES: "0",
  });
});
afterAll(async () => {
  process.env = savedEnv;
  await cloud?.stop();
  await azurite?.stop();
  fs.rmSync(dataDir, { recursive: true, force: true });
});

it("is ok when storage and the cloud answer", async () => {
  expect(await runHealthChecks()).toEqual({
    status: "ok",
    checks: {
      blob: { status: "ok" },
      queue: { status: "ok" },
      table: { status: "ok" },
      arm: { status: "ok" },
      files: { status: "ok" },
    },
  });
});

it("names each dependency that is down", async () => {
  // Blob and Queue on Azurite, Table on a closed port.
  const closed = await freePort();
  const good = process.env.AzureWebJobsStorage;
  process.env.AzureWebJobsStorage = connectionStringFor({ blob: azurite.ports.blob, queue: azurite.ports.queue, table: closed });
  try {
    const report = await runHealthChecks();
    expect(report.status).toBe("unhealthy");
    expect(report.checks.blob).toEqual({ status: "ok" });
    expect(report.checks.queue).toEqual({ status: "ok" });
    expect(report.checks.table!.status).toBe("down");
    expect(report.checks.table!.error).toBeTruthy();
  } finally {
    process.env.AzureWebJobsStorage = good;
  }
});

it("reports the cloud down when ARM does not answer", async () => {
  const good = process.env.ARM_ENDPOINT;
  process.env.ARM_ENDPOINT = `https://127.0.0.1:${await freePort()}`;
  try {
    const report = await runHealthChecks();
    expect(report.status).toBe("unhealthy");
    expect(report.checks.arm!.status).toBe("down");
    expect(report.checks.blob).toEqual({ status: "ok" });
  } finally {
    process.env.ARM_ENDPOINT = good;
  }
});

it("times out a dependency that does not answer", async () => {
  const hanging = { name: "slow", probe: (signal: AbortSignal) => new Promise((_, reject) => signal.addEventListener("abort", () => reject(signal.reason))) };
  const report = await runHealthChecks([hanging], 200);
  expect(report).toEqual({ status: "unhealthy", checks: { slow: { status: "down", error: expect.stringContaining("no answer") } } });
});
