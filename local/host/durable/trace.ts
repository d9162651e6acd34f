// The durable extension's end-to-end trace lines (EndToEndTraceHelper), in its words, under its
// log category: `func start` prints them, and tools (the extension's own e2e tests among them)
// find an orchestration's start by "<instance id>: Function '<name> (Orchestrator)' scheduled".
// Inputs are never traced (the extension redacts them unless traceInputsAndOutputs is set).

export const TRACE_CATEGORY = "Host.Triggers.DurableTask";

let sequenceNumber = 0;

/** FunctionScheduled for an orchestration a client starts (Reason: NewInstance). */
export function scheduledLine(instanceId: string, functionName: string, hubName: string): string {
  const app = process.env.WEBSITE_SITE_NAME ?? "";
  const slot = process.env.WEBSITE_SLOT_NAME ?? "";
  return (
    `${instanceId}: Function '${functionName} (Orchestrator)' scheduled. Reason: NewInstance. IsReplay: False. State: Scheduled. ` +
    `RuntimeStatus: Pending. HubName: ${hubName}. AppName: ${app}. SlotName: ${slot}. ExtensionVersion: local-host. SequenceNumber: ${sequenceNumber++}.`
  );
}
