// The live copies of orchestration instances this process works on: the state of the current
// execution and the messages waiting for its next episode (the work item). A copy is loaded
// from the task hub once, however many callers ask for it at the same time.
import type { TaskHubStore } from "../backend/store";
import type { HistoryEvent, InstanceMessage, InstanceState, Leaf } from "../types";

export type Live = {
  state: InstanceState;
  inbox: (InstanceMessage & { rowKey?: string })[];
  /** The instance's lease: one episode at a time. */
  running: boolean;
  queued: boolean;
  /** Failed attempts to store the current episode (see persistFailure.ts). */
  persistFailures?: number;
  /**
   * Row keys of delivered messages taken into an episode (running or committed) by this process:
   * a sender delivering the same row again (its outbox is delivered at least once) is ignored
   * instead of being stored and processed a second time.
   */
  taken?: Set<string>;
  /** Set while an episode gathers its messages (gather.ts): told of each message that lands. */
  arrived?: () => void;
};

export const newLive = (state: InstanceState): Live => ({ state, inbox: [], running: false, queued: false });

export class LiveInstances {
  private readonly map = new Map<string, Live>();
  private readonly recovering = new Map<string, Promise<Live | undefined>>();

  constructor(
    private readonly store: TaskHubStore,
    /** A copy was loaded from storage: re-dispatch its open work and run it. */
    private readonly resumed: (l: Live) => void,
  ) {}

  get(instanceId: string): Live | undefined {
    return this.map.get(instanceId);
  }

  has(instanceId: string): boolean {
    return this.map.has(instanceId);
  }

  set(instanceId: string, l: Live): void {
    this.map.set(instanceId, l);
  }

  delete(instanceId: string): void {
    this.map.delete(instanceId);
  }

  /**
   * The instance's one live copy, loaded from storage once however many callers ask at the same
   * time (the start-up scan, a raise from a resumed activity, an entity's reply from the outbox).
   * Two copies would run episodes side by side on the same history: the later commit overwrites
   * the earlier one's chunk, and the messages the earlier one consumed (and deleted) are lost.
   */
  recover(instanceId: string): Promise<Live | undefined> {
    const l = this.map.get(instanceId);
    if (l) return Promise.resolve(l);
    let p = this.recovering.get(instanceId);
    if (!p) {
      p = this.load(instanceId);
      this.recovering.set(instanceId, p);
      const done = () => this.recovering.delete(instanceId);
      void p.then(done, done);
    }
    return p;
  }

  /** The execution as its history chunks leave it: events (played), leaves and the next event id. */
  private async load(instanceId: string): Promise<Live | undefined> {
    const p = await this.store.loadPartition(instanceId);
    if (!p) return undefined;
    const leaves: Leaf[] = [];
    let nextId = 0;
    const history: HistoryEvent[] = [];
    for (const c of p.chunks) {
      for (const e of c.events) history.push({ ...e, IsPlayed: true });
      for (const [i, leaf] of c.leafPatch) leaves[i] = leaf;
      nextId = c.nextId;
    }
    const state: InstanceState = { ...p.row, history, leaves, nextId };
    const l: Live = { state, inbox: p.messages.map((m) => ({ ...m.msg, rowKey: m.rowKey })), running: false, queued: false };
    this.map.set(instanceId, l);
    if (p.staleRowKeys.length) void this.store.deleteKeys(instanceId, p.staleRowKeys).catch(() => undefined);
    this.resumed(l);
    return l;
  }
}
