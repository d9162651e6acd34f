// The working state of one episode while the executor builds it: the leaves it changes, the
// event ids it takes, the history it appends and what it decides to dispatch; and the ways an
// episode ends (held, terminated, failed, continued as new, completed, still running).
import { withoutStackFrames } from "../actions";
import { releaseOnEnd } from "../entities/orchestration";
import { EventType, type FailureDetails, type HistoryEvent, type InstanceMessage, type InstanceState, type Leaf, type OrchestratorStateWire } from "../types";
import type { Decisions, EpisodeConfig, EpisodeResult } from "./episode";
import { childInstanceId, childWork, cloneLeaf, ev, isSub, scheduledEvent } from "./leaves";

export class EpisodeRun {
  readonly at: string;
  readonly nowMs: number;
  readonly leaves: Leaf[];
  /** Indexes of leaves created or changed: the episode's leaf patch. */
  readonly changed = new Set<number>();
  nextId: number;
  readonly decisions: Decisions = { activities: [], timers: [], children: [], selfMessages: [], entitySends: [] };
  readonly consumed: InstanceMessage[] = [];
  readonly held: InstanceMessage[] = [];
  readonly appended: HistoryEvent[];
  /** Open leaves by the event id they wait for. */
  readonly byId = new Map<number, number>();
  /** Incoming events that take an event id without resuming user code (see episode.ts), and the rest. */
  readonly early: HistoryEvent[] = [];
  readonly late: HistoryEvent[] = [];
  /** Events of what this episode schedules; their ids are taken after the early events'. */
  readonly decided: HistoryEvent[] = [];
  readonly takesId: (() => void)[] = [];
  suspended: boolean;
  customStatus: string | undefined;
  /** The instance with this episode's leaves and time: what every outcome starts from. */
  private readonly base: InstanceState;

  constructor(
    readonly state: InstanceState,
    now: Date,
    readonly cfg: EpisodeConfig,
  ) {
    this.at = now.toISOString();
    this.nowMs = now.getTime();
    this.leaves = state.leaves.map(cloneLeaf);
    this.nextId = state.nextId;
    this.appended = [ev(EventType.OrchestratorStarted, -1, this.at)];
    this.suspended = state.status === "Suspended";
    this.customStatus = state.customStatus;
    this.base = { ...state, leaves: this.leaves, lastUpdatedTime: this.at };
    this.leaves.forEach((l, i) => {
      if ((l.st === "task" || l.st === "timer") && l.id !== undefined) this.byId.set(l.id, i);
    });
  }

  get firstEpisode(): boolean {
    return this.state.history.length === 0;
  }

  takeId(): number {
    return this.nextId++;
  }

  /** A retry's wait and the next part of a long timer both become a durable timer on the leaf. */
  startTimer(leaf: Leaf, i: number, timerId: number, fireAt: string): void {
    Object.assign(leaf, { st: "timer", id: timerId, fireAt });
    this.byId.set(timerId, i);
    this.decided.push(ev(EventType.TimerCreated, timerId, this.at, { FireAt: fireAt }));
    this.decisions.timers.push({ instanceId: this.state.instanceId, exec: this.state.exec, id: timerId, fireAt });
  }

  /** Schedules an attempt of an activity or sub-orchestration leaf under event id `id`. */
  schedule(leaf: Leaf, id: number): void {
    const { state, at } = this;
    this.decided.push(scheduledEvent(leaf, id, at, state.exec));
    if (isSub(leaf.t)) {
      const childId = childInstanceId(leaf, id, state.exec);
      leaf.child = childId;
      this.decisions.children.push(childWork(state.instanceId, state.exec, id, leaf, childId));
    } else {
      this.decisions.activities.push({ instanceId: state.instanceId, exec: state.exec, id, name: leaf.n, input: leaf.in });
    }
  }

  // ---------- outcomes ----------

  /** Suspended: the work stays queued. */
  hold(work: InstanceMessage[]): EpisodeResult {
    this.held.push(...work);
    return this.finish({ ...this.base, status: "Suspended" });
  }

  /** Versioning refused this worker: the messages wait, the instance keeps its status. */
  reject(work: InstanceMessage[]): EpisodeResult {
    this.held.push(...work);
    return this.finish({ ...this.base });
  }

  /** The messages are taken without running the orchestrator (an instance failed before it ran). */
  consume(work: InstanceMessage[]): void {
    this.consumed.push(...work);
  }

  terminate(reason: string, work: InstanceMessage[]): EpisodeResult {
    this.consumed.push(...work);
    const output = JSON.stringify(reason);
    this.appended.push(ev(EventType.ExecutionTerminated, -1, this.at, { Input: output }));
    this.appended.push(ev(EventType.ExecutionCompleted, -1, this.at, { OrchestrationStatus: "Terminated", Result: output }));
    return this.finish({ ...this.base, status: "Terminated", output }, { status: "Terminated", output });
  }

  fail(raw: string, failure?: FailureDetails): EpisodeResult {
    const { state, at, customStatus } = this;
    const message = withoutStackFrames(raw);
    const output = JSON.stringify(`Orchestrator function '${state.name}' failed: ${message}`);
    const details = failure ? { ...failure, ErrorMessage: withoutStackFrames(failure.ErrorMessage) } : { ErrorType: "Error", ErrorMessage: message };
    this.appended.push(...this.decided);
    this.appended.push(ev(EventType.OrchestratorCompleted, -1, at));
    this.appended.push(ev(EventType.ExecutionCompleted, -1, at, { OrchestrationStatus: "Failed", Result: output, FailureDetails: details }));
    return this.finish({ ...this.base, status: "Failed", output, customStatus, failure: details }, { status: "Failed", output, failure: details });
  }

  /** The orchestrator ran: it continues as new, completed, or waits for more. */
  ran(out: OrchestratorStateWire, continued?: { input?: string }): EpisodeResult {
    const { at } = this;
    this.appended.push(...this.decided);
    this.appended.push(ev(EventType.OrchestratorCompleted, -1, at));
    // A rewound instance reads Pending until it ends: the provider's rewind sets Pending and an
    // episode writes the status only with ExecutionStarted/Completed (AzureTableTrackingStore).
    const rewound = this.state.status === "Pending" && !this.firstEpisode;
    const next: InstanceState = { ...this.base, status: rewound ? "Pending" : "Running", customStatus: this.customStatus, nextId: this.nextId };
    if (continued) {
      this.appended.push(ev(EventType.ExecutionCompleted, -1, at, { OrchestrationStatus: "ContinuedAsNew", Result: continued.input }));
      return { ...this.finish(next), continueAsNew: { input: continued.input, carried: [] } };
    }
    if (out.isDone) {
      const output = out.output === undefined ? undefined : JSON.stringify(out.output);
      this.appended.push(ev(EventType.ExecutionCompleted, -1, at, { OrchestrationStatus: "Completed", Result: output }));
      return this.finish({ ...next, status: "Completed", output }, { status: "Completed", output });
    }
    return this.finish(next);
  }

  private finish(next: InstanceState, finished?: EpisodeResult["finished"]): EpisodeResult {
    const { state: prev, decisions } = this;
    next.history = [...prev.history, ...this.appended];
    next.chunks = prev.chunks + 1;
    const leafPatch: [number, Leaf][] = [...this.changed].sort((a, b) => a - b).map((i) => [i, next.leaves[i]!]);
    if (finished) {
      // Nothing of a finished execution runs any more.
      decisions.activities = [];
      decisions.timers = [];
      decisions.children = [];
      decisions.selfMessages = [];
      // What it sent still goes out; a critical section it is still in ends with it.
      decisions.entitySends.push(...releaseOnEnd(prev.instanceId, next.leaves));
    }
    return { next, appended: this.appended, leafPatch, consumed: this.consumed, held: this.held, decisions, finished };
  }
}
