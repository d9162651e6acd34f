// Typed activity calls for the jobs orchestrators: a renamed activity or a wrong input breaks
// the build, not production. Results come back through `yield` (untyped) and are cast once here.
import * as df from "durable-functions";
import { withTrace } from "../traceInput";
import type { OrchestrationContext, Task } from "durable-functions";
import {
  ACTIVITIES,
  type ApplyInput,
  type ApplyResult,
  type FinishInput,
  type CancelOnAgentInput,
  type CheckAgentInput,
  type CheckAgentResult,
  type QueueConfigInput,
  type QueueConfigResult,
  type StartJobInput,
  type StartJobResult,
} from "./types";

type Calls = {
  [ACTIVITIES.queueConfig]: [QueueConfigInput, QueueConfigResult];
  [ACTIVITIES.apply]: [ApplyInput, ApplyResult];
  [ACTIVITIES.startJob]: [StartJobInput, StartJobResult];
  [ACTIVITIES.cancelOnAgent]: [CancelOnAgentInput, null];
  [ACTIVITIES.checkAgent]: [CheckAgentInput, CheckAgentResult];
  [ACTIVITIES.finish]: [FinishInput, null];
};

/** Transient cloud/storage failures (429 included) are retried with backoff by the engine. */
export const RETRY = new df.RetryOptions(500, 8);
RETRY.backoffCoefficient = 2;
RETRY.maxRetryIntervalInMilliseconds = 30_000;

export function call<K extends keyof Calls>(ctx: OrchestrationContext, name: K, input: Calls[K][0]): Task {
  return ctx.df.callActivityWithRetry(name, RETRY, withTrace(ctx, input));
}

export type ResultOf<K extends keyof Calls> = Calls[K][1];
