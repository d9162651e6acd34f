// Emulator state: every resource, run-command record and operation, persisted as one JSON
// file under DATA_DIR/cloud, written atomically (temp file + rename) shortly after changes.
import fs from "node:fs";
import path from "node:path";
import type { Json, JsonObject } from "./http";
import type { RoleAssignmentRecord } from "./roleAssignments";

export type PowerState = "starting" | "running" | "stopping" | "stopped" | "deallocating" | "deallocated";

/** A network resource: its ARM body as GET returns it, and the canonical request it was made from. */
export type NetRecord = {
  id: string;
  body: JsonObject;
  requestHash: string;
  pendingOpId?: string;
  /** A NIC stays reserved for the VM that was deleted or failed to create (NicReservedForAnotherVm). */
  reservedFor?: { vmId: string; until: number };
};

export type VmRecord = {
  id: string;
  body: JsonObject;
  requestHash: string;
  size: string;
  powerState: PowerState;
  provisioningState: string;
  /** The operation that owns the VM right now; another kind of operation gets 409. */
  pendingOp?: { id: string; kind: string };
  /** Why the last operation failed: shown as ProvisioningState/failed/<code> in the instance view. */
  failure?: { code: string; message: string };
  /** cloud-init user data (decoded); Azure never returns it, nor do we. */
  cloudInit?: string;
  /** cloud-init's first-boot commands ran. */
  initDone?: boolean;
  /** systemd units enabled by cloud-init (started on every boot). */
  enabledUnits?: string[];
  /** VM extensions (virtualMachines/extensions), by lowercased name; they go with the VM. */
  extensions?: Record<string, JsonObject>;
};

export type ExecutionState = "Unknown" | "Pending" | "Running" | "Failed" | "Succeeded" | "TimedOut" | "Canceled";

export type RunCommandView = {
  executionState: ExecutionState;
  executionMessage: string;
  exitCode?: number;
  output: string;
  error: string;
  startTime?: string;
  endTime?: string;
};

export type RunCommandRecord = {
  id: string;
  vmId: string;
  /** ARM body without protectedParameters (never stored) and without instanceView. */
  body: JsonObject;
  requestHash: string;
  provisioningState: string;
  view: RunCommandView;
  pendingOpId?: string;
  /** Process group leader while running, and the marker in its environment that proves it is ours. */
  pid?: number;
  marker?: string;
};

export type OperationRecord = {
  id: string;
  kind: string;
  provider: "Microsoft.Compute" | "Microsoft.Network";
  resourceId: string;
  status: "InProgress" | "Succeeded" | "Failed" | "Canceled";
  startTime: string;
  endTime?: string;
  dueAt: number;
  error?: { code: string; message: string };
};

export type PosixAttributes = { owner: string; group: string; mode: string };
export type ShareRecord = {
  account: string;
  name: string;
  quotaGiB: number;
  created: string;
  metadata: Record<string, string>;
  /** NFS shares carry owner, group and mode per path (relative, "" = root); SMB ones do not. */
  protocol?: "SMB" | "NFS";
  posix?: Record<string, PosixAttributes>;
};

export type State = {
  version: 1;
  nsgs: Record<string, NetRecord>;
  publicIps: Record<string, NetRecord>;
  nics: Record<string, NetRecord>;
  vnets: Record<string, NetRecord>;
  vms: Record<string, VmRecord>;
  runCommands: Record<string, RunCommandRecord>;
  operations: Record<string, OperationRecord>;
  shares: Record<string, ShareRecord>;
  roleAssignments?: Record<string, RoleAssignmentRecord>;
};

export const emptyState = (): State => ({
  version: 1, nsgs: {}, publicIps: {}, nics: {}, vnets: {}, vms: {}, runCommands: {}, operations: {}, shares: {},
});

/** Resource IDs are case-insensitive in ARM; records are keyed by the lower-cased ID. */
export const key = (id: string) => id.toLowerCase();

export class Store {
  state: State;
  private timer: NodeJS.Timeout | undefined;
  private readonly file: string;

  constructor(readonly dir: string) {
    this.file = path.join(dir, "state.json");
    this.state = this.load();
  }

  private load(): State {
    try {
      const parsed = JSON.parse(fs.readFileSync(this.file, "utf8")) as Partial<State>;
      return { ...emptyState(), ...parsed, version: 1 };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === "ENOENT") return emptyState();
      throw new Error(`cannot read ${this.file}: ${(err as Error).message}`);
    }
  }

  /** Schedules a write; bursts of changes become one write. */
  save(): void {
    if (this.timer) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.flush();
    }, 50);
  }

  flush(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    fs.mkdirSync(this.dir, { recursive: true });
    const tmp = `${this.file}.${process.pid}.tmp`;
    fs.writeFileSync(tmp, JSON.stringify(this.state));
    fs.renameSync(tmp, this.file);
  }
}

export function asJson<T>(v: T): Json {
  return v as unknown as Json;
}
