// What the task hub stores for an orchestration instance: its row, the history chunk of each
// episode, and messages not yet applied. How they become Table rows: rows.ts; where: store.ts.
import type { FailureDetails, HistoryEvent, InstanceMessage, InstanceState, Leaf, ParentRef, RuntimeStatus } from "../types";

export type InstanceRow = {
  instanceId: string;
  name: string;
  status: RuntimeStatus;
  exec: string;
  createdTime: string;
  lastUpdatedTime: string;
  input?: string;
  output?: string;
  customStatus?: string;
  failure?: FailureDetails;
  parent?: ParentRef;
  version?: string;
  chunks: number;
};

/** The instance row of an execution's state. */
export function toRow(s: InstanceState): InstanceRow {
  return {
    instanceId: s.instanceId,
    name: s.name,
    status: s.status,
    exec: s.exec,
    createdTime: s.createdTime,
    lastUpdatedTime: s.lastUpdatedTime,
    input: s.input,
    output: s.output,
    customStatus: s.customStatus,
    failure: s.failure,
    parent: s.parent,
    ...(s.version !== undefined ? { version: s.version } : {}),
    chunks: s.chunks,
  };
}

export type Chunk = { exec: string; seq: number; events: HistoryEvent[]; leafPatch: [number, Leaf][]; nextId: number };
export type StoredMessage = { rowKey: string; msg: InstanceMessage };
export type LoadedPartition = { row: InstanceRow; etag?: string; chunks: Chunk[]; messages: StoredMessage[]; staleRowKeys: string[] };

export type InstanceFilter = {
  runtimeStatus?: RuntimeStatus[];
  createdTimeFrom?: string;
  createdTimeTo?: string;
};
