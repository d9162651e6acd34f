// `npm start` start-up problems are one clear line on stderr, no stack trace, exit code 1.
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { expect, it } from "vitest";
import { freePort } from "../../local/shared/azurite";
import { REPO_ROOT } from "../support/host";

const START = path.join(REPO_ROOT, "dist", "local", "start.js");

async function ports(): Promise<Record<string, string>> {
  return {
    PORT: String(await freePort()),
    AZURITE_BLOB_PORT: String(await freePort()),
    AZURITE_QUEUE_PORT: String(await freePort()),
    AZURITE_TABLE_PORT: String(await freePort()),
    CLOUD_PORT: String(await freePort()),
    CLOUD_IDENTITY_PORT: String(await freePort()),
    DATA_DIR: fs.mkdtempSync(path.join(os.tmpdir(), "start-err-")),
  };
}

function runStart(env: Record<string, string>) {
  // Async spawn would be needed if start succeeded; every case here fails before starting anything.
  return spawnSync(process.execPath, [START], { env: { ...process.env, ...env }, encoding: "utf8", timeout: 60_000 });
}

it("reports a taken port in one line", async () => {
  const env = await ports();
  const blocker = net.createServer();
  await new Promise<void>((r) => blocker.listen(Number(env.AZURITE_QUEUE_PORT), "127.0.0.1", r));
  try {
    const r = runStart(env);
    expect(r.status).toBe(1);
    expect(r.stderr.trim().split("\n")).toEqual([
      `npm start: port ${env.AZURITE_QUEUE_PORT} (AZURITE_QUEUE_PORT) is already in use on 127.0.0.1: stop what uses it or set AZURITE_QUEUE_PORT to another port`,
    ]);
  } finally {
    blocker.close();
  }
});

it("reports a missing or invalid setting in one line", async () => {
  const env = await ports();
  const file = path.join(env.DATA_DIR!, "settings.json");
  fs.writeFileSync(file, JSON.stringify({ Values: { LOCAL_PRINCIPALS: "{}" } }));
  const missing = runStart({ ...env, LOCAL_SETTINGS: file, AzureWebJobsStorage: "" });
  expect(missing.status).toBe(1);
  expect(missing.stderr.trim().split("\n")).toHaveLength(1);
  expect(missing.stderr).toContain("setting AzureWebJobsStorage is missing");

  fs.writeFileSync(file, JSON.stringify({ Values: { AzureWebJobsStorage: "UseDevelopmentStorage=true", LOCAL_PRINCIPALS: "{not json" } }));
  const invalid = runStart({ ...env, LOCAL_SETTINGS: file });
  expect(invalid.status).toBe(1);
  expect(invalid.stderr.trim().split("\n")).toHaveLength(1);
  expect(invalid.stderr).toContain("LOCAL_PRINCIPALS is not valid JSON");

  const badPort = runStart({ ...env, PORT: "seventy" });
  expect(badPort.stderr.trim()).toBe('npm start: PORT must be a port number 1..65535 (got "seventy")');
});
