// Reports the busy signals (and the proxy's applications) to the app on an interval:
// POST /api/agent/instances/{name}/signals as the VM's identity. The app answers the interval
// to use next. A failed report is simply retried at the next interval: signals hold for three.
import type { AppClient } from "../app";
import { collectBusy, type BusySource } from "./busy";

export type AppsReport = { proxy?: { url: string }; applications?: { name: string; state: "Available" | "NotInstalled"; message?: string }[] };

export class SignalsReporter {
  private stopped = false;
  private busyTick = false;
  private again = false;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly app: AppClient,
    private readonly instance: string,
    private readonly sources: readonly BusySource[],
    private readonly apps: () => AppsReport,
    private intervalMs: number,
    private readonly log: (line: string) => void,
  ) {}

  start(): void {
    void this.tick();
  }

  /** Report now (e.g. the proxy just started: the app learns its applications at boot, not a minute later). */
  nudge(): void {
    if (this.stopped) return;
    if (this.busyTick) {
      this.again = true;
      return;
    }
    if (this.timer) clearTimeout(this.timer);
    void this.tick();
  }

  stop(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
  }

  private async tick(): Promise<void> {
    if (this.stopped) return;
    this.busyTick = true;
    try {
      const busy = await collectBusy(this.sources, this.log);
      const answer = await this.app.post(`/api/agent/instances/${encodeURIComponent(this.instance)}/signals`, { busy, ...this.apps() }, AbortSignal.timeout(Math.max(5000, this.intervalMs)));
      if (answer.ok) {
        const next = (answer.body as { intervalSeconds?: unknown } | undefined)?.intervalSeconds;
        if (typeof next === "number" && next >= 1) this.intervalMs = next * 1000;
      } else this.log(`signals: the app refused the report (${answer.code})`);
    } catch (err) {
      this.log(`signals: ${(err as Error).message.split("\n")[0]}`);
    }
    this.busyTick = false;
    const delay = this.again ? 0 : this.intervalMs;
    this.again = false;
    if (!this.stopped) this.timer = setTimeout(() => void this.tick(), delay);
  }
}
