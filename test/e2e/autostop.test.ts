// Auto-stop end to end: the real app in the local host with AUTOSTOP_SCHEDULE every 5 s and
// IDLE_SHUTDOWN_MIN_MINUTES=1, against Azurite and the cloud emulator. An idle instance
// stops after about a minute; one with a running job does not; a Stop schedule fires in its
// minute; a repeated tick over the same window (a host that crashed before saving its
// schedule status, then fires past due) finds the orchestration id taken and acts once.
import path from "node:path";
import { BlobServiceClient } from "@azure/storage-blob";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { connectionStringStorage } from "../../shared/azure/storageConnection";
import { createStorageClients } from "../../shared/azure/clients";
import { createOperationStore } from "../../shared/store/operations";
import { REPO_ROOT, startHost, type TestHost } from "../support/host";
import { startOtlpReceiver, type OtlpReceiver } from "../support/otlp";
import { eventually, startStack, type Stack } from "../support/stack";

type Instance = {
  name: string;
  state: string;
  lastActivityAt?: string;
  lastOperation?: { id: string; name: string; startedAt: string };
  jobs: { queued: number; running: number };
  autoStop?: { idle?: boolean; idleSince?: string; idleShutdownAt?: string; nextScheduledAction?: { action: string; at: string }; notIdleBecause?: string[] };
};
type StoredOp = { id: string; name: string; instance?: string; startedAt: string; requestedBy?: string; reason?: string };

const ZONE = "Asia/Kolkata"; // +05:30: a cron minute that is not the UTC minute
let stack: Stack;
let restarted: TestHost | undefined;
let otlp: OtlpReceiver;

beforeAll(async () => {
  otlp = await startOtlpReceiver();
  stack = await startStack({ env: { AUTOSTOP_SCHEDULE: "*/5 * * * * *", IDLE_SHUTDOWN_MIN_MINUTES: "1", OTEL_EXPORTER_OTLP_ENDPOINT: otlp.url, OTEL_METRIC_EXPORT_INTERVAL: "500" } });
});
afterAll(async () => {
  await restarted?.stop();
  await stack?.stop();
  await otlp?.stop();
});

const get = async (name: string) => {
  const res = await stack.api<Instance>("GET", `/api/instances/${name}`, { as: "alice" });
  expect(res.status).toBe(200);
  return res.body;
};
const waitState = (name: string, states: string[], timeoutMs = 60_000) => eventually(() => get(name), (i) => states.includes(i.state), timeoutMs, 500);

async function create(name: string, body: Record<string, unknown>): Promise<void> {
  const res = await stack.api("PUT", `/api/instances/${name}`, { as: "alice", body: { vmSize: "Standard_D2s_v5", ...body } });
  expect(res.status, res.text).toBe(201);
}

async function operations(instance: string, name: string): Promise<StoredOp[]> {
  const storage = createStorageClients({
    subscriptionId: stack.settings.AZURE_SUBSCRIPTION_ID!, resourceGroup: "rg", location: "westeurope", armEndpoint: stack.cloud.url,
    identity: { kind: "developer" }, filesAccount: "x", shareName: "x", storage: connectionStringStorage(stack.azurite.connectionString), maxRetries: 2, pollIntervalMs: 100,
  });
  const page = await createOperationStore<StoredOp>(storage, stack.settings.WORKSPACE_NAME!).list({ filter: { instance, name }, pageSize: 100 });
  return page.items.map((i) => i.record);
}

/** The instance's audit entries for one action, as the instance's user reads them. */
async function auditOf(instance: string, action: string): Promise<{ actor: string; operationId?: string; reason?: string }[]> {
  const res = await stack.api<{ value: { action: string; actor: string }[] }>("GET", `/api/audit?instance=${instance}`, { as: "alice" });
  expect(res.status, res.text).toBe(200);
  return res.body.value.filter((e) => e.action === action);
}

/** A five-field cron for the UTC minute `at`, written in `zone`'s local time. */
function cronAt(at: Date, zone: string): string {
  const parts = new Intl.DateTimeFormat("en-GB", { timeZone: zone, hour: "numeric", minute: "numeric", hourCycle: "h23" }).formatToParts(at);
  const n = (t: string) => Number(parts.find((p) => p.type === t)?.value);
  return `${n("minute")} ${n("hour")} * * *`;
}

describe("auto-stop", () => {
  let target: Date;

  it("explains, heartbeats, stops the idle instance, spares the busy one, fires a schedule", async () => {
    await Promise.all([
      create("idle-a", { idleShutdownMinutes: 1 }),
      create("busy-b", { idleShutdownMinutes: 1 }),
      create("sched-c", { idleShutdownMinutes: null }),
    ]);
    await Promise.all(["idle-a", "busy-b", "sched-c"].map((n) => waitState(n, ["Running"], 90_000)));

    // A long job keeps busy-b from idling out.
    const job = await stack.api<{ id: string }>("POST", "/api/instances/busy-b/jobs", { as: "alice", body: { name: "long", command: "sleep 600" } });
    expect(job.status, job.text).toBe(202);
    await eventually(() => stack.api<{ state: string }>("GET", `/api/jobs/${job.body.id}`, { as: "alice" }), (r) => r.body.state === "Running", 60_000, 500);

    // A Stop schedule for the next minute at least 20 s away, written in Kolkata time.
    target = new Date(Math.ceil((Date.now() + 20_000) / 60_000) * 60_000);
    const patched = await stack.api<Instance>("PATCH", "/api/instances/sched-c", {
      as: "alice",
      body: { schedules: [{ action: "Stop", cron: cronAt(target, ZONE), timeZone: ZONE }] },
    });
    expect(patched.status, patched.text).toBe(200);
    expect(patched.body.autoStop?.nextScheduledAction).toEqual({ action: "Stop", at: target.toISOString() });
    expect(patched.body.autoStop?.notIdleBecause).toContain("idle shutdown is off");

    // Bad schedules are a 400 naming the field, and change nothing.
    const stop = { action: "Stop", cron: "0 19 * * *", timeZone: ZONE };
    for (const [schedules, target] of [
      [[{ ...stop, cron: "0 19 * *" }], "schedules[0].cron"],
      [[{ ...stop, timeZone: "India Standard Time" }], "schedules[0].timeZone"],
      [[{ ...stop, action: "Hibernate" }], "schedules[0].action"],
      [[stop, stop, stop, stop, stop], "schedules"],
    ] as const) {
      const bad = await stack.api<{ error: { details: { target: string }[] } }>("PATCH", "/api/instances/sched-c", { as: "alice", body: { schedules } });
      expect(bad.status, bad.text).toBe(400);
      expect(bad.body.error.details.map((d) => d.target)).toEqual([target]);
    }
    expect((await get("sched-c")).autoStop?.nextScheduledAction).toEqual({ action: "Stop", at: target.toISOString() });

    // The view explains the countdown.
    const a = await get("idle-a");
    expect(a.autoStop?.idleSince).toBe(a.lastActivityAt);
    expect(Date.parse(a.autoStop!.idleShutdownAt!) - Date.parse(a.autoStop!.idleSince!)).toBe(60_000);
    expect(a.autoStop?.notIdleBecause?.[0]).toMatch(/^activity \d+ min ago \(idle shutdown after 1 min\)$/);

    // The heartbeat is an instance write: the owner may, others may not.
    expect((await stack.api("POST", "/api/instances/idle-a/activity", { as: "bob" })).status).toBe(404);
    expect((await stack.api("POST", "/api/instances/idle-a/activity", { as: "reader" })).status).toBe(403);
    expect((await stack.api("POST", "/api/instances/idle-a/activity")).status).toBe(401);
    expect((await stack.api("POST", "/api/instances/no-such/activity", { as: "alice" })).status).toBe(404);
    // Writes are coarse (one per 30 s), so heartbeat once the last activity is older than that:
    // it moves idleShutdownAt later.
    const before = a.autoStop!.idleShutdownAt!;
    await new Promise((r) => setTimeout(r, Math.max(0, Date.parse(a.lastActivityAt!) + 31_000 - Date.now())));
    const beat = Date.now();
    expect((await stack.api("POST", "/api/instances/idle-a/activity", { as: "alice" })).status).toBe(204);
    const after = await get("idle-a");
    expect(Date.parse(after.lastActivityAt!)).toBeGreaterThanOrEqual(beat - 1000);
    expect(Date.parse(after.autoStop!.idleShutdownAt!)).toBeGreaterThan(Date.parse(before) + 30_000);

    // idle-a stops about a minute after its last activity, not before.
    const stopped = await waitState("idle-a", ["Stopping", "Stopped"], 150_000);
    const shutdownAt = Date.parse((await get("idle-a")).lastActivityAt!) + 60_000;
    const [idleStop, ...more] = await operations("idle-a", "stop");
    expect(more).toEqual([]);
    expect(idleStop).toMatchObject({ requestedBy: "system:autostop", reason: expect.stringMatching(/^idle: idle since .* \(idle shutdown after 1 min\)$/) });
    // Never early; "about a minute": within a few 5-s ticks of the deadline (generous for a busy machine).
    expect(Date.parse(idleStop!.startedAt)).toBeGreaterThanOrEqual(shutdownAt);
    expect(Date.parse(idleStop!.startedAt)).toBeLessThan(shutdownAt + 30_000);
    expect(stopped.lastOperation?.name).toBe("stop");
    // On the audit trail, idle shutdown is the actor (not the user, not a schedule).
    expect(await auditOf("idle-a", "instance.stop")).toEqual([
      expect.objectContaining({ actor: "system:idle", operationId: idleStop!.id, reason: idleStop!.reason, assignedUser: "alice" }),
    ]);

    // busy-b is past its idle deadline too, but its job is running: it stays up and says why.
    const b = await get("busy-b");
    expect(["Running", "JobRunning"]).toContain(b.state);
    expect(b.autoStop?.notIdleBecause).toContain("1 job running");
    expect(await operations("busy-b", "stop")).toEqual([]);

    // The schedule fires in its minute.
    await waitState("sched-c", ["Stopping", "Stopped"], Math.max(0, target.getTime() - Date.now()) + 30_000);
    const [schedStop, ...others] = await operations("sched-c", "stop");
    expect(others).toEqual([]);
    expect(schedStop?.requestedBy).toBe("system:autostop");
    expect(schedStop?.reason).toBe(`schedule: schedule 0 (Stop at ${target.toISOString()}) is due`);
    expect(Date.parse(schedStop!.startedAt)).toBeGreaterThanOrEqual(target.getTime());
    expect(Date.parse(schedStop!.startedAt)).toBeLessThan(target.getTime() + 20_000);
    expect(stack.host.output().match(/autostop: stop sched-c /g)).toHaveLength(1);
    expect(await auditOf("sched-c", "instance.stop")).toEqual([expect.objectContaining({ actor: "system:schedule", operationId: schedStop!.id, reason: schedStop!.reason })]);
    await waitState("sched-c", ["Stopped"], 60_000);

    // The metric counts each automatic stop once, by its reason.
    const actions = (reason: string) =>
      otlp.points("ci.autostop.actions").filter((p) => p.attributes["ci.autostop.reason"] === reason && p.attributes["ci.autostop.action"] === "Stop").reduce((n, p) => n + (p.value ?? 0), 0);
    // The idle stop may be the later one, and its export can still be on its way (every 500 ms).
    await eventually(async () => [actions("idle"), actions("schedule")], ([i, s]) => i >= 1 && s >= 1, 10_000, 200);
    expect([actions("idle"), actions("schedule")]).toEqual([1, 1]);
  });

  it("a repeated tick over the same window acts once (the orchestration id is taken)", async () => {
    // Someone starts sched-c again; a second Stop for the same due minute would stop it.
    const start = await stack.api("POST", "/api/instances/sched-c/start", { as: "alice" });
    expect(start.status, start.text).toBe(202);
    await waitState("sched-c", ["Running"], 60_000);

    // The host dies before saving its schedule status: on restart the timer fires past due
    // with the window that contains the schedule's minute again.
    const { port, dataDir } = stack.host;
    await stack.host.stop();
    const blobs = BlobServiceClient.fromConnectionString(stack.azurite.connectionString).getContainerClient("azure-webjobs-hosts");
    let statusBlob: string | undefined;
    for await (const b of blobs.listBlobsFlat({ prefix: "timers/" })) if (b.name.endsWith("/Host.Functions.autoStopTick/status")) statusBlob = b.name;
    expect(statusBlob).toBeDefined();
    const rewound = JSON.stringify({ Last: new Date(target.getTime() - 60_000).toISOString(), Next: target.toISOString(), LastUpdated: new Date(target.getTime() - 60_000).toISOString() });
    await blobs.getBlockBlobClient(statusBlob!).upload(rewound, Buffer.byteLength(rewound));

    restarted = await startHost({ env: { ...stack.settings, LOCAL_SETTINGS: path.join(REPO_ROOT, "local.settings.example.json") }, dataDir, port });
    await restarted.waitForOutput(/autostop: not acting: stop sched-c \(schedule: .*\) \[autostop-sched-c-stop-\d{12}\]: already acted/, 60_000);
    expect(restarted.output()).toMatch(/autostop: tick \(past due, catching up once\)/);
    expect((await get("sched-c")).state).toBe("Running");
    expect(await operations("sched-c", "stop")).toHaveLength(1);
  });
});
