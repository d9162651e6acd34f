// Sub-orchestrations: starting a child for a parent's SubOrchestrationInstanceCreated, and
// reporting its end to the parent. The child's instance row names its parent (durable); a
// parent that was not loaded is loaded to receive the report.
import type { InstanceRow } from "../backend/records";
import type { TaskHubStore } from "../backend/store";
import { EngineError } from "../client/errors";
import type { ChildWork } from "../executor/episode";
import { isTerminal, type FailureDetails, type InstanceMessage, type InstanceState, type RuntimeStatus } from "../types";
import { errorMessage } from "./invoke";
import type { LiveInstances } from "./live";

export type ChildEnd = { status: RuntimeStatus; output?: string; failure?: FailureDetails };

export type SubOrchestrationOptions = {
  store: TaskHubStore;
  live: LiveInstances;
  startNew(name: string, instanceId: string, input: string | undefined, parent: InstanceState["parent"], version?: string): Promise<string>;
  deliver(instanceId: string, msg: InstanceMessage): void;
};

export class SubOrchestrations {
  constructor(private readonly o: SubOrchestrationOptions) {}

  async start(c: ChildWork): Promise<void> {
    const parent = { instanceId: c.instanceId, exec: c.exec, id: c.id };
    try {
      const existing: InstanceState | InstanceRow | undefined = this.o.live.get(c.childId)?.state ?? (await this.o.store.readInstance(c.childId));
      const same = existing?.parent && existing.parent.instanceId === parent.instanceId && existing.parent.exec === parent.exec && existing.parent.id === parent.id;
      if (existing && same) {
        // Already started for this call (we are recovering): report it if it is done.
        if (isTerminal(existing.status)) this.notifyParent(existing, { status: existing.status, output: existing.output, failure: existing.failure });
        else if (!this.o.live.has(c.childId)) await this.o.live.recover(c.childId);
        return;
      }
      await this.o.startNew(c.name, c.childId, c.input, parent, c.version);
    } catch (err) {
      const reason = err instanceof EngineError ? err.message : `Could not start sub-orchestration '${c.name}': ${errorMessage(err)}`;
      this.o.deliver(c.instanceId, { kind: "subFailed", exec: c.exec, id: c.id, reason, details: reason });
    }
  }

  notifyParent(child: { name: string; instanceId: string; parent?: InstanceState["parent"] }, f: ChildEnd): void {
    const p = child.parent;
    if (!p) return;
    const deliverNow = () => {
      if (f.status === "Completed") {
        this.o.deliver(p.instanceId, { kind: "subCompleted", exec: p.exec, id: p.id, result: f.output ?? null });
      } else {
        const message = f.failure?.ErrorMessage ?? (f.output ? String(JSON.parse(f.output)) : f.status);
        const reason = f.status === "Terminated" ? `Sub-orchestration '${child.name}' (${child.instanceId}) was terminated: ${message}` : `Orchestrator function '${child.name}' failed: ${message}`;
        // The child's FailureDetails go with it (DurableTask.Core's SubOrchestrationInstanceFailedEvent
        // carries them): the library's TaskFailedError then has the inner failure and its properties.
        this.o.deliver(p.instanceId, { kind: "subFailed", exec: p.exec, id: p.id, reason, details: f.failure?.StackTrace ?? "", ...(f.status === "Failed" && f.failure ? { failure: f.failure } : {}) });
      }
    };
    if (this.o.live.has(p.instanceId)) deliverNow();
    else void this.o.live.recover(p.instanceId).then(deliverNow, () => undefined);
  }
}
