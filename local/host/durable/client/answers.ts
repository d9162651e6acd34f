// What the task hub's HTTP API answers, shaped as the extension shapes it: the URLs handed
// to clients, the status payload and the public history.
import type { InstanceRow } from "../backend/records";
import { EventType, EventTypeName, type HistoryEvent, type RuntimeStatus } from "../types";

export function clientUrls(baseUrl: string, hubName: string, systemKey: string) {
  const webhook = `${baseUrl}/runtime/webhooks/durabletask`;
  // As in Azure, every webhook URL handed out carries the system key as `code`.
  const qs = `taskHub=${hubName}&connection=Storage&code=${encodeURIComponent(systemKey)}`;
  const inst = `${webhook}/instances/INSTANCEID`;
  return {
    taskHubName: hubName,
    creationUrls: {
      createNewInstancePostUri: `${webhook}/orchestrators/{functionName}[/{instanceId}]?${qs}`,
      createAndWaitOnNewInstancePostUri: `${webhook}/orchestrators/{functionName}[/{instanceId}]?timeout={timeoutInSeconds}&pollingInterval={intervalInSeconds}&${qs}`,
    },
    managementUrls: {
      id: "INSTANCEID",
      statusQueryGetUri: `${inst}?${qs}`,
      sendEventPostUri: `${inst}/raiseEvent/{eventName}?${qs}`,
      terminatePostUri: `${inst}/terminate?reason={text}&${qs}`,
      rewindPostUri: `${inst}/rewind?reason={text}&${qs}`,
      purgeHistoryDeleteUri: `${inst}?${qs}`,
      restartPostUri: `${inst}/restart?${qs}`,
      suspendPostUri: `${inst}/suspend?reason={text}&${qs}`,
      resumePostUri: `${inst}/resume?reason={text}&${qs}`,
    },
    baseUrl: webhook,
    requiredQueryStringParameters: qs,
    // Azure serves the client's RPC routes on a listener only the worker can reach; here they
    // share the port with everything on the machine (jobs included), and the library drops any
    // query string when it resolves paths against this URL, so the key is a path segment.
    rpcBaseUrl: `${baseUrl}/durabletask/${encodeURIComponent(systemKey)}/`,
  };
}

function parseValue(text: string | undefined): unknown {
  if (text === undefined) return null;
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

/** History as the status API shows it: the documented event list, without scheduling bookkeeping. */
export function publicHistory(events: HistoryEvent[], showOutput: boolean, showInput: boolean): Record<string, unknown>[] {
  const scheduled = new Map<number, HistoryEvent>();
  for (const e of events) {
    if (e.EventType === EventType.TaskScheduled || e.EventType === EventType.SubOrchestrationInstanceCreated || e.EventType === EventType.TimerCreated) {
      scheduled.set(e.EventId, e);
    }
  }
  const out: Record<string, unknown>[] = [];
  for (const e of events) {
    const type = EventTypeName[e.EventType] ?? String(e.EventType);
    const item: Record<string, unknown> = { EventType: type, Timestamp: e.Timestamp };
    switch (e.EventType) {
      case EventType.ExecutionStarted:
        item.FunctionName = e.Name;
        if (showInput) item.Input = parseValue(e.Input as string | undefined);
        break;
      case EventType.TaskCompleted:
      case EventType.TaskFailed:
      case EventType.SubOrchestrationInstanceCompleted:
      case EventType.SubOrchestrationInstanceFailed: {
        const s = scheduled.get(e.TaskScheduledId as number);
        item.FunctionName = s?.Name;
        item.ScheduledTime = s?.Timestamp;
        if (e.EventType === EventType.SubOrchestrationInstanceCompleted || e.EventType === EventType.SubOrchestrationInstanceFailed) item.InstanceId = s?.InstanceId;
        if (showOutput && (e.EventType === EventType.TaskCompleted || e.EventType === EventType.SubOrchestrationInstanceCompleted)) item.Result = parseValue(e.Result as string | undefined);
        if (e.Reason !== undefined) item.Reason = e.Reason;
        if (showOutput && e.Details !== undefined) item.Details = e.Details;
        break;
      }
      case EventType.TimerFired:
        item.FireAt = e.FireAt;
        break;
      case EventType.EventRaised:
        item.Name = e.Name;
        if (showInput) item.Input = parseValue(e.Input as string | undefined);
        break;
      case EventType.ExecutionCompleted:
        item.OrchestrationStatus = e.OrchestrationStatus;
        if (showOutput) item.Result = parseValue(e.Result as string | undefined);
        break;
      case EventType.ExecutionTerminated:
      case EventType.ExecutionSuspended:
      case EventType.ExecutionResumed:
        item.Reason = e.Reason ?? parseValue(e.Input as string | undefined);
        break;
      default:
        continue; // OrchestratorStarted/Completed, TaskScheduled, TimerCreated, ...: bookkeeping
    }
    out.push(item);
  }
  return out;
}

/**
 * The status payload of the extension's HttpApiHandler (StatusResponsePayload): these fields
 * only — no failure details — and times as .NET's "s" format plus "Z" (whole seconds).
 */
export function statusBody(row: InstanceRow, showInput: boolean): Record<string, unknown> {
  return {
    name: row.name,
    instanceId: row.instanceId,
    runtimeStatus: row.status,
    input: showInput ? parseValue(row.input) : null,
    customStatus: parseValue(row.customStatus),
    output: parseValue(row.output),
    createdTime: azureTime(row.createdTime),
    lastUpdatedTime: azureTime(row.lastUpdatedTime),
  };
}

/** `DateTime.ToString("s") + "Z"`: 2026-12-01T09:47:26Z. */
export function azureTime(iso: string): string {
  const t = Date.parse(iso);
  return Number.isNaN(t) ? iso : new Date(Math.floor(t / 1000) * 1000).toISOString().replace(/\.\d{3}Z$/, "Z");
}

/** HttpApiHandler.HandleGetStatusRequestAsync: 202 while active; 200 once done, Failed too unless the caller asks for 500. */
export function statusCodeFor(s: RuntimeStatus, internalErrorOnFailure: boolean): number {
  if (s === "Failed") return internalErrorOnFailure ? 500 : 200;
  if (s === "Completed" || s === "Terminated") return 200;
  return 202;
}
