// Orchestration versioning as DurableTask.Core applies it: host.json durableTask.defaultVersion
// for orchestrations started without one (sub-orchestrations too), context.df.version, and a
// worker that refuses newer versions: the instance fails ("Fail") or waits for a worker that
// matches ("Reject").
import { describe, expect, it } from "vitest";
import type { HostJson } from "../../local/host/settings";
import { http, start, useFixtureHost, waitFor } from "./support";

const withDurableTask = (extra: Record<string, unknown>) => (h: HostJson): HostJson => ({
  ...h,
  extensions: { ...h.extensions, durableTask: { ...h.extensions?.durableTask, ...extra } },
});

async function startVersion(base: string, name: string, version: string): Promise<string> {
  const r = await http(base, "POST", `/runtime/webhooks/durabletask/orchestrators/${name}?version=${encodeURIComponent(version)}`, "", true);
  expect(r.status).toBe(202);
  return (r.json as { id: string }).id;
}

describe("versioning: CurrentOrOlder, Fail", () => {
  const fx = useFixtureHost(withDurableTask({ defaultVersion: "2.0", versionMatchStrategy: "CurrentOrOlder", versionFailureStrategy: "Fail" }));

  it("an orchestration started without a version runs as defaultVersion; one with a version as that", async () => {
    expect((await waitFor(fx.base, await start(fx.base, "Versioned"))).output).toBe("Version: '2.0'");
    expect((await waitFor(fx.base, await startVersion(fx.base, "Versioned", "1.0"))).output).toBe("Version: '1.0'");
  });

  it("a newer version fails with DurableTask's VersionMismatch, without running the orchestrator", async () => {
    const s = await waitFor(fx.base, await startVersion(fx.base, "Versioned", "3.0"), undefined, 30_000, "?showHistory=true");
    expect(s.runtimeStatus).toBe("Failed");
    expect(String(s.output)).toContain("Orchestration version did not comply with Worker Versioning");
    const events = (s.historyEvents ?? []).map((e) => e.EventType);
    expect(events).not.toContain("TaskScheduled"); // the orchestrator never ran
    // Newer by .NET version order, though "10.0" sorts before "2.0" as text.
    expect((await waitFor(fx.base, await startVersion(fx.base, "Versioned", "10.0"))).runtimeStatus).toBe("Failed");
  });

  it("sub-orchestrations take the version they are called with, else defaultVersion", async () => {
    const s = await waitFor(fx.base, await start(fx.base, "VersionedParent"));
    expect(s).toMatchObject({ runtimeStatus: "Completed", output: ["Version: '1.5'", "Version: '2.0'"] });
  });
});
