// The app's metrics (OpenTelemetry), exported wherever traces go (./setup.ts; nowhere when off:
// the API's meter is then a no-op). One place lists them, so names and units stay consistent:
//
// | metric | kind | attributes |
// | --- | --- | --- |
// | `ci.jobs.queued`, `ci.jobs.running` | gauge, per instance, when its queue changes | `ci.instance` |
// | `ci.jobs.submit_to_start` | histogram, s: submission → the agent starts it | `ci.instance` |
// | `ci.operation.duration` | histogram, s: create/start/stop/restart/delete | `ci.operation`, `ci.outcome` |
// | `ci.arm.requests` | counter: every attempt at an ARM call | `http.response.status_code` |
// | `ci.arm.throttled` | counter: ARM answered 429 | |
// | `ci.arm.retries` | counter: attempts after the first | |
// | `ci.autostop.actions` | counter: stops/starts begun by the timer | `ci.autostop.reason` (`idle`, `schedule`), `ci.autostop.action` |
// | `ci.instances` | gauge, per auto-stop tick: instances in each state | `ci.instance.state` |
import { metrics, type Counter, type Gauge, type Histogram } from "@opentelemetry/api";
import type { PipelinePolicy, PipelineRequest } from "@azure/core-rest-pipeline";
import { INSTANCE_STATES } from "../instances/states";

type Instruments = {
  jobsQueued: Gauge;
  jobsRunning: Gauge;
  submitToStart: Histogram;
  operationDuration: Histogram;
  armRequests: Counter;
  armThrottled: Counter;
  armRetries: Counter;
  autostopActions: Counter;
  instances: Gauge;
};

let instruments: Instruments | undefined;

/** Created on first use, after setupTelemetry installed the meter provider. */
function m(): Instruments {
  if (!instruments) {
    const meter = metrics.getMeter("compute-instances");
    const seconds = { unit: "s", advice: { explicitBucketBoundaries: [0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800] } };
    instruments = {
      jobsQueued: meter.createGauge("ci.jobs.queued", { description: "Jobs waiting for a slot on the instance." }),
      jobsRunning: meter.createGauge("ci.jobs.running", { description: "Jobs holding a slot on the instance." }),
      submitToStart: meter.createHistogram("ci.jobs.submit_to_start", { description: "From a job's submission to its start on the VM.", ...seconds }),
      operationDuration: meter.createHistogram("ci.operation.duration", { description: "Instance operations, from request to end.", ...seconds }),
      armRequests: meter.createCounter("ci.arm.requests", { description: "ARM requests sent, every attempt." }),
      armThrottled: meter.createCounter("ci.arm.throttled", { description: "ARM answers 429 (throttled)." }),
      armRetries: meter.createCounter("ci.arm.retries", { description: "ARM attempts after the first (the SDK's retries)." }),
      autostopActions: meter.createCounter("ci.autostop.actions", { description: "Stops and starts begun by the auto-stop timer." }),
      instances: meter.createGauge("ci.instances", { description: "Instances in each state (at the auto-stop tick)." }),
    };
  }
  return instruments;
}

export function recordJobCounts(instance: string, queued: number, running: number): void {
  m().jobsQueued.record(queued, { "ci.instance": instance });
  m().jobsRunning.record(running, { "ci.instance": instance });
}

export function recordJobStarted(instance: string, submittedAt: string, startedAt: string): void {
  const s = (Date.parse(startedAt) - Date.parse(submittedAt)) / 1000;
  if (Number.isFinite(s) && s >= 0) m().submitToStart.record(s, { "ci.instance": instance });
}

export function recordOperationEnded(operation: string, outcome: string, startedAt: string, endedAt: string): void {
  const s = (Date.parse(endedAt) - Date.parse(startedAt)) / 1000;
  if (Number.isFinite(s) && s >= 0) m().operationDuration.record(s, { "ci.operation": operation, "ci.outcome": outcome });
}

export function recordAutoStopAction(reason: string, action: string): void {
  m().autostopActions.add(1, { "ci.autostop.reason": reason, "ci.autostop.action": action });
}

/** Every state is reported (0 when none), so a state that empties shows 0, not its last count. */
export function recordInstanceStates(counts: Record<string, number>): void {
  for (const state of INSTANCE_STATES) m().instances.record(counts[state] ?? 0, { "ci.instance.state": state });
}

/**
 * A pipeline policy for the ARM clients, placed per retry: it sees every attempt, so it counts
 * requests, 429s, and the attempts that repeat a request (the SDK's retry policy re-sends the
 * same request object).
 */
export function armMetricsPolicy(): PipelinePolicy {
  const seen = new WeakSet<PipelineRequest>();
  return {
    name: "ciArmMetrics",
    async sendRequest(request, next) {
      if (seen.has(request)) m().armRetries.add(1);
      else seen.add(request);
      try {
        const response = await next(request);
        m().armRequests.add(1, { "http.response.status_code": response.status });
        if (response.status === 429) m().armThrottled.add(1);
        return response;
      } catch (err) {
        m().armRequests.add(1, { "http.response.status_code": 0 });
        throw err;
      }
    },
  };
}
