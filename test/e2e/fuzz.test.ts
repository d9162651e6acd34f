// Property-based fuzzing of every write route through the whole stack (fast-check): arbitrary
// JSON bodies (and non-JSON, deep, huge), headers, query strings and callers. Whatever comes in:
// never a 5xx, every error is the envelope {error: {code, message}}, and a rejected request leaves
// nothing behind — no instance or job record, no VM, NIC or NSG in the emulator, no share folder,
// no change of state on the instance it targeted. Bounded: a fixed number of runs and a time cap.
import fs from "node:fs";
import path from "node:path";
import { TableClient } from "@azure/data-tables";
import fc from "fast-check";
import { afterAll, beforeAll, expect, test } from "vitest";
import { type Caller, type Stack, startStack } from "../support/stack";
import { runningInstance, submit, waitJob } from "./jobs.support";

let stack: Stack;
let jobs: TableClient;
let doneJob: string;
const OWN = "fz-own";

beforeAll(async () => {
  stack = await startStack();
  jobs = TableClient.fromConnectionString(stack.azurite.connectionString, "jobs", { allowInsecureConnection: true });
  await runningInstance(stack, OWN, "Standard_D2s_v5", "alice");
  doneJob = (await waitJob(stack, (await submit(stack, OWN, { command: "true" })).id)).id;
});
afterAll(() => stack?.stop());

type Target = { kind: "fresh" | "own" | "job"; name: string };
type Req = { method: string; route: (t: Target) => string; target: fc.Arbitrary<Target> };

const printable = (max: number) => fc.string({ unit: fc.integer({ min: 0x20, max: 0x7e }).map((c) => String.fromCharCode(c)), maxLength: max });
const freshName = fc.oneof(
  fc.stringMatching(/^[a-z][a-z0-9-]{2,12}$/).map((s) => `fz${s}`),
  // Not "." or "..": fetch resolves those URL segments, so the request would name another route.
  printable(30).filter((s) => s.trim() !== "" && s !== OWN && s !== "." && s !== ".." && !s.includes("/") && !s.includes("?") && !s.includes("#")),
).map((name): Target => ({ kind: "fresh", name }));
const own = fc.constant<Target>({ kind: "own", name: OWN });
const jobTarget = fc.oneof(fc.constant("done"), printable(30).filter((s) => !s.includes("/") && s.trim() !== "" && s !== "." && s !== "..")).map((name): Target => ({ kind: "job", name }));
const inst = (suffix = "") => (t: Target) => `/api/instances/${encodeURIComponent(t.name)}${suffix}`;

const ROUTES: Req[] = [
  { method: "PUT", route: inst(), target: freshName },
  { method: "PATCH", route: inst(), target: fc.oneof(own, freshName) },
  { method: "DELETE", route: inst(), target: fc.oneof(own, freshName) },
  ...["start", "stop", "restart"].map((op) => ({ method: "POST", route: inst(`/${op}`), target: fc.oneof(own, freshName) })),
  { method: "POST", route: inst("/activity"), target: fc.oneof(own, freshName) },
  { method: "POST", route: inst("/jobs"), target: fc.oneof(own, freshName) },
  { method: "POST", route: (t) => `/api/jobs/${encodeURIComponent(t.name === "done" ? doneJob : t.name)}/cancel`, target: jobTarget },
];

const validCreate = { vmSize: "Standard_D2s_v5", description: "fuzz", idleShutdownMinutes: 60, tags: { a: "b" } };
const validJob = { command: "true", timeoutMinutes: 5, environment: { variables: { A: "b" } } };
const deep = (n: number) => "[".repeat(n) + "]".repeat(n);
const body = fc.oneof(
  { weight: 3, arbitrary: fc.jsonValue() },
  { weight: 4, arbitrary: fc.record({ base: fc.constantFrom<Record<string, unknown>>(validCreate, validJob, {}), key: fc.oneof(fc.constantFrom("vmSize", "assignedUser", "command", "environment", "tags", "schedules", "setupScripts", "jobsPerCore", "gpus", "__proto__", "constructor"), printable(12)), value: fc.jsonValue() }).map(({ base, key, value }) => JSON.stringify({ ...base, [key]: value })) },
  { weight: 1, arbitrary: printable(200) },
  { weight: 2, arbitrary: fc.oneof(fc.integer({ min: 1, max: 100 }), fc.constantFrom(5000, 20000)).map((n) => `{"vmSize":${deep(n)},"command":${deep(n)}}`) },
  { weight: 1, arbitrary: fc.constant(undefined) },
  { weight: 1, arbitrary: fc.constant(JSON.stringify({ ...validCreate, description: "x".repeat(300 * 1024) })) },
);
const headers = fc.record(
  {
    "content-type": fc.oneof(fc.constantFrom("application/json", "text/plain", "application/xml", "application/json; charset=latin1"), printable(40)),
    "if-match": printable(60),
    "idempotency-key": printable(260),
    "x-ms-client-principal": printable(120),
    "x-ms-client-principal-id": fc.constantFrom("admin", "alice", "bob"),
  },
  { requiredKeys: [] },
);
const query = fc.dictionary(fc.constantFrom("top", "continuationToken", "state", "code", "api-version", "assignedUser", "$top"), printable(40), { maxKeys: 3 });
// Mostly callers who may write, so requests get past authorization into validation.
const caller = fc.oneof({ weight: 3, arbitrary: fc.constantFrom<Caller | undefined>("alice", "admin") }, { weight: 1, arbitrary: fc.constantFrom<Caller | undefined>("bob", "reader", undefined) });

/** Running and JobRunning differ only by whether a job runs (an earlier accepted submission may). */
async function ownState(): Promise<string> {
  const state = (await stack.api<{ state: string }>("GET", `/api/instances/${OWN}`, { as: "admin" })).body.state;
  return state === "JobRunning" ? "Running" : state;
}

async function jobRows(name: string): Promise<number> {
  let n = 0;
  const pk = encodeURIComponent(name.toLowerCase()).replace(/'/g, "''");
  for await (const _ of jobs.listEntities({ queryOptions: { filter: `PartitionKey eq '${pk}'` } })) n++;
  return n;
}

function cloudLeftovers(name: string): string[] {
  const prefix = `ci-${name.toLowerCase()}-`;
  const s = stack.cloudState();
  const ids = [...s.vms.map((v) => v.name), ...s.nics, ...s.nsgs, ...s.publicIps];
  const share = stack.shareDir();
  const folderName = /^[A-Za-z][A-Za-z0-9-]{2,23}$/.test(name); // anything else never becomes a folder name (and ".." is not ours)
  const logs = share && folderName && fs.existsSync(path.join(share, "Logs", name.toLowerCase())) ? [`Logs/${name}`] : [];
  return [...ids.filter((id) => id.toLowerCase().includes(prefix)), ...logs];
}

test("every write route: never a 5xx, always the error envelope, nothing left behind by a rejection", async () => {
  const created = new Set<string>();
  const request = fc.record({ route: fc.constantFrom(...ROUTES), as: caller, body, headers, query }).chain((r) => r.route.target.map((target) => ({ ...r, target })));
  await fc.assert(
    fc.asyncProperty(request, async ({ route, as, body: payload, headers: h, query: q, target }) => {
      // A request on our own instance must not slip through by accident: its If-Match never matches.
      const hdrs: Record<string, string> = { ...h };
      if (target.kind === "own" && route.method !== "PATCH" && !route.route(target).endsWith("/jobs") && !route.route(target).endsWith("/activity")) {
        hdrs["if-match"] = `"fuzz-${hdrs["if-match"] ?? ""}"`;
      }
      const fresh = target.kind === "fresh" && !created.has(target.name.toLowerCase());
      const before = {
        jobs: route.route(target).endsWith("/jobs") ? await jobRows(target.name) : 0,
        state: target.kind === "own" ? await ownState() : undefined,
      };
      const qs = new URLSearchParams(q).toString();
      const res = await stack.api<{ error?: { code?: unknown; message?: unknown } }>(route.method, `${route.route(target)}${qs ? `?${qs}` : ""}`, {
        ...(as ? { as } : {}),
        ...(payload !== undefined ? { body: payload } : {}),
        headers: hdrs,
      });
      const what = `${route.method} ${route.route(target)} as ${as}: ${res.status} ${res.text.slice(0, 300)}`;
      expect(res.status, what).toBeLessThan(500);
      if (res.status < 400) {
        if (route.method === "PUT" && res.status === 201) {
          created.add(target.name.toLowerCase());
          await stack.api("DELETE", `/api/instances/${encodeURIComponent(target.name)}`, { as: "admin" });
        }
        return;
      }
      expect(typeof res.body === "object" && res.body !== null, what).toBe(true);
      expect(typeof res.body.error?.code, what).toBe("string");
      expect(typeof res.body.error?.message, what).toBe("string");
      if (route.route(target).endsWith("/jobs")) expect(await jobRows(target.name), what).toBe(before.jobs);
      if (fresh) {
        expect((await stack.api("GET", `/api/instances/${encodeURIComponent(target.name)}`, { as: "admin" })).status, what).toBe(404);
        expect(cloudLeftovers(target.name), what).toEqual([]);
      }
      if (target.kind === "own") {
        expect(await ownState(), what).toBe(before.state);
      }
    }),
    { numRuns: 250, interruptAfterTimeLimit: 40_000 },
  );
});
