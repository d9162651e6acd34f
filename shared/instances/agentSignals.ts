// What a VM's agent reports about the machine (functions/agentSignals.ts): the busy signals
// that hold idle shutdown off (shared/idle.ts), and, where the agent runs its proxy, the
// applications it serves. Validated like any request body; applied to the record here.
import { z } from "zod";
import type { InstanceRecord } from "./record";

export const APPLICATION_NAMES = ["terminal", "jupyter", "jupyterlab"] as const;
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

/** The record after a report at `now`. Busy signals are use: they move lastActivityAt. */
export function applySignals(rec: InstanceRecord, report: AgentSignalsReport, now: Date, intervalSeconds: number): InstanceRecord {
  const at = now.toISOString();
  const busy = report.busy;
  const last = rec.lastActivityAt ? Date.parse(rec.lastActivityAt) : NaN;
  return {
    ...rec,
    signals: { reportedAt: at, validUntil: new Date(now.getTime() + SIGNALS_VALID_INTERVALS * intervalSeconds * 1000).toISOString(), busy },
    ...(busy.length > 0 && !(last > now.getTime()) ? { lastActivityAt: at } : {}),
    ...(report.proxy || report.applications ? { agentApps: { ...(report.proxy ? { proxyUrl: report.proxy.url } : {}), applications: report.applications ?? [] } } : {}),
  };
}
