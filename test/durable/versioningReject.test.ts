// Orchestration versioning with the Reject failure strategy (DurableTask's default): an instance
// of a version this worker does not take waits for one that does. Its own file: one in-process
// host per test process.
import { describe, expect, it } from "vitest";
import type { HostJson } from "../../local/host/settings";
import { http, start, useFixtureHost, waitFor } from "./support";

const withDurableTask = (extra: Record<string, unknown>) => (h: HostJson): HostJson => ({
  ...h,
  extensions: { ...h.extensions, durableTask: { ...h.extensions?.durableTask, ...extra } },
});

describe("versioning: Strict, Reject (the default failure strategy)", () => {
  const fx = useFixtureHost(withDurableTask({ defaultVersion: "2.0", versionMatchStrategy: "Strict" }));

  it("an instance of another version waits for a worker that matches, and can still be terminated", async () => {
    const started = await http(fx.base, "POST", "/runtime/webhooks/durabletask/orchestrators/Versioned?version=1.0", "", true);
    const other = (started.json as { id: string }).id;
    // The same worker runs its own version meanwhile.
    expect((await waitFor(fx.base, await start(fx.base, "Versioned"))).output).toBe("Version: '2.0'");
    expect((await waitFor(fx.base, other, () => true)).runtimeStatus).toBe("Pending");
    expect((await http(fx.base, "POST", `/runtime/webhooks/durabletask/instances/${other}/terminate?reason=retired`)).status).toBe(202);
    expect((await waitFor(fx.base, other)).runtimeStatus).toBe("Terminated");
  });
});
