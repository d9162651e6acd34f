// Rewind of a failed orchestration, as Durable Functions on Azure Storage does it: the failed
// tasks run again, what succeeded is replayed from the history, failed sub-orchestrations are
// rewound too, and only a Failed instance can be rewound.
import { describe, expect, it } from "vitest";
import { http, useFixtureHost, start, status, waitFor } from "./support";

const fx = useFixtureHost();

const rewindUrl = (id: string, reason = "retry it") => `/runtime/webhooks/durabletask/instances/${encodeURIComponent(id)}/rewind?reason=${encodeURIComponent(reason)}`;
const failed = (s: { runtimeStatus: string }) => s.runtimeStatus === "Failed";
const key = () => `k${Math.random().toString(36).slice(2)}`;

describe("rewind", () => {
  it("re-runs a failed activity and replays the one that succeeded", async () => {
    const id = await start(fx.base, "RewindActivities", { key: key(), failures: 1, wait: true });
    const before = await waitFor(fx.base, id);
    expect(before.runtimeStatus).toBe("Failed");

    expect(before.customStatus).toBe("started");
    const r = await http(fx.base, "POST", rewindUrl(id, "second try"));
    expect(r.status).toBe(202);
    // Re-run past the failed activity: the status reads Pending (the provider sets it and
    // episodes do not change it) and the old output stays until the instance ends.
    const waiting = await waitFor(fx.base, id, (x) => x.customStatus === "waiting");
    expect(waiting.runtimeStatus).toBe("Pending");
    expect(String(waiting.output)).toContain("failure 1 of");
    await http(fx.base, "POST", `/runtime/webhooks/durabletask/instances/${id}/raiseEvent/Go`, true);

    const s = await waitFor(fx.base, id, (x) => x.runtimeStatus === "Completed" || failed(x));
    expect(s.runtimeStatus).toBe("Completed");
    // First activity: its result from the history (ran once); the failing one: its second run.
    expect(s.output).toEqual([1, 2]);

    // The failure events are gone from the history the orchestration replays.
    const h = await status(fx.base, id, "?showHistory=true");
    const types = h.historyEvents!.map((e) => e.EventType);
    expect(types).not.toContain("TaskFailed");
    expect(types.filter((t) => t === "ExecutionCompleted")).toHaveLength(1);
    expect(h.historyEvents!.at(-1)).toMatchObject({ EventType: "ExecutionCompleted", OrchestrationStatus: "Completed" });
    expect(s.customStatus).toBe("waiting");
  });

  it("fails again when the activity fails again, and a second rewind completes it", async () => {
    const id = await start(fx.base, "RewindActivities", { key: key(), failures: 2 });
    expect((await waitFor(fx.base, id)).runtimeStatus).toBe("Failed");
    expect((await http(fx.base, "POST", rewindUrl(id))).status).toBe(202);
    expect((await waitFor(fx.base, id, failed)).runtimeStatus).toBe("Failed");
    expect((await http(fx.base, "POST", rewindUrl(id))).status).toBe(202);
    const s = await waitFor(fx.base, id, (x) => x.runtimeStatus === "Completed");
    expect(s.output).toEqual([1, 3]);
  });

  it("rewinds a failed sub-orchestration; the parent completes when the child does", async () => {
    const k = key();
    const id = await start(fx.base, "RewindParent", { key: k, failures: 1 });
    expect((await waitFor(fx.base, id)).runtimeStatus).toBe("Failed");
    // Through the JavaScript client, as an app calls it.
    const r = await http(fx.base, "POST", `/api/rewind/${encodeURIComponent(id)}`);
    expect(r).toMatchObject({ status: 200 });
    const s = await waitFor(fx.base, id, (x) => x.runtimeStatus === "Completed" || failed(x));
    expect(s.runtimeStatus).toBe("Completed");
    // The good child ran its activities once; the failed child re-ran only its failed activity.
    expect(s.output).toEqual([
      [1, 1],
      [1, 2],
    ]);
  });

  it("rewinds a fan-out that failed fast: replies that came with the first failure are kept", async () => {
    // The replies to a fan-out that come back together are one episode on Azure (the provider
    // batches an instance's control-queue messages), so the second failure and the success are
    // recorded although the first failure already failed the orchestration.
    const id = await start(fx.base, "RewindFanOut", { key: key(), failures: 1 });
    expect((await waitFor(fx.base, id)).runtimeStatus).toBe("Failed");
    const h = await status(fx.base, id, "?showHistory=true");
    const types = h.historyEvents!.map((e) => e.EventType);
    expect(types.filter((t) => t === "TaskFailed")).toHaveLength(2);
    expect(types.filter((t) => t === "TaskCompleted")).toHaveLength(1);

    expect((await http(fx.base, "POST", rewindUrl(id))).status).toBe(202);
    const s = await waitFor(fx.base, id, (x) => x.runtimeStatus === "Completed" || failed(x));
    expect(s.runtimeStatus).toBe("Completed");
    // Both failed activities ran again (their second run); the one that succeeded did not.
    expect(s.output).toEqual([2, 2, 1]);
  });

  it("does not run again work whose reply reached the instance after it failed", async () => {
    // Azure drops a reply to a finished instance and the activity's work item is gone, so the
    // rewound instance waits for that reply; running the activity again would be more lenient.
    const k = key();
    const runs = async (suffix: string) => (await http(fx.base, "GET", `/api/rewind-count/${k}-${suffix}`)).json as number;
    const id = await start(fx.base, "RewindStranded", { key: k, failures: 1 });
    expect((await waitFor(fx.base, id)).runtimeStatus).toBe("Failed");
    for (let i = 0; i < 200 && (await runs("slow")) < 1; i++) await new Promise((r) => setTimeout(r, 25));
    expect(await runs("slow")).toBe(1);

    expect((await http(fx.base, "POST", rewindUrl(id))).status).toBe(202);
    // The failed activity runs again and its result is recorded...
    await waitFor(fx.base, id, (x) => (x.historyEvents ?? []).some((e) => e.EventType === "TaskCompleted"), 30_000, "?showHistory=true");
    expect(await runs("fail")).toBe(2);
    // ...but the slow one is not started again, and the instance keeps waiting for its reply.
    await new Promise((r) => setTimeout(r, 1000));
    expect(await runs("slow")).toBe(1);
    expect((await status(fx.base, id)).runtimeStatus).toBe("Pending");
    await http(fx.base, "POST", `/runtime/webhooks/durabletask/instances/${id}/terminate?reason=done`);
  });

  it("answers as the extension does for an instance that did not fail", async () => {
    const done = await start(fx.base, "Sequence");
    expect((await waitFor(fx.base, done)).runtimeStatus).toBe("Completed");
    expect((await http(fx.base, "POST", rewindUrl(done))).status).toBe(410);

    const running = await start(fx.base, "Approval");
    await waitFor(fx.base, running, (s) => s.runtimeStatus === "Running");
    // DurableClient.RewindAsync throws for a non-failed instance; HttpApiHandler's catch-all answers 500.
    const r = await http(fx.base, "POST", rewindUrl(running));
    expect(r.status).toBe(500);
    expect(r.json).toMatchObject({ Message: "Something went wrong while processing your request" });
    expect((await status(fx.base, running)).runtimeStatus).toBe("Running");

    expect((await http(fx.base, "POST", rewindUrl("no-such-instance"))).status).toBe(404);
    // The JavaScript client turns those answers into errors.
    const viaClient = await http(fx.base, "POST", `/api/rewind/${encodeURIComponent(running)}`);
    expect(viaClient.status).toBe(400);
    const unknown = await http(fx.base, "POST", `/api/rewind/no-such-instance`);
    expect(unknown).toMatchObject({ status: 400, json: expect.stringContaining("No instance with ID 'no-such-instance' found.") });

    await http(fx.base, "POST", `/runtime/webhooks/durabletask/instances/${running}/terminate?reason=done`);
  });
});
