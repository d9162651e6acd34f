// GET /api/health (anonymous): 200 {"status":"ok"} only when every dependency answers;
// 503 {"status":"unhealthy","checks":{...}} naming what is down. Each dependency is one
// entry of `healthChecks`, so another (e.g. the ARM endpoint) is one more entry.
import type { HttpResponseInit } from "@azure/functions";
import { ROUTES } from "../shared/api/routes";
import { httpRoute } from "./http/api";
import { createStorageServiceClients } from "../shared/azure/clients";
import { requireStorageConnection } from "../shared/azure/storageConnection";
import { getClients } from "../services/root";

export type HealthCheck = {
  name: string;
  /** Resolves when the dependency answers; rejects (or times out) when it does not. */
  probe(signal: AbortSignal): Promise<unknown>;
};

const TIMEOUT_MS = 2000;
/**
 * The app's storage exactly as the app reaches it (connection string or identity-based
 * AzureWebJobsStorage__*), read per probe so a changed setting is seen; one attempt each:
 * a health probe must answer fast, not retry for a minute.
 */
function storage() {
  return createStorageServiceClients(requireStorageConnection(process.env), { maxRetries: 0 });
}

export const healthChecks: HealthCheck[] = [
  {
    name: "blob",
    // Listing, not Get Service Properties: with a token that needs the control-plane action
    // blobServices/read, which the data roles the app holds (infra/roles.json) do not grant.
    probe: (abortSignal) => storage().blobs.listContainers({ abortSignal }).byPage({ maxPageSize: 1 }).next(),
  },
  {
    name: "queue",
    probe: (abortSignal) => storage().queues.listQueues({ abortSignal }).byPage({ maxPageSize: 1 }).next(),
  },
  {
    name: "table",
    probe: async (abortSignal) => {
      const page = storage().tableService.listTables({ abortSignal }).byPage({ maxPageSize: 1 });
      await page.next();
    },
  },
  {
    // ARM (local/cloud locally): the cheapest read the app's identity is allowed to make.
    name: "arm",
    probe: async (abortSignal) => {
      const { arm } = getClients();
      await arm.compute.usage.list(arm.location, { abortSignal }).byPage().next();
    },
  },
  {
    name: "files",
    probe: async (abortSignal) => {
      const { files } = getClients();
      await files.service.listShares({ abortSignal }).byPage({ maxPageSize: 1 }).next();
    },
  },
];

export type HealthReport = { status: "ok" | "unhealthy"; checks: Record<string, { status: "ok" | "down"; error?: string }> };

export async function runHealthChecks(checks: HealthCheck[] = healthChecks, timeoutMs = TIMEOUT_MS): Promise<HealthReport> {
  const results = await Promise.all(
    checks.map(async (c) => {
      const signal = AbortSignal.timeout(timeoutMs);
      try {
        await Promise.race([
          c.probe(signal),
          new Promise((_, reject) => signal.addEventListener("abort", () => reject(new Error(`no answer within ${timeoutMs} ms`)))),
        ]);
        return [c.name, { status: "ok" as const }] as const;
      } catch (err) {
        return [c.name, { status: "down" as const, error: describe(err, timeoutMs) }] as const;
      }
    }),
  );
  const report: HealthReport["checks"] = Object.fromEntries(results);
  return { status: results.every(([, r]) => r.status === "ok") ? "ok" : "unhealthy", checks: report };
}

/** A short reason without secrets (SDK errors can embed request details). */
function describe(err: unknown, timeoutMs: number): string {
  const e = err as { code?: unknown; statusCode?: number; name?: string; message?: string };
  if (e?.name === "AbortError" || e?.name === "TimeoutError") return `no answer within ${timeoutMs} ms`;
  if (typeof e?.code === "string") return e.code;
  if (e?.statusCode) return `HTTP ${e.statusCode}`;
  return (e?.message ?? String(err)).split("\n")[0]!.slice(0, 200);
}

httpRoute(ROUTES.health, async (): Promise<HttpResponseInit> => {
  const report = await runHealthChecks();
  if (report.status === "ok") return { status: 200, jsonBody: { status: "ok" } };
  return { status: 503, jsonBody: report };
});
