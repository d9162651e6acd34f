// Wire shapes of the Durable Functions out-of-process protocol (durable-functions 3.x,
// lib/src/history and lib/src/actions) and the host-side records our engine keeps.

/** HistoryEventType numbers, as the library's `history/HistoryEventType.js`. */
export const EventType = {
  ExecutionStarted: 0,
  ExecutionCompleted: 1,
  ExecutionFailed: 2,
  ExecutionTerminated: 3,
  TaskScheduled: 4,
  TaskCompleted: 5,
  TaskFailed: 6,
  SubOrchestrationInstanceCreated: 7,
  SubOrchestrationInstanceCompleted: 8,
  SubOrchestrationInstanceFailed: 9,
  TimerCreated: 10,
  TimerFired: 11,
  OrchestratorStarted: 12,
  OrchestratorCompleted: 13,
  EventSent: 14,
  EventRaised: 15,
  ContinueAsNew: 16,
  GenericEvent: 17,
  HistoryState: 18,
  ExecutionSuspended: 19,
  ExecutionResumed: 20,
} as const;

export const EventTypeName: Record<number, string> = Object.fromEntries(
  Object.entries(EventType).map(([k, v]) => [v, k]),
);

/** A history event exactly as the library reads it: PascalCase, numeric EventType. */
export type HistoryEvent = {
  EventType: number;
  EventId: number;
  IsPlayed: boolean;
  Timestamp: string;
  [field: string]: unknown;
};

/** ActionType numbers, as the library's `actions/ActionType.js`. */
export const ActionType = {
  CallActivity: 0,
  CallActivityWithRetry: 1,
  CallSubOrchestrator: 2,
  CallSubOrchestratorWithRetry: 3,
  ContinueAsNew: 4,
  CreateTimer: 5,
  WaitForExternalEvent: 6,
  CallEntity: 7,
  CallHttp: 8,
  SignalEntity: 9,
  WhenAny: 11,
  WhenAll: 12,
  LockEntities: 13,
  ReleaseEntities: 14,
} as const;

export const ActionTypeName: Record<number, string> = Object.fromEntries(
  Object.entries(ActionType).map(([k, v]) => [v, k]),
);

export type RetryOptionsWire = {
  firstRetryIntervalInMilliseconds: number;
  maxNumberOfAttempts: number;
  backoffCoefficient?: number;
  maxRetryIntervalInMilliseconds?: number;
  retryTimeoutInMilliseconds?: number;
};

/** One action of the orchestrator's output, after JSON (dates are ISO strings). */
export type ActionWire = {
  actionType: number;
  functionName?: string;
  input?: unknown;
  instanceId?: string;
  retryOptions?: RetryOptionsWire;
  fireAt?: string;
  isCanceled?: boolean;
  externalEventName?: string;
  compoundActions?: ActionWire[];
  [field: string]: unknown;
};

/** What the orchestrator handler returns (OrchestratorState) or carries after `$OutOfProcData$:`. */
export type OrchestratorStateWire = {
  isDone: boolean;
  actions: ActionWire[][];
  output?: unknown;
  error?: string;
  customStatus?: unknown;
  schemaVersion?: number;
  failureDetails?: FailureDetails;
};

export type FailureDetails = {
  ErrorType: string;
  ErrorMessage: string;
  StackTrace?: string;
  IsNonRetriable?: boolean;
  Properties?: Record<string, unknown>;
  InnerFailure?: FailureDetails;
};

export type RuntimeStatus = "Pending" | "Running" | "Completed" | "ContinuedAsNew" | "Failed" | "Terminated" | "Suspended";

export const TERMINAL: ReadonlySet<RuntimeStatus> = new Set(["Completed", "Failed", "Terminated"]);
export const isTerminal = (s: RuntimeStatus): boolean => TERMINAL.has(s);

export type RetryState = {
  first: number;
  max: number;
  coef: number;
  maxInterval: number;
  timeout: number;
  /** Attempts started so far. */
  attempt: number;
  /** Epoch ms of the first attempt; retryTimeout counts from here. */
  startedAt: number;
  /** Last failure, reused when the retry timeout expires with attempts left. */
  lastReason?: string;
  lastDetails?: string;
  lastFailure?: FailureDetails;
  /** The retry timeout passed: remaining attempts fail without running. */
  expired?: boolean;
};

/**
 * One schedulable leaf of the orchestrator's cumulative action list (depth-first order).
 * Its `id` is the event id of what we wait for now: the current attempt, retry timer or
 * sub-timer of a long timer.
 */
export type Leaf = {
  /** ActionType of the action. */
  t: number;
  /** Function name, event name or "" (timers). */
  n: string;
  /** JSON text of the input (activities, sub-orchestrations). */
  in?: string;
  id?: number;
  /**
   * "task": waiting for an activity/sub-orchestration result; "timer": for TimerFired; "done";
   * "rewound": its failure was rewound (executor/rewind.ts), the next episode schedules it again under `id`.
   */
  st: "task" | "timer" | "done" | "none" | "rewound";
  fireAt?: string;
  /** Final fire time of a long timer (split into sub-timers). */
  final?: string;
  retry?: RetryState;
  /** Explicit instance id of a sub-orchestration, if the app gave one. */
  childId?: string;
  /** The version the app asked for a sub-orchestration (else the default version). */
  ver?: string;
  /** Instance id of the current sub-orchestration attempt. */
  child?: string;
  /** Durable HTTP: event id of the poll request sent when the poll timer fires. */
  next?: number;
  /** Entity call or lock: the request id its response event is named after. */
  req?: string;
  /** Lock: the request id and the entity instance ids of the critical section. */
  lock?: { req: string; set: string[] };
  /**
   * Still open when its execution failed and was rewound (executor/rewind.ts): a reply that came
   * after the failure was dropped, so it is awaited but not run again when the instance is loaded.
   */
  stranded?: true;
};

/** Messages delivered to an orchestration instance. */
export type InstanceMessage =
  | { kind: "taskCompleted"; exec: string; id: number; result: string | null }
  | { kind: "taskFailed"; exec: string; id: number; reason: string; details: string; failure?: FailureDetails }
  | { kind: "timerFired"; exec: string; id: number; fireAt: string }
  | { kind: "subCompleted"; exec: string; id: number; result: string | null }
  | { kind: "subFailed"; exec: string; id: number; reason: string; details: string; failure?: FailureDetails }
  /** exec: set when aimed at one execution (an entity's response); a client's event has none. */
  | { kind: "event"; name: string; input: string | null; exec?: string; rowKey?: string }
  | { kind: "terminate"; reason: string; rowKey?: string }
  | { kind: "suspend"; reason: string; rowKey?: string }
  | { kind: "resume"; reason: string; rowKey?: string }
  /** Revives a rewound execution (the provider's GenericEvent message); its reason becomes the event's Data. */
  | { kind: "rewind"; reason: string; rowKey?: string };

export type ParentRef = { instanceId: string; exec: string; id: number };

/** Everything about one instance's current execution. */
export type InstanceState = {
  instanceId: string;
  name: string;
  exec: string;
  status: RuntimeStatus;
  /** JSON text of the input (undefined: none). */
  input?: string;
  output?: string;
  customStatus?: string;
  failure?: FailureDetails;
  createdTime: string;
  lastUpdatedTime: string;
  parent?: ParentRef;
  /** The orchestration's version (durableTask.defaultVersion when the client named none). */
  version?: string;
  history: HistoryEvent[];
  leaves: Leaf[];
  nextId: number;
  /** History chunks written for this execution (one per episode). */
  chunks: number;
};
