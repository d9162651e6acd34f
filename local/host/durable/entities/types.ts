// Wire shapes of durable entities as the Durable Functions extension (2.x/3.x, Azure Storage
// provider) and durable-functions 3.x exchange them: the messages between orchestrations and
// entities (RequestMessage / ReleaseMessage / ResponseMessage), the batch request the entity
// function receives and the EntityState it returns.

/** `{ name, key }` as the extension serializes EntityId; names are lower-cased. */
export type EntityIdWire = { name: string; key: string };

/** An operation, signal or lock request (the extension's RequestMessage, event name "op"). */
export type RequestMessage = {
  op?: string;
  signal?: boolean;
  /** JSON text of the operation input. */
  input?: string;
  id: string;
  parent?: string;
  parentExecution?: string;
  /** Set on lock requests: the whole (sorted) lock set and the position of the receiver. */
  lockset?: EntityIdWire[];
  pos?: number;
};

/** Ends a critical section (the extension's ReleaseMessage, event name "release"). */
export type ReleaseMessage = { parent: string; id: string };

/** What an entity receives, stored as a message row of its partition. */
export type EntityMessage = { kind: "op"; req: RequestMessage } | { kind: "release"; rel: ReleaseMessage };

/** The answer to a call or lock request, raised on the caller as an event named after the request id. */
export type ResponseMessage = { result: string | null; exceptionType?: string };

/** What the entity function receives (the extension's out-of-proc entity context). */
export type EntityBatchRequest = {
  self: EntityIdWire;
  exists: boolean;
  state: string | null;
  batch: { name: string; input: string | null; isSignal: boolean }[];
};

/** What the library's entity handler returns (its EntityState). */
export type EntityBatchResult = {
  entityExists: boolean;
  entityState?: string;
  results: { isError: boolean; duration?: number; result?: string }[];
  signals: { target: EntityIdWire; name: string; input?: string }[];
};

/** The persisted state of one entity: its user state and its scheduler state. */
export type EntityRecord = {
  id: string;
  name: string;
  key: string;
  exists: boolean;
  /** JSON text of the user state. */
  state?: string;
  /** Instance id of the orchestration holding the lock, if any. */
  lockedBy?: string;
  /** Requests waiting (for the lock holder to release, or for the next batch). */
  queue: RequestMessage[];
  lastModifiedTime: string;
  /**
   * Row keys of the latest messages consumed from orchestrations and entities. A sender's outbox
   * row is deleted after delivery, in another partition: a crash in between delivers it again
   * after the restart, and the copy is recognised here (the extension's MessageSorter keeps
   * per-sender positions for the same reason).
   */
  recent?: string[];
};

/** One message to deliver after the sender's transaction committed: to an entity or an orchestration. */
export type OutboxEntry = { to: string; rowKey: string; msg: unknown };
