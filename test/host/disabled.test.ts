// Functions turned off by app settings (AzureWebJobs.<name>.Disabled), as the Functions host
// reads them: not served at all, and durable calls to them fail naming them.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestAzurite, type AzuriteProcess } from "../support/azurite";
import { startHost, type TestHost } from "../support/host";
import { FIXTURE_APP, MASTER_KEY, start, waitFor } from "../durable/support";

let azurite: AzuriteProcess;
let host: TestHost;

beforeAll(async () => {
  azurite = await startTestAzurite();
  host = await startHost({
    appDir: FIXTURE_APP,
    env: {
      AzureWebJobsStorage: azurite.connectionString,
      LOCAL_MASTER_KEY: MASTER_KEY,
      "AzureWebJobs.Hello.Disabled": "true",
      // The form environment variables take on Linux.
      AzureWebJobs_StartOrchestration_Disabled: "1",
      // Anything but true or 1 leaves a function on.
      "AzureWebJobs.Double.Disabled": "false",
    },
  });
});
afterAll(async () => {
  await host?.stop();
  await azurite?.stop();
});

describe("disabled functions", () => {
  it("a disabled HTTP function answers 404, as one that does not exist", async () => {
    const res = await fetch(`${host.baseUrl}/api/orchestrators/Sequence`, { method: "POST" });
    expect(res.status).toBe(404);
    expect(host.output()).toContain("Function 'StartOrchestration' is disabled");
  });

  it("an orchestration calling a disabled activity fails naming it; an enabled one runs", async () => {
    const failed = await waitFor(host.baseUrl, await start(host.baseUrl, "Sequence", ["Oslo"]));
    expect(failed.runtimeStatus).toBe("Failed");
    expect(String(failed.output)).toContain("The activity function 'Hello' doesn't exist, is disabled, or is not an activity function.");
    const doubled = await waitFor(host.baseUrl, await start(host.baseUrl, "FanOut", 3));
    expect(doubled).toMatchObject({ runtimeStatus: "Completed", output: 6 });
  });
});
