// Instance operations whose orchestration never started. A create or a lifecycle operation
// moves the instance record into its busy state first and starts the orchestration last; a host
// that dies in between leaves an instance `Creating` (or `Stopping`…) that nothing will ever
// move, and that refuses every other operation. The reconcile tick finds such records and starts
// the orchestration the request meant to start (roll forward: the user asked for it), so nothing
// submitted is lost silently. docs/flows.md shows where in a create this can happen.
//
// STALLED_AFTER_MS is far beyond what a request takes between its two writes, so a request still
// on its way is never raced.
import { orchestrationIds } from "../shared/ids";
import type { InstanceRecord } from "../shared/instances/record";
import { SYSTEM_ACTORS } from "../shared/audit/actors";
import type { AuditStore } from "../shared/store/audit";
import type { OperationStore } from "../shared/store/operations";
import { ORCHESTRATIONS, type OperationRecord } from "../orchestrations/instances/types";
import type { OrchestrationPort } from "../orchestrations/jobs/durablePort";
import { lifecycleInput, operationAuditEntry } from "./instanceOperations";

/** A busy record this old whose orchestration does not exist was left by a request that died. */
export const STALLED_AFTER_MS = 10 * 60_000;

export type RecoveryDeps = {
  workspace: string;
  listPage(continuationToken: string | undefined): Promise<{ items: InstanceRecord[]; continuationToken?: string }>;
  operations: Pick<OperationStore<OperationRecord>, "get" | "create">;
  audit: Pick<AuditStore, "record">;
  port: Pick<OrchestrationPort, "status" | "start">;
  log(line: string): void;
};

type OperationName = keyof typeof ORCHESTRATIONS;

/** The orchestration a record's running operation should have, or undefined when it cannot be known. */
export function orchestrationOf(workspace: string, rec: InstanceRecord): { name: string; id: string } | undefined {
  const op = rec.lastOperation;
  if (!op || op.status !== "Running") return undefined;
  if (op.name === "create") return { name: ORCHESTRATIONS.provision, id: orchestrationIds.provision(workspace, rec.name) };
  if (op.name === "provision" || !(op.name in ORCHESTRATIONS)) return undefined;
  // The orchestration id is on the record (the auto-stop timer names its orchestrations itself);
  // a record from before it was kept cannot tell, and is left alone.
  if (!op.orchestrationId) return undefined;
  return { name: ORCHESTRATIONS[op.name as Exclude<OperationName, "provision">], id: op.orchestrationId };
}

/** Starts the orchestrations of stalled operations; returns the operation ids it started. */
export async function recoverStalledOperations(deps: RecoveryDeps, now: Date): Promise<string[]> {
  const recovered: string[] = [];
  let token: string | undefined;
  do {
    const page = await deps.listPage(token);
    for (const rec of page.items) {
      const op = rec.lastOperation;
      const orchestration = orchestrationOf(deps.workspace, rec);
      if (!op || !orchestration || now.getTime() - Date.parse(op.startedAt) < STALLED_AFTER_MS) continue;
      if ((await deps.port.status(orchestration.id)) !== "none") continue;
      // The operation record and its audit entry come before the start; either may be missing.
      let requestedBy = (await deps.operations.get(op.id))?.record.requestedBy;
      if (requestedBy === undefined) {
        requestedBy = SYSTEM_ACTORS.recovery;
        const record: OperationRecord = {
          id: op.id, name: op.name, instance: rec.name, ...(rec.instanceId ? { instanceId: rec.instanceId } : {}),
          status: "Running", startedAt: op.startedAt, steps: [], requestedBy, assignedUser: rec.assignedUser,
          reason: "recovery: the request that began it ended before starting it",
        };
        await deps.operations.create(record).catch(() => undefined);
        await deps.audit.record(operationAuditEntry(record, SYSTEM_ACTORS.recovery, `instance.${op.name}`)).catch(() => undefined);
      }
      if ((await deps.port.start(orchestration.name, orchestration.id, lifecycleInput(rec.name, op.id, requestedBy))) === "started") {
        deps.log(`instances: ${op.name} of ${rec.name} (operation ${op.id}) had no orchestration (its request was interrupted); started it now`);
        recovered.push(op.id);
      }
    }
    token = page.continuationToken;
  } while (token);
  return recovered;
}
