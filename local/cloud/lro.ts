// ARM long-running operations: an operation-status resource per operation, served at
// .../providers/<ns>/locations/<loc>/operations/<id> (Azure-AsyncOperation) and with
// ?monitor=true (Location: 202 while running, 200 when done). Completion work is looked
// up by kind so operations that were in flight when the emulator stopped resume on restart.
import { randomUUID } from "node:crypto";
import { ArmError, nowIso, type JsonObject } from "./http";
import type { OperationRecord, Store } from "./store";

/** Finishes an operation; throwing an ArmError fails it. */
export type Completer = (op: OperationRecord) => void | Promise<void>;

/** Finished operations stay readable this long (SDK pollers read them at once), then go. */
export const OPERATION_RETENTION_MS = 3600_000;
/** Pruning runs every this many new operations, so the state file stays bounded while busy. */
const PRUNE_EVERY = 500;

export class Operations {
  private completers = new Map<string, Completer>();
  private failers = new Map<string, (op: OperationRecord, error: { code: string; message: string }) => void>();
  /** Decides whether an accepted operation ends Failed instead of completing (outcome injection). */
  injectFailure: (op: OperationRecord) => { code: string; message: string } | undefined = () => undefined;
  private created = 0;
  private timers = new Set<NodeJS.Timeout>();
  private waiters = new Map<string, Array<() => void>>();

  constructor(private readonly store: Store, private readonly location: string, private readonly subscriptionId: string) {}

  register(kind: string, completer: Completer): void {
    this.completers.set(kind, completer);
  }

  /** What a failed operation of `kind` leaves behind (the resource's Failed state). */
  registerFailure(kind: string, failer: (op: OperationRecord, error: { code: string; message: string }) => void): void {
    this.failers.set(kind, failer);
  }

  /** Starts an operation whose registered completer runs after `delayMs`. */
  begin(kind: string, provider: OperationRecord["provider"], resourceId: string, delayMs: number): OperationRecord {
    const op = this.create(kind, provider, resourceId, delayMs);
    this.schedule(op);
    return op;
  }

  /** Starts an operation finished later by the caller through finish(). */
  beginManual(kind: string, provider: OperationRecord["provider"], resourceId: string): OperationRecord {
    return this.create(kind, provider, resourceId, 0);
  }

  get(id: string): OperationRecord | undefined {
    return this.store.state.operations[id];
  }

  finish(id: string, error?: { code: string; message: string }, status?: "Canceled"): void {
    const op = this.store.state.operations[id];
    if (!op || op.status !== "InProgress") return;
    op.status = status ?? (error ? "Failed" : "Succeeded");
    op.endTime = nowIso();
    if (error) op.error = error;
    this.store.save();
    for (const w of this.waiters.get(id) ?? []) w();
    this.waiters.delete(id);
  }

  /** Resolves when the operation leaves InProgress (used by tests and shutdown). */
  settled(id: string): Promise<void> {
    const op = this.get(id);
    if (!op || op.status !== "InProgress") return Promise.resolve();
    return new Promise((resolve) => this.waiters.set(id, [...(this.waiters.get(id) ?? []), resolve]));
  }

  /** After a restart: resume timed operations, fail the ones whose process died with us. */
  recover(): void {
    for (const op of Object.values(this.store.state.operations)) {
      if (op.status !== "InProgress") continue;
      if (this.completers.has(op.kind)) this.schedule(op);
      else this.finish(op.id, { code: "OperationInterrupted", message: "The operation was interrupted because the emulator restarted." });
    }
    this.prune();
  }

  /**
   * Drops finished operations that ended more than OPERATION_RETENTION_MS ago: the state file is
   * rewritten whole after changes, so a long-running emulator must not keep every operation.
   */
  prune(now = Date.now()): number {
    const cutoff = now - OPERATION_RETENTION_MS;
    let dropped = 0;
    for (const [id, op] of Object.entries(this.store.state.operations)) {
      if (op.status !== "InProgress" && op.endTime && Date.parse(op.endTime) < cutoff) {
        delete this.store.state.operations[id];
        dropped++;
      }
    }
    if (dropped) this.store.save();
    return dropped;
  }

  stop(): void {
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
  }

  /** Headers of a 201/202 answer: Azure-AsyncOperation always, Location for POST/DELETE. */
  headers(op: OperationRecord, baseUrl: string, apiVersion: string, retryAfterSeconds: number, withLocation: boolean): Record<string, string> {
    const url = `${baseUrl}/subscriptions/${this.subscriptionId}/providers/${op.provider}/locations/${this.location}/operations/${op.id}`;
    const v = encodeURIComponent(apiVersion);
    const h: Record<string, string> = { "azure-asyncoperation": `${url}?api-version=${v}` };
    if (withLocation) h.location = `${url}?monitor=true&api-version=${v}`;
    if (retryAfterSeconds > 0) h["retry-after"] = String(retryAfterSeconds);
    return h;
  }

  statusBody(op: OperationRecord): JsonObject {
    const body: JsonObject = { name: op.id, status: op.status, startTime: op.startTime };
    if (op.endTime) body.endTime = op.endTime;
    if (op.error) body.error = { code: op.error.code, message: op.error.message };
    return body;
  }

  private create(kind: string, provider: OperationRecord["provider"], resourceId: string, delayMs: number): OperationRecord {
    const op: OperationRecord = {
      id: randomUUID(), kind, provider, resourceId, status: "InProgress", startTime: nowIso(), dueAt: Date.now() + delayMs,
    };
    this.store.state.operations[op.id] = op;
    this.store.save();
    if (++this.created % PRUNE_EVERY === 0) this.prune();
    return op;
  }

  private schedule(op: OperationRecord): void {
    const completer = this.completers.get(op.kind);
    if (!completer) throw new Error(`no completer registered for operation kind ${op.kind}`);
    const timer = setTimeout(async () => {
      this.timers.delete(timer);
      try {
        const injected = this.injectFailure(op);
        if (injected) {
          this.failers.get(op.kind)?.(op, injected);
          this.finish(op.id, injected);
          return;
        }
        await completer(op);
        this.finish(op.id);
      } catch (err) {
        const e = err instanceof ArmError ? err : new ArmError(500, "InternalServerError", (err as Error).message);
        this.finish(op.id, { code: e.code, message: e.message });
      }
    }, Math.max(0, op.dueAt - Date.now()));
    this.timers.add(timer);
  }
}
