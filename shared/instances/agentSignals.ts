// What a VM's agent reports about the machine (functions/agentSignals.ts): the busy signals
// that hold idle shutdown off (shared/idle.ts), and, where the agent runs its proxy, the
// applications it serves. Validated like any request body; applied to the record here.
import { z } from "zod";
import type { InstanceRecord } from "./record";

export const APPLICATION_NAMES = ["terminal", "jupyter", "jupyterlab", "vscode"] as const;
export type ApplicationName = (typeof APPLICATION_NAMES)[number];

export const agentSignalsReport = z.strictObject({
  /** Human-readable reasons ("kernel busy in train.ipynb", "GPU 87 % used"); empty = nothing busy. */
  busy: z.array(z.string().min(1).max(200)).max(20),
  /** The agent's authenticating proxy, when it runs one: where the VNet reaches it. */
  proxy: z.strictObject({ url: z.url({ protocol: /^https?$/ }).max(200) }).optional(),
  applications: z
    .array(
      z.strictObject({
        name: z.enum(APPLICATION_NAMES),
        state: z.enum(["Available", "NotInstalled"]),
        message: z.string().max(300).optional(),
      }),
    )
    .max(APPLICATION_NAMES.length)
    .optional(),
});
export type AgentSignalsReport = z.infer<typeof agentSignalsReport>;

/** Signals hold this many report intervals: one lost report does not end them, a dead agent does. */
export const SIGNALS_VALID_INTERVALS = 3;

/**
 * Whether a report changes anything worth a write of the instance row (which every writer
 * shares, under its ETag): new applications, a new busy set, busy signals that are about to
 * lapse, or busy signals that ended. A steady report skips the write.
 */
export function signalsNeedWrite(rec: InstanceRecord, report: AgentSignalsReport, now: Date, intervalSeconds: number): boolean {
  const apps = report.proxy || report.applications ? { ...(report.proxy ? { proxyUrl: report.proxy.url } : {}), applications: report.applications ?? [] } : rec.agentApps;
  if (JSON.stringify(apps ?? null) !== JSON.stringify(rec.agentApps ?? null)) return true;
  const prev = rec.signals;
  const left = prev ? Date.parse(prev.validUntil) - now.getTime() : -1;
  const holding = prev !== undefined && prev.busy.length > 0 && left > 0;
  if (report.busy.length === 0) return holding;
  if (!holding || JSON.stringify(prev.busy) !== JSON.stringify(report.busy)) return true;
  return left < 2 * intervalSeconds * 1000;
}

/** The record after a report at `now`. Busy signals are use: they move lastActivityAt. */
export function applySignals(rec: InstanceRecord, report: AgentSignalsReport, now: Date, intervalSeconds: number): InstanceRecord {
  const at = now.toISOString();
  const busy = report.busy;
  const last = rec.lastActivityAt ? Date.parse(rec.lastActivityAt) : NaN;
  // Steady busy reports are not written (signalsNeedWrite): the report that ends them marks the use too.
  const ended = rec.signals !== undefined && rec.signals.busy.length > 0 && Date.parse(rec.signals.validUntil) > now.getTime();
  return {
    ...rec,
    signals: { reportedAt: at, validUntil: new Date(now.getTime() + SIGNALS_VALID_INTERVALS * intervalSeconds * 1000).toISOString(), busy },
    ...((busy.length > 0 || ended) && !(last > now.getTime()) ? { lastActivityAt: at } : {}),
    ...(report.proxy || report.applications ? { agentApps: { ...(report.proxy ? { proxyUrl: report.proxy.url } : {}), applications: report.applications ?? [] } } : {}),
  };
}
