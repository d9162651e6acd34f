// App and invocation hooks on the local host share data as the Node.js worker shares it:
// one hookData for app start and app terminate, one per invocation for its pre and post hooks.
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestAzurite, type AzuriteProcess } from "../support/azurite";
import { REPO_ROOT, startHost, type TestHost } from "../support/host";

const APP = path.join(REPO_ROOT, "test", "fixtures", "host-hooks");

let azurite: AzuriteProcess;
let host: TestHost | undefined;

beforeAll(async () => {
  azurite = await startTestAzurite();
  host = await startHost({ appDir: APP, env: { AzureWebJobsStorage: azurite.connectionString } });
});
afterAll(async () => {
  await host?.stop();
  await azurite?.stop();
});

describe("hook data", () => {
  it("is shared between app start, invocation and terminate hooks as the worker shares it", async () => {
    await fetch(`${host!.baseUrl}/api/report`);
    const seen = (await (await fetch(`${host!.baseUrl}/api/report`)).json()) as Record<string, unknown>;
    expect(seen).toEqual({
      readOnlyError: "Cannot assign to read only property 'hookData'",
      // Invocation hooks get their own hookData, not app start's, and a new one each time.
      preSawAppLevelHookData: null,
      preSawEarlierInvocation: null,
      postSawHookData: "set in preInvocation",
    });
    await host!.stop();
    expect(host!.output()).toContain("appTerminate saw hookData.startedBy=appStart");
    host = undefined;
  });
});
