// The agent's work: take messages from this instance's queue, run jobs, watch them, report.
//
// Exactly once or Failed, never twice:
// - a job id is journaled ("claiming") before the app is told it started, and a journaled id is
//   never started again, so a message delivered twice, or again after a crash, runs once;
// - the queue message is deleted only after the job is journaled as running (or refused);
// - an agent that restarts finds "claiming" entries (it died between the journal and the spawn):
//   those jobs may not have run, so they are reported Failed rather than started late;
// - "started" carries a claim id journaled with the job, so when the app's answer is lost (the
//   host died after recording it) asking again gets the same answer instead of a refusal;
// - running jobs are adopted (they are their own process groups and survive the agent), and
//   their real exit code is read from the file their runner wrote;
// - an outcome is journaled before it is reported, and reported until the app has it.
import { randomUUID } from "node:crypto";
import fs from "node:fs";
import type { TokenCredential } from "@azure/core-auth";
import type { QueueClient } from "@azure/storage-queue";
import { AppClient, type StartedAnswer } from "./app";
import type { AgentConfig } from "./config";
import { Journal, type Entry, type Outcome } from "./journal";
import { LogShipper } from "./logs";
import { allowRun, answerLogin, containerName, imageReady, loginWanted, pullFailure, removeContainer, startContainerJob, type ContainerSpec } from "./container";
import { exitCodeOf, groupAlive, killGroup, startJob } from "./process";
import { loginDir, loginWithVmIdentity, RegistryLoginError, registryOf } from "./registryLogin";

export type QueueMessage = { type: "run"; jobId: string; traceParent?: string } | { type: "cancel"; jobId: string; reason: string };

const WATCH_MS = 200;
/** While a message is handled nobody else may see it (an agent crash makes it visible again). */
const VISIBILITY_SECONDS = 60;
const JOURNAL_KEEP_MS = 7 * 24 * 3600_000;

type Running = Extract<Entry, { phase: "running" }>;

export class Agent {
  private journal: Journal;
  private shippers = new Map<string, LogShipper>();
  private stopped = false;
  private lastHeartbeat = 0;
  /** Jobs whose registry login is under way. */
  private logins = new Set<string>();

  constructor(
    private readonly cfg: AgentConfig,
    private readonly queue: QueueClient,
    private readonly app: AppClient,
    private readonly log: (line: string) => void,
    /** The VM's managed identity: the workspace registry's pulls log in with it. */
    private readonly credential?: TokenCredential,
  ) {
    this.journal = new Journal(cfg.stateDir);
  }

  stop(): void {
    this.stopped = true;
  }

  async run(): Promise<void> {
    this.journal.prune(JOURNAL_KEEP_MS);
    await this.recover();
    void this.watchLoop();
    let idle = 50;
    while (!this.stopped) {
      let got = 0;
      try {
        got = await this.pollOnce();
      } catch (err) {
        this.log(`queue: ${(err as Error).message.split("\n")[0]}`);
      }
      idle = got > 0 ? 50 : Math.min(this.cfg.idlePollMs, idle * 2);
      if (got === 0) await sleep(idle);
    }
  }

  /** After a restart: settle what the previous agent left. */
  private async recover(): Promise<void> {
    for (const e of this.journal.all()) {
      if (e.phase === "claiming") {
        this.end(e.id, { state: "Failed", message: "the agent restarted before the job started; it did not run" });
      } else if (e.phase === "running") {
        this.log(`job ${e.id}: adopted (pid ${e.pid})`);
      }
    }
  }

  private async pollOnce(): Promise<number> {
    const res = await this.queue.receiveMessages({ numberOfMessages: 32, visibilityTimeout: VISIBILITY_SECONDS });
    await Promise.all(
      res.receivedMessageItems.map(async (m) => {
        try {
          await this.handle(parseMessage(m.messageText));
        } catch (err) {
          this.log(`message ${m.messageId}: ${(err as Error).message.split("\n")[0]}`);
          return; // stays on the queue; seen again after the visibility timeout
        }
        await this.queue.deleteMessage(m.messageId, m.popReceipt).catch(() => undefined);
      }),
    );
    return res.receivedMessageItems.length;
  }

  private async handle(msg: QueueMessage | undefined): Promise<void> {
    if (!msg) return; // unreadable: nothing to do with it
    if (msg.type === "cancel") return this.cancel(msg.jobId, msg.reason);
    if (this.journal.get(msg.jobId)) return; // seen before: runs once
    const claim = randomUUID();
    this.journal.put({ id: msg.jobId, phase: "claiming", at: new Date().toISOString(), claim });
    // The job's trace continues in the app through the reports (kept in memory: a restarted
    // agent reports an adopted job without it).
    if (msg.traceParent) this.app.traces.set(msg.jobId, msg.traceParent);
    const answer = await this.app.report(msg.jobId, { kind: "started", claim });
    if (!answer.ok) {
      // Refused: the job ended, was canceled, or is not ours. A canceled one is reported so its
      // orchestration (waiting for the agent) ends at once.
      const outcome: Outcome | undefined =
        answer.code === "JobCanceled" ? { state: "Canceled", message: "the job was canceled before it started" } : undefined;
      this.end(msg.jobId, outcome);
      this.log(`job ${msg.jobId}: not started (${answer.code})`);
      return;
    }
    const spec = answer.body as StartedAnswer;
    const dir = this.journal.jobDir(msg.jobId);
    let pid: number;
    let container: Running["container"];
    try {
      const userDir = `${this.cfg.share}/Users/${this.cfg.user}`;
      if (spec.environment) {
        container = { name: containerName(msg.jobId), runtime: this.cfg.containerRuntime, pulling: true };
        const cspec = this.containerSpec(spec, spec.environment, container.name, userDir);
        // The workspace registry's images are pulled with a login the runner asks for (watchRunning).
        const login = this.cfg.registry && registryOf(cspec.image) === this.cfg.registry ? loginDir(this.cfg.runDir, msg.jobId) : "";
        pid = startContainerJob(dir, cspec, jobBaseEnv(), login);
      } else {
        // The job runs in the user's folder on the share, with the platform's variables and then the user's.
        const env = { CI_NAME: this.cfg.instance, CI_USER: this.cfg.user, CI_SHARE: this.cfg.share, ...spec.env };
        pid = startJob(dir, userDir, { command: spec.command, env }, jobBaseEnv());
      }
    } catch (err) {
      this.end(msg.jobId, { state: "Failed", message: `the job could not be started: ${(err as Error).message}` });
      return;
    }
    const entry: Running = {
      id: msg.jobId,
      phase: "running",
      at: new Date().toISOString(),
      pid,
      deadline: Date.now() + spec.timeoutMinutes * 60_000,
      logs: spec.logs,
      ...(container ? { container } : {}),
    };
    this.journal.put(entry);
    this.log(`job ${msg.jobId}: started (pid ${pid})${container ? ` in ${spec.environment!.image}` : ""}`);
  }

  /**
   * The container's side of a job: the same variables as a plain job, with CI_SHARE the share's
   * path on the VM, and CUDA_VISIBLE_DEVICES counted inside the container, where the GPUs passed
   * with --gpus are the only ones and are numbered from 0 (as CUDA numbers visible devices).
   */
  private containerSpec(spec: StartedAnswer, environment: NonNullable<StartedAnswer["environment"]>, name: string, userDir: string): ContainerSpec {
    if (!fs.existsSync(this.cfg.containerRuntime)) throw new Error(`the container runtime ${this.cfg.containerRuntime} is not on this VM`);
    const gpuIndices = (spec.env.CUDA_VISIBLE_DEVICES ?? "").split(",").filter((s) => s !== "").map(Number);
    const env: Record<string, string> = { CI_NAME: this.cfg.instance, CI_USER: this.cfg.user, CI_SHARE: this.cfg.shareOnVm, ...spec.env };
    env.CUDA_VISIBLE_DEVICES = gpuIndices.map((_, i) => i).join(",");
    return {
      runtime: this.cfg.containerRuntime,
      image: environment.image,
      name,
      hostDir: userDir,
      workingDirectory: environment.workingDirectory ?? `${this.cfg.shareOnVm}/Users/${this.cfg.user}`,
      command: spec.command,
      gpuIndices,
      env,
    };
  }

  /**
   * The runner must pull an image of the workspace registry: log in with the VM's identity into
   * the job's login folder, then tell the runner (a refusal becomes the pull's failure, with the
   * registry's message). In the background, so other jobs' ticks go on; a restarted agent
   * answers a runner still waiting.
   */
  private startLogin(e: Running, dir: string): void {
    if (this.logins.has(e.id)) return;
    this.logins.add(e.id);
    const registry = this.cfg.registry ?? "";
    const login = this.credential
      ? loginWithVmIdentity(this.credential, e.container!.runtime, registry, loginDir(this.cfg.runDir, e.id))
      : Promise.reject(new RegistryLoginError("the agent has no identity to log in with"));
    login
      .then(() => {
        // The job may have ended meanwhile (a cancel): then nobody pulls with the login.
        if (this.journal.get(e.id)?.phase === "running") answerLogin(dir);
        else fs.rmSync(loginDir(this.cfg.runDir, e.id), { recursive: true, force: true });
      })
      .catch((err: Error) => {
        answerLogin(dir, err instanceof RegistryLoginError ? err.message : `the registry login failed: ${err.message}`);
        this.log(`job ${e.id}: registry login failed`);
      })
      .finally(() => this.logins.delete(e.id));
  }

  private async cancel(jobId: string, reason: string): Promise<void> {
    const e = this.journal.get(jobId);
    if (!e) {
      // Before its run message: it never starts, and the app learns so now.
      this.end(jobId, { state: "Canceled", message: reason });
      return;
    }
    if (e.phase === "running" && !e.killing) this.kill(e, { state: "Canceled", message: reason });
  }

  private kill(e: Running, outcome: Outcome): void {
    this.journal.put({ ...e, killing: outcome });
    killGroup(e.pid);
    // The runtime's client passes the signal on; stopping by name also covers a client already gone.
    if (e.container && !e.container.pulling) void removeContainer(e.container.runtime, e.container.name);
    this.log(`job ${e.id}: killing (${outcome.state})`);
  }

  /** Journals the end; the watch loop reports it. */
  private end(id: string, outcome: Outcome | undefined, logs?: { stdout: string; stderr: string }): void {
    this.journal.put({ id, phase: "ended", at: new Date().toISOString(), ...(outcome ? { outcome } : {}), reported: outcome === undefined, ...(logs ? { logs } : {}) });
  }

  /** Timeouts, ends, log shipping, heartbeats and pending reports, on one tick. */
  private async watchLoop(): Promise<void> {
    while (!this.stopped) {
      try {
        await this.watchOnce();
      } catch (err) {
        this.log(`watch: ${(err as Error).message.split("\n")[0]}`);
      }
      await sleep(WATCH_MS);
    }
  }

  private async watchOnce(): Promise<void> {
    const entries = this.journal.all();
    const now = Date.now();
    const heartbeat = now - this.lastHeartbeat >= this.cfg.heartbeatMs;
    if (heartbeat) this.lastHeartbeat = now;
    await Promise.all(
      entries.map(async (e) => {
        if (e.phase === "running") return this.watchRunning(e, now, heartbeat);
        if (e.phase === "ended" && !e.reported && e.outcome) return this.sendExit(e.id, e.outcome, e.logs);
      }),
    );
  }

  private async watchRunning(e: Running, now: number, heartbeat: boolean): Promise<void> {
    const dir = this.journal.jobDir(e.id);
    let shipper = this.shippers.get(e.id);
    if (!shipper) this.shippers.set(e.id, (shipper = new LogShipper(dir, e.logs)));
    const code = exitCodeOf(dir);
    if (code !== undefined || !groupAlive(e.pid)) {
      const pullFailed = e.container?.pulling ? pullFailure(dir) : undefined;
      const outcome: Outcome =
        e.killing ??
        (pullFailed !== undefined
          ? { state: "Failed", message: `the image could not be pulled: ${pullFailed}`.slice(0, 1000) }
          : code === undefined
          ? { state: "Failed", message: "the job's processes ended without an exit code (was the VM restarted?)" }
          : code === 0
            ? { state: "Completed", exitCode: 0 }
            : { state: "Failed", exitCode: code, message: `the command exited with code ${code}` });
      if (code !== undefined && e.killing) outcome.exitCode = code;
      if (pullFailed !== undefined) delete outcome.exitCode;
      // The container is removed afterwards, however the job ended (and a login its pull left).
      if (e.container) {
        await removeContainer(e.container.runtime, e.container.name);
        fs.rmSync(loginDir(this.cfg.runDir, e.id), { recursive: true, force: true });
      }
      this.end(e.id, outcome, e.logs);
      await this.sendExit(e.id, outcome, e.logs);
      return;
    }
    if (e.container?.pulling && !e.killing && loginWanted(dir)) this.startLogin(e, dir);
    if (e.container?.pulling && !e.killing && imageReady(dir)) return this.runContainer(e, dir, shipper);
    if (!e.killing && now >= e.deadline) {
      this.kill(e, { state: "TimedOut", message: "the job ran past its timeout" });
      return;
    }
    await shipper.ship().catch((err: Error) => this.log(`job ${e.id}: logs: ${err.message.split("\n")[0]}`));
    // The first heartbeat comes at once: it tells the app the hand-over arrived (see "started").
    if ((heartbeat || !e.acked) && !e.killing) {
      const answer = await this.app.report(e.id, { kind: "heartbeat" }, AbortSignal.timeout(this.cfg.heartbeatMs));
      if (!e.acked) {
        const cur = this.journal.get(e.id);
        if (cur?.phase === "running" && !cur.acked) this.journal.put({ ...cur, acked: true });
      }
      const cancel = answer.ok ? (answer.body as { cancel?: string } | undefined)?.cancel : "the app no longer knows the job";
      const current = this.journal.get(e.id);
      if (cancel && current?.phase === "running" && !current.killing) this.kill(current, { state: "Canceled", message: cancel });
    }
  }

  /** The image is on the VM: the app moves the job to Running, then the container starts. */
  private async runContainer(e: Running, dir: string, shipper: LogShipper): Promise<void> {
    await shipper.ship().catch(() => undefined); // the pull's progress is in the logs first
    const answer = await this.app.report(e.id, { kind: "running" });
    const current = this.journal.get(e.id);
    if (current?.phase !== "running" || current.killing) return;
    if (!answer.ok) {
      this.kill(current, answer.code === "JobCanceled" ? { state: "Canceled", message: "the job was canceled before it started" } : { state: "Failed", message: `the app refused to run the job (${answer.code})` });
      return;
    }
    this.journal.put({ ...current, container: { ...current.container!, pulling: false } });
    allowRun(dir);
    this.log(`job ${e.id}: image ready, container ${current.container!.name} starting`);
  }

  /** Logs first (the job's output is complete when its end is visible), then the report. */
  private async sendExit(id: string, outcome: Outcome, logs?: { stdout: string; stderr: string }): Promise<void> {
    if (logs) {
      const shipper = this.shippers.get(id) ?? new LogShipper(this.journal.jobDir(id), logs);
      await shipper.flush().catch((err: Error) => this.log(`job ${id}: logs: ${err.message.split("\n")[0]}`));
      this.shippers.delete(id);
    }
    const answer = await this.app.report(id, { kind: "exited", outcome });
    this.journal.put({ id, phase: "ended", at: new Date().toISOString(), outcome, reported: true });
    this.log(`job ${id}: ${outcome.state}${outcome.exitCode !== undefined ? ` (exit ${outcome.exitCode})` : ""}${answer.ok ? "" : `; the app refused the report (${answer.code})`}`);
  }
}

export function parseMessage(text: string): QueueMessage | undefined {
  try {
    const m = JSON.parse(text) as Partial<QueueMessage>;
    if (typeof m.jobId !== "string") return undefined;
    if (m.type === "run") {
      const tp = (m as { traceParent?: unknown }).traceParent;
      return { type: "run", jobId: m.jobId, ...(typeof tp === "string" && /^00-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}$/.test(tp) ? { traceParent: tp } : {}) };
    }
    if (m.type === "cancel") return { type: "cancel", jobId: m.jobId, reason: typeof m.reason === "string" ? m.reason : "canceled by request" };
  } catch {
    // not JSON
  }
  return undefined;
}

/** What a job inherits from the VM (the agent's own settings stay out). */
function jobBaseEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (k.startsWith("CI_AGENT_") || k === "AZURE_POD_IDENTITY_AUTHORITY_HOST") continue;
    env[k] = v;
  }
  return env;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
