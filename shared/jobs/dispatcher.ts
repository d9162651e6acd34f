// The per-instance job dispatcher as a pure state machine: `step(state, event)` → commands.
// The dispatcher orchestration only feeds it external events and carries `state` across
// continueAsNew, so the state is plain JSON and stays small.
//
// Rules
// - FIFO queue; at most cap = jobsPerCore × vCPUs jobs run at once; nothing starts while the
//   instance is not running (jobs for a stopped instance stay Queued).
// - A job asking for k GPUs starts only when k specific GPU indices are free; it gets the
//   lowest free ones, to pass as CUDA_VISIBLE_DEVICES.
// - Head-of-line: a GPU job that does not fit does NOT block later jobs that fit (CPU jobs
//   would otherwise sit idle behind it for hours). To keep it from starving, every job that
//   starts ahead of a waiting job counts as one bypass; after MAX_BYPASS bypasses the waiting
//   job becomes a barrier and nothing behind it starts, so slots and GPUs drain to it.
//   Later jobs are only looked at within a window of LOOKAHEAD live queue entries (and 4×LOOKAHEAD
//   entries counting canceled ones), which bounds the work per step whatever the queue depth;
//   a job further back than that waits for the blocked job ahead of it.
// - Delivery is at-least-once: duplicate JobSubmitted / JobFinished / CancelRequested are
//   ignored (queued and running ids are indexed; finished ids are remembered in two rotating
//   generations of DONE_GENERATION ids each). Events may arrive out of order: a cancel or a
//   finish before the submission leaves a tombstone so the late submission is ignored.
// - A stop cancels running jobs (CancelJob); they leave the running set when their
//   JobFinished arrives, so the cap still holds while they wind down.
//
// - Window: the state holds at most windowSize = max(WINDOW, cap) queued jobs (the oldest).
//   Later ones are spilled (Spill commands: rows in an ordered store, shared/jobs/spillStore)
//   and read back in order when the window has room (refillRequest → the caller reads the rows
//   and steps them with `admit`, then `Refilled`). While rows are spilled every new submission
//   is spilled too, so FIFO holds across the two. The state (the dispatcher orchestration's
//   input) therefore does not grow with the depth of the queue.
//
// Cost: `step` mutates and returns `state`: O(1) amortised per event for the common case
// (queue head pointer with periodic compaction, no array shifts), O(LOOKAHEAD) worst case.

export const LOOKAHEAD = 64;
export const MAX_BYPASS = 16;
export const DONE_GENERATION = 2048;
/** Queued jobs held in the state at least (more when the cap is larger). */
export const WINDOW = 64;

export interface DispatcherConfig {
  vCpus: number;
  jobsPerCore: number;
  gpus: number;
  /** Queued jobs held in the state (at least the cap); WINDOW unless set (tests use small ones). */
  window?: number;
}

interface QueueEntry {
  /** job id */
  id: string;
  /** GPUs requested */
  g: number;
  /** times a later job started ahead of this one */
  b: number;
}

export interface DispatcherState {
  v: 1;
  cfg: DispatcherConfig;
  /** Is the instance running (jobs may start)? */
  up: boolean;
  /** Queue entries; live ones are those in `queued`. Entries before `head` are consumed. */
  q: QueueEntry[];
  head: number;
  queued: Record<string, 1>;
  queuedCount: number;
  /** Running job id → GPU indices. */
  running: Record<string, number[]>;
  runningCount: number;
  /** Running jobs a CancelJob was already sent for. */
  canceling: Record<string, 1>;
  /** GPU index → job id, "" when free. */
  gpuOwner: string[];
  /** Recently finished ids, two generations. */
  done: Record<string, 1>;
  donePrev: Record<string, 1>;
  doneCount: number;
  /** Whether we last told the instance it has running jobs (JobRunning). */
  busy: boolean;
  /** Spill rows by sequence number: [from, next) waiting; [trimmed, from) read back, not yet deleted. */
  spill: { trimmed: number; from: number; next: number };
}

export type DispatcherEvent =
  /** `admit`: into the window even when full (read back from the spill, or adopted running). */
  | { type: "JobSubmitted"; jobId: string; gpus: number; admit?: boolean }
  /** The rows before `from` were read back (their jobs stepped with `admit` just before). */
  | { type: "Refilled"; from: number }
  /** Rows before `until` were deleted. */
  | { type: "Trimmed"; until: number }
  /** Cancel every queued job, spilled ones included (the instance is being deleted). */
  | { type: "CancelQueued" }
  | { type: "JobFinished"; jobId: string }
  | { type: "CancelRequested"; jobId: string }
  | { type: "InstanceState"; running: boolean }
  | { type: "Configure"; config: Partial<DispatcherConfig> };

export type DispatcherCommand =
  | { type: "StartJob"; jobId: string; gpuIndices: number[] }
  /** Cancel a running job (its orchestration ends it and reports JobFinished). */
  | { type: "CancelJob"; jobId: string; reason: string }
  /** Record a job that never started as Canceled (apply only if the record is still Queued). */
  | { type: "MarkCanceled"; jobId: string }
  /** Record a job that can never start as Failed. */
  | { type: "FailJob"; jobId: string; reason: string }
  /** Running ⇄ JobRunning. */
  | { type: "SetBusy"; busy: boolean }
  /** Keep a queued job outside the window: a row `seq` in the spill store. */
  | { type: "Spill"; jobId: string; gpus: number; seq: number }
  /** Record the jobs of spill rows [from, until) Canceled (if still Queued) and drop the rows. */
  | { type: "CancelSpilled"; from: number; until: number };

export function initialState(cfg: DispatcherConfig, up = false): DispatcherState {
  return {
    v: 1,
    cfg: { ...cfg },
    up,
    q: [],
    head: 0,
    queued: {},
    queuedCount: 0,
    running: {},
    runningCount: 0,
    canceling: {},
    gpuOwner: Array.from({ length: cfg.gpus }, () => ""),
    done: {},
    donePrev: {},
    doneCount: 0,
    busy: false,
    spill: { trimmed: 0, from: 0, next: 0 },
  };
}

export function capOf(cfg: DispatcherConfig): number {
  return Math.max(0, cfg.jobsPerCore * cfg.vCpus);
}

/** Spilled rows count as queued until read back (one canceled meanwhile counts until then). */
export function counts(state: DispatcherState): { queued: number; running: number; cap: number } {
  return { queued: state.queuedCount + spilledCount(state), running: state.runningCount, cap: capOf(state.cfg) };
}

export function windowSize(cfg: DispatcherConfig): number {
  return Math.max(cfg.window ?? WINDOW, capOf(cfg));
}

export function spilledCount(state: DispatcherState): number {
  return state.spill.next - state.spill.from;
}

/** Read-back rows to delete now, if any. */
export function trimRequest(state: DispatcherState): { from: number; until: number } | undefined {
  return state.spill.from > state.spill.trimmed ? { from: state.spill.trimmed, until: state.spill.from } : undefined;
}

/**
 * Spill rows to read back now, if any: once the window is half empty (so reads come in
 * batches), the oldest rows up to the room left.
 */
export function refillRequest(state: DispatcherState): { from: number; until: number; max: number } | undefined {
  const size = windowSize(state.cfg);
  if (spilledCount(state) === 0 || state.queuedCount > size / 2) return undefined;
  return { from: state.spill.from, until: state.spill.next, max: size - state.queuedCount };
}

export function step(state: DispatcherState, event: DispatcherEvent): { state: DispatcherState; commands: DispatcherCommand[] } {
  const commands: DispatcherCommand[] = [];
  switch (event.type) {
    case "JobSubmitted":
      onSubmitted(state, event.jobId, event.gpus, event.admit === true, commands);
      break;
    case "Refilled":
      state.spill.from = Math.min(state.spill.next, Math.max(state.spill.from, event.from));
      break;
    case "Trimmed":
      state.spill.trimmed = Math.min(state.spill.from, Math.max(state.spill.trimmed, event.until));
      break;
    case "CancelQueued":
      for (const id of Object.keys(state.queued)) onCancel(state, id, commands);
      if (state.spill.next > state.spill.trimmed) {
        // Rows already read back name jobs that are in the window (canceled just above) or gone.
        commands.push({ type: "CancelSpilled", from: state.spill.trimmed, until: state.spill.next });
        state.spill.trimmed = state.spill.from = state.spill.next;
      }
      break;
    case "JobFinished":
      onFinished(state, event.jobId);
      break;
    case "CancelRequested":
      onCancel(state, event.jobId, commands);
      break;
    case "InstanceState":
      state.up = event.running;
      if (!event.running) {
        for (const id of Object.keys(state.running)) cancelRunning(state, id, "instance stopped", commands);
      }
      break;
    case "Configure":
      configure(state, event.config, commands);
      break;
  }
  fill(state, commands);
  compact(state);
  const busy = state.runningCount > 0;
  if (busy !== state.busy) {
    state.busy = busy;
    commands.push({ type: "SetBusy", busy });
  }
  return { state, commands };
}

function known(state: DispatcherState, id: string): boolean {
  return id in state.queued || id in state.running || isDone(state, id);
}

function isDone(state: DispatcherState, id: string): boolean {
  return id in state.done || id in state.donePrev;
}

function markDone(state: DispatcherState, id: string): void {
  if (isDone(state, id)) return;
  if (state.doneCount >= DONE_GENERATION) {
    state.donePrev = state.done;
    state.done = {};
    state.doneCount = 0;
  }
  state.done[id] = 1;
  state.doneCount++;
}

function onSubmitted(state: DispatcherState, id: string, gpus: number, admit: boolean, commands: DispatcherCommand[]): void {
  if (known(state, id)) return;
  const g = Number.isInteger(gpus) ? Math.max(0, gpus) : 0;
  if (g > state.cfg.gpus) {
    markDone(state, id);
    commands.push({
      type: "FailJob",
      jobId: id,
      reason: `the job asks for ${g} GPUs but the instance has ${state.cfg.gpus}`,
    });
    return;
  }
  if (!admit && (spilledCount(state) > 0 || state.queuedCount >= windowSize(state.cfg))) {
    // Behind the window: its row is read back in order (a duplicate row is skipped then).
    commands.push({ type: "Spill", jobId: id, gpus: g, seq: state.spill.next++ });
    return;
  }
  state.q.push({ id, g, b: 0 });
  state.queued[id] = 1;
  state.queuedCount++;
}

function onFinished(state: DispatcherState, id: string): void {
  const gpus = state.running[id];
  if (gpus !== undefined) {
    for (const i of gpus) if (state.gpuOwner[i] === id) state.gpuOwner[i] = "";
    delete state.running[id];
    delete state.canceling[id];
    state.runningCount--;
  } else if (id in state.queued) {
    // Finished without starting (e.g. failed while queued): its queue entry becomes a tombstone.
    delete state.queued[id];
    state.queuedCount--;
  }
  markDone(state, id);
}

function onCancel(state: DispatcherState, id: string, commands: DispatcherCommand[]): void {
  if (id in state.running) {
    cancelRunning(state, id, "canceled by request", commands);
    return;
  }
  if (id in state.queued) {
    delete state.queued[id];
    state.queuedCount--;
    markDone(state, id);
    commands.push({ type: "MarkCanceled", jobId: id });
    return;
  }
  if (isDone(state, id)) return;
  // Cancel overtook the submission: remember it so the submission is ignored.
  markDone(state, id);
  commands.push({ type: "MarkCanceled", jobId: id });
}

function cancelRunning(state: DispatcherState, id: string, reason: string, commands: DispatcherCommand[]): void {
  if (id in state.canceling) return;
  state.canceling[id] = 1;
  commands.push({ type: "CancelJob", jobId: id, reason });
}

function configure(state: DispatcherState, patch: Partial<DispatcherConfig>, commands: DispatcherCommand[]): void {
  const cfg = { ...state.cfg, ...patch };
  // Owners of indices that still exist are kept; indices beyond the new count vanish.
  state.gpuOwner = Array.from({ length: cfg.gpus }, (_, i) => state.gpuOwner[i] ?? "");
  state.cfg = cfg;
  // Queued jobs that can no longer ever fit fail now rather than wait forever. Only fewer GPUs
  // can do that (submission fails the rest), but configuring is rare and the window small.
  for (let i = state.head; i < state.q.length; i++) {
    const e = state.q[i] as QueueEntry;
    if (e.id in state.queued && e.g > cfg.gpus) {
      delete state.queued[e.id];
      state.queuedCount--;
      markDone(state, e.id);
      commands.push({ type: "FailJob", jobId: e.id, reason: `the job asks for ${e.g} GPUs but the instance has ${cfg.gpus}` });
    }
  }
}

function freeGpus(state: DispatcherState, k: number): number[] | undefined {
  const out: number[] = [];
  for (const [i, owner] of state.gpuOwner.entries()) {
    if (out.length === k) break;
    if (owner === "") out.push(i);
  }
  return out.length === k ? out : undefined;
}

function fill(state: DispatcherState, commands: DispatcherCommand[]): void {
  if (!state.up) return;
  // Re-scan only when the head moved past consumed entries: amortised over those entries.
  for (;;) {
    advanceHead(state);
    const headBefore = state.head;
    scan(state, commands);
    advanceHead(state);
    // Another pass only when this one consumed the head (a full queue or an empty one consumes nothing more).
    if (state.head === headBefore) return;
  }
}

function scan(state: DispatcherState, commands: DispatcherCommand[]): void {
  const cap = capOf(state.cfg);
  const waiting: QueueEntry[] = []; // blocked entries seen in this scan, in order
  let scanned = 0;
  let visited = 0; // tombstones (canceled entries) count here, so they cannot make a scan long
  for (let i = state.head; i < state.q.length && state.runningCount < cap && scanned < LOOKAHEAD && visited < 4 * LOOKAHEAD; i++) {
    visited++;
    const e = state.q[i] as QueueEntry;
    if (!(e.id in state.queued)) continue;
    scanned++;
    const gpus = freeGpus(state, e.g);
    if (gpus === undefined) {
      waiting.push(e);
      if (e.b >= MAX_BYPASS) break; // aged: nothing behind it may start
      continue;
    }
    for (const w of waiting) w.b++;
    for (const gi of gpus) state.gpuOwner[gi] = e.id;
    delete state.queued[e.id];
    state.queuedCount--;
    state.running[e.id] = gpus;
    state.runningCount++;
    commands.push({ type: "StartJob", jobId: e.id, gpuIndices: gpus });
  }
}

function advanceHead(state: DispatcherState): void {
  while (state.head < state.q.length && !((state.q[state.head] as QueueEntry).id in state.queued)) state.head++;
}

function compact(state: DispatcherState): void {
  // Drop consumed entries once they are at least half the array: amortised O(1) per entry.
  // Stryker disable next-line LogicalOperator,EqualityOperator: these change only when consumed entries are dropped, never a command (the 10,000-job test bounds the length)
  if (state.head > 32 && state.head * 2 >= state.q.length) {
    state.q = state.q.slice(state.head);
    state.head = 0;
  }
}
