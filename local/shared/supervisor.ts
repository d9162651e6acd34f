// Keeps a few child processes running, in order: each is started once the previous one is
// ready; one that dies is restarted after a short delay unless it crash-loops; pid files
// are kept under a folder; stopAll() stops them in reverse order.
import type { ChildProcess } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { stopChild } from "./azurite";

export type ServiceSpec = {
  name: string;
  spawn(): ChildProcess;
  /** Resolves when the child is ready; should reject if it exits first. */
  ready(child: ChildProcess): Promise<void>;
};

export type SupervisorOptions = {
  pidDir: string;
  restartDelayMs?: number;
  /** More than this many restarts of one service within `crashWindowMs` is a crash loop. */
  maxRestarts?: number;
  crashWindowMs?: number;
  log(message: string): void;
  /** Called when a service crash-loops or cannot be restarted; the caller stops everything. */
  onFatal(message: string): void;
};

type Running = { spec: ServiceSpec; child: ChildProcess | undefined; restarts: number[] };

export class Supervisor {
  readonly #opts: Required<Omit<SupervisorOptions, "log" | "onFatal">> & Pick<SupervisorOptions, "log" | "onFatal">;
  readonly #services: Running[] = [];
  #stopping = false;

  constructor(opts: SupervisorOptions) {
    this.#opts = { restartDelayMs: 1000, maxRestarts: 5, crashWindowMs: 60_000, ...opts };
    // Children live in their own process groups; never leave them behind if we exit abruptly.
    process.once("exit", () => {
      for (const r of this.#services) if (r.child && r.child.exitCode === null) r.child.kill("SIGKILL");
    });
  }

  get stopping(): boolean {
    return this.#stopping;
  }

  /** Starts the service and waits until it is ready; rejects (without restarting) if it fails to start. */
  async add(spec: ServiceSpec): Promise<void> {
    const r: Running = { spec, child: undefined, restarts: [] };
    this.#services.push(r);
    await this.#launch(r);
  }

  pidFile(name: string): string {
    return path.join(this.#opts.pidDir, `${name}.pid`);
  }

  async #launch(r: Running): Promise<void> {
    const child = r.spec.spawn();
    r.child = child;
    if (child.pid !== undefined) {
      fs.mkdirSync(this.#opts.pidDir, { recursive: true });
      fs.writeFileSync(this.pidFile(r.spec.name), `${child.pid}\n`);
    }
    let ready = false;
    child.once("exit", (code, signal) => {
      if (r.child === child) {
        r.child = undefined;
        fs.rmSync(this.pidFile(r.spec.name), { force: true });
      }
      // Before readiness, the failure is reported by ready() to whoever launched it.
      if (this.#stopping || !ready) return;
      this.#restart(r, `${r.spec.name} exited (${signal ?? `code ${code}`})`);
    });
    await r.spec.ready(child);
    ready = true;
  }

  #restart(r: Running, why: string): void {
    const now = Date.now();
    r.restarts = r.restarts.filter((t) => now - t < this.#opts.crashWindowMs);
    if (r.restarts.length >= this.#opts.maxRestarts) {
      this.#opts.onFatal(`${why}; it was restarted ${r.restarts.length} times within ${this.#opts.crashWindowMs / 1000} s, giving up`);
      return;
    }
    r.restarts.push(now);
    this.#opts.log(`${why}; restarting`);
    setTimeout(() => {
      if (this.#stopping) return;
      this.#launch(r).then(
        () => this.#opts.log(`${r.spec.name} is back`),
        (err: unknown) => {
          if (!this.#stopping) this.#restart(r, `${r.spec.name} failed to restart: ${(err as Error).message}`);
        },
      );
    }, this.#opts.restartDelayMs);
  }

  async stopAll(): Promise<void> {
    this.#stopping = true;
    for (const r of [...this.#services].reverse()) {
      const child = r.child;
      if (child) await stopChild(child);
      fs.rmSync(this.pidFile(r.spec.name), { force: true });
    }
  }
}
