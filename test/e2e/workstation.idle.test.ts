// Idle that sees real use, end to end: the agent on the emulator's VM runs the user's busy probe
// (installed by a creation script) and reports it; while it says busy, an instance past its idle
// timeout keeps running and says why; when it stops saying so, the warning shows, postpone moves
// the stop back, and the instance then stops as idle.
import fs from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { eventually, startStack, type Stack } from "../support/stack";

type Instance = {
  state: string;
  lastActivityAt?: string;
  autoStop?: { idle?: boolean; idleShutdownAt?: string; notIdleBecause?: string[]; warning?: { action: string; source: string; at: string } };
};

let stack: Stack;
beforeAll(async () => {
  stack = await startStack({ env: { AUTOSTOP_SCHEDULE: "*/5 * * * * *", IDLE_SHUTDOWN_MIN_MINUTES: "1", AGENT_SIGNALS_SECONDS: "1", AUTOSTOP_WARNING_MINUTES: "10" } });
}, 120_000);
afterAll(() => stack?.stop());

const get = async (name: string) => {
  const res = await stack.api<Instance>("GET", `/api/instances/${name}`, { as: "alice" });
  expect(res.status, res.text).toBe(200);
  return res.body;
};

// The probe a user installs: busy while a marker file is in their folder on the share.
const PROBE = `mkdir -p "$VM_ROOT/etc/ci-agent"
cat > "$VM_ROOT/etc/ci-agent/busy-probe" <<'PROBE'
#!/bin/bash
[ -f "$VM_ROOT/home/azureuser/cloudfiles/code/Users/alice/training" ] && { echo "training run"; exit 0; }
exit 1
PROBE
chmod +x "$VM_ROOT/etc/ci-agent/busy-probe"`;

describe("idle that sees real use", () => {
  it("a busy probe holds idle shutdown off past the timeout; then the warning, postpone, and the idle stop", async () => {
    const res = await stack.api("PUT", "/api/instances/probe-a", { as: "alice", body: { vmSize: "Standard_D2s_v5", idleShutdownMinutes: 1, setupScripts: { creation: { inline: PROBE } } } });
    expect(res.status, res.text).toBe(201);
    await eventually(() => get("probe-a"), (i) => i.state === "Running", 90_000, 500);
    const marker = path.join(stack.shareDir()!, "Users", "alice", "training");
    fs.writeFileSync(marker, "");

    const busy = await eventually(() => get("probe-a"), (i) => (i.autoStop?.notIdleBecause ?? []).includes("probe: training run"), 120_000, 250);
    expect(busy.autoStop?.warning).toBeUndefined();
    // Past the one-minute timeout counted from before the probe said busy: still running, and why.
    const since = Date.now();
    const held = await eventually(() => get("probe-a"), () => Date.now() - since > 75_000, 120_000, 5_000);
    expect(held.state).toBe("Running");
    expect(held.autoStop?.notIdleBecause).toContain("probe: training run");

    // Training ends: the idle clock starts, and with a 1-minute timeout the stop is within the warning.
    fs.rmSync(marker);
    const warned = await eventually(() => get("probe-a"), (i) => i.autoStop?.warning !== undefined, 120_000, 250);
    expect(warned.autoStop?.warning).toMatchObject({ action: "Stop", source: "idle", at: warned.autoStop?.idleShutdownAt });
    expect(warned.autoStop?.notIdleBecause ?? []).not.toContain("probe: training run");

    // Postpone: alice moves the stop back by the idle timeout, at once (the stop is a minute away,
    // however slowly this machine answers the calls before it); others may not.
    const clicked = Date.now();
    const postponed = await stack.api<Instance>("POST", "/api/instances/probe-a/autostop/postpone", { as: "alice" });
    expect(postponed.status, postponed.text).toBe(200);
    expect(Date.parse(postponed.body.autoStop!.idleShutdownAt!)).toBeGreaterThanOrEqual(clicked - 1000 + 60_000);
    expect(Date.parse(postponed.body.autoStop!.idleShutdownAt!)).toBeGreaterThan(Date.parse(warned.autoStop!.idleShutdownAt!));
    expect((await stack.api("POST", "/api/instances/probe-a/autostop/postpone", { as: "bob" })).status).toBe(404);
    expect((await stack.api("POST", "/api/instances/probe-a/autostop/postpone", { as: "reader" })).status).toBe(403);

    // Then it stops as idle, not before the postponed time.
    await eventually(() => get("probe-a"), (i) => i.state === "Stopping" || i.state === "Stopped", 150_000, 1000);
    expect(Date.now()).toBeGreaterThanOrEqual(Date.parse(postponed.body.autoStop!.idleShutdownAt!));
  }, 400_000);

  it("postpone with no stop near is a 409 NothingToPostpone", async () => {
    const res = await stack.api("PUT", "/api/instances/far-b", { as: "alice", body: { vmSize: "Standard_D2s_v5", idleShutdownMinutes: null } });
    expect(res.status, res.text).toBe(201);
    const r = await stack.api<{ error: { code: string } }>("POST", "/api/instances/far-b/autostop/postpone", { as: "alice" });
    expect(r.status, r.text).toBe(409);
    expect(r.body.error.code).toBe("NothingToPostpone");
  });
});
