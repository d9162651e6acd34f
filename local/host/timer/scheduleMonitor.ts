// Persists each timer's schedule status where the real host keeps it: blob
// `azure-webjobs-hosts/timers/<hostId>/<timerName>/status`, JSON {Last, Next, LastUpdated}.
// That is what lets a restart notice a missed occurrence (isPastDue).
import type { ContainerClient } from "@azure/storage-blob";

export type ScheduleStatus = { Last: string; Next: string; LastUpdated: string };

export const HOSTS_CONTAINER = "azure-webjobs-hosts";

export class BlobScheduleMonitor {
  #container: ContainerClient;
  #hostId: string;
  #ready: Promise<unknown> | undefined;

  constructor(container: ContainerClient, hostId: string) {
    this.#container = container;
    this.#hostId = hostId;
  }

  #blob(timerName: string) {
    return this.#container.getBlockBlobClient(`timers/${this.#hostId}/${timerName}/status`);
  }

  async get(timerName: string): Promise<ScheduleStatus | undefined> {
    await this.#ensure();
    try {
      const buf = await this.#blob(timerName).downloadToBuffer();
      const parsed = JSON.parse(buf.toString("utf8")) as Partial<ScheduleStatus>;
      if (typeof parsed.Next !== "string" || typeof parsed.LastUpdated !== "string") return undefined;
      return { Last: parsed.Last ?? DEFAULT_TIME, Next: parsed.Next, LastUpdated: parsed.LastUpdated };
    } catch (err) {
      if ((err as { statusCode?: number }).statusCode === 404) return undefined;
      throw err;
    }
  }

  async update(timerName: string, status: ScheduleStatus): Promise<void> {
    await this.#ensure();
    const text = JSON.stringify(status);
    await this.#blob(timerName).upload(text, Buffer.byteLength(text), {
      blobHTTPHeaders: { blobContentType: "application/json" },
    });
  }

  #ensure(): Promise<unknown> {
    this.#ready ??= this.#container.createIfNotExists().catch((err: unknown) => {
      this.#ready = undefined;
      throw err;
    });
    return this.#ready;
  }
}

/** .NET's default(DateTime), which the real host reports as Last before the first run. */
export const DEFAULT_TIME = "0001-01-01T00:00:00.000Z";
