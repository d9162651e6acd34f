// End to end over HTTP against the whole stack (Azurite + cloud emulator + host with the app):
// create → Running with the share mounted, stop/start/restart, delete; idempotent PUT; ETags.
import fs from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { instanceResponse } from "../../shared/schemas/instance";
import { eventually, startStack, type Stack } from "../support/stack";

type Instance = { name: string; state: string; lastOperation?: { id: string; status: string; error?: { code: string; message: string } }; [k: string]: unknown };

let stack: Stack;
beforeAll(async () => {
  stack = await startStack({ env: { INSTANCE_POLL_INITIAL_MS: "50", INSTANCE_POLL_MAX_MS: "500" } });
});
afterAll(() => stack?.stop());

const get = (name: string, as: "alice" | "admin" = "alice") => stack.api<Instance>("GET", `/api/instances/${name}`, { as });
const waitState = (name: string, states: string[], as: "alice" | "admin" = "alice") =>
  eventually(() => get(name, as), (r) => r.status === 200 && states.includes(r.body.state), 60_000, 100).then((r) => r.body);

describe("instance lifecycle", () => {
  test("create → Running with the share mounted; a creation script writes under Users/alice", async () => {
    const put = await stack.api<Instance>("PUT", "/api/instances/alice-cpu-1", {
      as: "alice",
      body: {
        vmSize: "Standard_D2s_v5",
        description: "e2e",
        setupScripts: { creation: { inline: 'echo "hello from $CI_NAME" > created-by-setup.txt; pwd', timeoutMinutes: 5 } },
      },
    });
    expect(put.status, put.text).toBe(201);
    expect(put.headers.get("operation-location")).toMatch(/^\/api\/operations\/[a-z0-9]+$/);
    expect(put.headers.get("etag")).toBeTruthy();
    expect(put.body.state).toBe("Creating");

    const running = await waitState("alice-cpu-1", ["Running", "CreateFailed", "SetupFailed"]);
    expect(running.state, JSON.stringify(running.lastOperation)).toBe("Running");
    expect(instanceResponse.safeParse(running).success).toBe(true);

    const share = stack.shareDir()!;
    expect(fs.readFileSync(path.join(share, "Users", "alice", "created-by-setup.txt"), "utf8")).toBe("hello from alice-cpu-1\n");
    const logs = fs.readdirSync(path.join(share, "Logs", "alice-cpu-1"));
    expect(logs.some((f) => f.startsWith("creation-"))).toBe(true);

    const op = await stack.api<{ status: string; steps: { name: string; status: string }[] }>("GET", put.headers.get("operation-location")!, { as: "alice" });
    expect(op.body.status).toBe("Succeeded");
    expect(op.body.steps.map((s) => s.name)).toEqual(["network", "share", "vm", "setup"]);
    // No storage key went to the VM.
    const vm = stack.cloudState().vms.find((v) => v.name === "ci-alice-cpu-1-vm")!;
    expect(vm.powerState).toBe("running");
  });

  test("a repeated identical PUT is 200; a different body is 409", async () => {
    const again = await stack.api<Instance>("PUT", "/api/instances/alice-cpu-1", {
      as: "alice",
      body: {
        vmSize: "Standard_D2s_v5",
        description: "e2e",
        setupScripts: { creation: { inline: 'echo "hello from $CI_NAME" > created-by-setup.txt; pwd', timeoutMinutes: 5 } },
      },
    });
    expect(again.status, again.text).toBe(200);
    const other = await stack.api("PUT", "/api/instances/alice-cpu-1", { as: "alice", body: { vmSize: "Standard_D4s_v5" } });
    expect(other.status).toBe(409);
  });

  test("stop → Stopped, start → Running, restart → Running", async () => {
    const stop = await stack.api<{ id: string }>("POST", "/api/instances/alice-cpu-1/stop", { as: "alice" });
    expect(stop.status, stop.text).toBe(202);
    expect(stop.headers.get("operation-location")).toBe(`/api/operations/${stop.body.id}`);
    // Stopping again while it stops is a conflict; starting a Stopping instance too.
    const s = await waitState("alice-cpu-1", ["Stopped", "Unknown"]);
    expect(s.state).toBe("Stopped");
    expect(stack.cloudState().vms.find((v) => v.name === "ci-alice-cpu-1-vm")!.powerState).toBe("deallocated");
    const stopAgain = await stack.api<{ error: { code: string } }>("POST", "/api/instances/alice-cpu-1/stop", { as: "alice" });
    expect(stopAgain.status).toBe(409);
    expect(stopAgain.body.error.code).toBe("InvalidStateTransition");

    const start = await stack.api("POST", "/api/instances/alice-cpu-1/start", { as: "alice", headers: { "Idempotency-Key": "start-1" } });
    expect(start.status, start.text).toBe(202);
    const repeat = await stack.api("POST", "/api/instances/alice-cpu-1/start", { as: "alice", headers: { "Idempotency-Key": "start-1" } });
    expect(repeat.status).toBe(202);
    expect(repeat.body).toEqual(start.body);
    expect((await waitState("alice-cpu-1", ["Running", "Stopped", "SetupFailed"])).state).toBe("Running");

    const restart = await stack.api("POST", "/api/instances/alice-cpu-1/restart", { as: "alice" });
    expect(restart.status, restart.text).toBe(202);
    // Another operation while one is in flight: 409 Conflict (the restart owns the instance).
    const busy = await stack.api<{ error: { code: string } }>("POST", "/api/instances/alice-cpu-1/stop", { as: "alice" });
    expect(busy.status).toBe(409);
    expect(busy.body.error.code).toBe("Conflict");
    const r = await eventually(() => get("alice-cpu-1"), (x) => x.body.lastOperation?.id === (restart.body as { id: string }).id && x.body.lastOperation.status !== "Running", 60_000, 100);
    expect(r.body.state).toBe("Running");
  });

  test("ETag / If-Match: a stale ETag is 412, the current one works", async () => {
    // The restart's last step tells the job queue the instance runs, which writes the record once
    // more after the operation shows done: take the ETag once the record has settled.
    let etag = "";
    await eventually(async () => {
      const a = (await get("alice-cpu-1")).headers.get("etag")!;
      await new Promise((r) => setTimeout(r, 300));
      const b = (await get("alice-cpu-1")).headers.get("etag")!;
      etag = b;
      return a === b;
    }, (same) => same, 30_000, 100);
    const ok = await stack.api<Instance>("PATCH", "/api/instances/alice-cpu-1", { as: "alice", body: { description: "changed" }, headers: { "If-Match": etag } });
    expect(ok.status, ok.text).toBe(200);
    expect(ok.body.description).toBe("changed");
    const stale = await stack.api("PATCH", "/api/instances/alice-cpu-1", { as: "alice", body: { description: "again" }, headers: { "If-Match": etag } });
    expect(stale.status).toBe(412);
  });

  test("delete removes VM, NIC and NSG but keeps the user's files; the record goes", async () => {
    const del = await stack.api<{ id: string }>("DELETE", "/api/instances/alice-cpu-1", { as: "alice" });
    expect(del.status, del.text).toBe(202);
    await eventually(() => get("alice-cpu-1"), (r) => r.status === 404, 60_000, 100);
    const op = await stack.api<{ status: string }>("GET", `/api/operations/${del.body.id}`, { as: "alice" });
    expect(op.body.status).toBe("Succeeded");
    const state = stack.cloudState();
    expect(state.vms.filter((v) => v.name.includes("alice-cpu-1"))).toEqual([]);
    expect([...state.nics, ...state.nsgs, ...state.publicIps].filter((id) => id.includes("alice-cpu-1"))).toEqual([]);
    expect(fs.existsSync(path.join(stack.shareDir()!, "Users", "alice", "created-by-setup.txt"))).toBe(true);
  });

  test("the name can be used again after a delete", async () => {
    const put = await stack.api<Instance>("PUT", "/api/instances/alice-cpu-1", { as: "alice", body: { vmSize: "Standard_D2s_v5" } });
    expect(put.status, put.text).toBe(201);
    expect((await waitState("alice-cpu-1", ["Running", "CreateFailed", "SetupFailed"])).state).toBe("Running");
  });
});
