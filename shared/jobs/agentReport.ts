// What an agent may report about a job (functions/agent.ts): validated like any request body.
import { z } from "zod";

const outcome = z.object({
  state: z.enum(["Completed", "Failed", "Canceled", "TimedOut"]),
  exitCode: z.number().int().min(-1).max(255).optional(),
  message: z.string().max(1000).optional(),
});

export const agentReport = z.discriminatedUnion("kind", [
  // `claim`: the agent's id for this run of the job, so a "started" repeated after a lost answer is recognised.
  z.object({ kind: z.literal("started"), claim: z.string().regex(/^[A-Za-z0-9-]{8,64}$/).optional() }),
  /** A job with an image: the pull is done, the container starts (Starting → Running). */
  z.object({ kind: z.literal("running") }),
  z.object({ kind: z.literal("heartbeat") }),
  z.object({ kind: z.literal("exited"), outcome }),
]);

export type AgentReport = z.infer<typeof agentReport>;

export type ReportedOutcome = z.infer<typeof outcome>;

const ERROR_CODES = { Failed: "JobFailed", TimedOut: "TimedOut", Canceled: "Canceled" } as const;

/** The job's outcome as the job record keeps it (error code per end state, times). */
export function toJobOutcome(o: ReportedOutcome, times: { startTime?: string; endTime: string }) {
  return {
    state: o.state,
    ...(o.exitCode !== undefined ? { exitCode: o.exitCode } : {}),
    ...(times.startTime ? { startTime: times.startTime } : {}),
    endTime: times.endTime,
    ...(o.state === "Completed" ? {} : { error: { code: ERROR_CODES[o.state], message: o.message ?? `the job ended ${o.state}` } }),
  };
}
