// Timer triggers through a real host child process: fast six-field schedules, %SETTING%,
// runOnStartup, no overlap, and isPastDue after a restart that missed an occurrence.
import path from "node:path";
import { BlobServiceClient } from "@azure/storage-blob";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestAzurite, type AzuriteProcess } from "../support/azurite";
import { eventually, REPO_ROOT, startHost, type TestHost } from "../support/host";

const APP = path.join(REPO_ROOT, "test", "fixtures", "host-timer");

type Tick = { at: string; isPastDue: boolean; scheduleStatus: { last: string; next: string; lastUpdated: string } | null };
type Retry = { retryCount: number; maxRetryCount: number; exception?: { message?: string } } | null;
type Ticks = { monitored: Tick[]; fromSetting: Tick[]; slow: string[]; slowMaxActive: number; retried: Retry[]; backoff: Retry[] };

let azurite: AzuriteProcess;
let host: TestHost | undefined;

beforeAll(async () => {
  azurite = await startTestAzurite();
});
afterAll(async () => {
  await host?.stop();
  await azurite?.stop();
});

const env = () => ({ AzureWebJobsStorage: azurite.connectionString, FIXTURE_SCHEDULE: "*/2 * * * * *" });
const ticks = async (): Promise<Ticks> => (await (await fetch(`${host!.baseUrl}/api/ticks`)).json()) as Ticks;

describe("timer triggers", () => {
  it("fires on schedule, runs on start-up, resolves %SETTING% and never overlaps itself", async () => {
    host = await startHost({ appDir: APP, env: env() });
    const t = await eventually(ticks, (x) => x.monitored.length >= 2 && x.slow.length >= 2 && x.fromSetting.length >= 1);
    expect(t.fromSetting[0]).toMatchObject({ isPastDue: false, scheduleStatus: null });
    expect(t.monitored[0]!.isPastDue).toBe(false);
    const status = t.monitored[1]!.scheduleStatus!;
    expect(Object.keys(status).sort()).toEqual(["last", "lastUpdated", "next"]);
    expect(Date.parse(status.next)).toBeGreaterThan(Date.parse(status.last));
    expect(t.slowMaxActive).toBe(1);
  });

  it("retries a failed run under its retry policy, with the attempt number on the context", async () => {
    const t = await eventually(ticks, (x) => x.retried.length >= 3 && x.backoff.length >= 3);
    expect(t.retried.map((r) => r?.retryCount)).toEqual([0, 1, 2]);
    expect(t.retried.every((r) => r?.maxRetryCount === 5)).toBe(true);
    expect(t.retried[1]!.exception?.message).toContain("retried fails on attempt 0");
    // maxRetryCount 2: the first run and two retries, then no more until the next occurrence.
    await host!.waitForOutput(/backoff' \(Failed, retry 2 of 2\)/);
    expect((await ticks()).backoff.map((r) => r?.retryCount)).toEqual([0, 1, 2]);
  });

  it("fires once with isPastDue after a restart that missed occurrences", async () => {
    await host!.stop();
    // The schedule status lives where the real host keeps it.
    const blob = BlobServiceClient.fromConnectionString(azurite.connectionString)
      .getContainerClient("azure-webjobs-hosts")
      .getBlobClient("timers/fixture-host-timer/Host.Functions.monitored/status");
    const saved = JSON.parse((await blob.downloadToBuffer()).toString("utf8")) as { Last: string; Next: string; LastUpdated: string };
    // Stay down past the recorded next occurrence (and a couple more), so it is missed.
    const waitMs = Date.parse(saved.Next) + 2500 - Date.now();
    if (waitMs > 0) await new Promise((r) => setTimeout(r, waitMs));

    host = await startHost({ appDir: APP, env: env() });
    const t = await eventually(ticks, (x) => x.monitored.length >= 3);
    expect(t.monitored[0]!.isPastDue).toBe(true);
    expect(t.monitored[0]!.scheduleStatus!.next).toBe(saved.Next);
    expect(t.monitored.filter((x) => x.isPastDue)).toHaveLength(1);
  });
});
