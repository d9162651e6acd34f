// Reports to the app over HTTPS, authenticated with the VM's managed identity (a token for the
// app's audience). The app accepts a report only from the VM of the instance that owns the job.
import type { TokenCredential } from "@azure/core-auth";
import type { Outcome } from "./journal";

/** What the app answers to "started": everything the job needs, handed over once. */
export type StartedAnswer = {
  command: string;
  env: Record<string, string>;
  timeoutMinutes: number;
  logs: { stdout: string; stderr: string };
  /** The job runs in this image (the app keeps it Starting until the agent reports "running"). */
  environment?: { image: string; workingDirectory?: string };
};

export type Report =
  | { kind: "started"; claim: string }
  | { kind: "running" }
  | { kind: "heartbeat" }
  | { kind: "exited"; outcome: Outcome };

export type ReportAnswer =
  | { ok: true; body: unknown }
  /** The app refused (4xx): retrying will not help. `code` is the app's error code. */
  | { ok: false; status: number; code: string };

export class AppClient {
  /** W3C traceparent per job, sent with its reports. */
  readonly traces = new Map<string, string>();

  constructor(
    private readonly baseUrl: string,
    private readonly audience: string,
    private readonly credential: TokenCredential,
  ) {}

  /** Retries network failures and 5xx/429 with backoff until `signal` aborts. */
  async report(jobId: string, report: Report, signal?: AbortSignal): Promise<ReportAnswer> {
    const trace = this.traces.get(jobId);
    const answer = await this.post(`/api/agent/jobs/${encodeURIComponent(jobId)}/reports`, report, signal, trace ? { traceparent: trace } : {});
    if (answer.ok && report.kind === "exited") this.traces.delete(jobId);
    return answer;
  }

  /** POSTs JSON to the app as this VM; retries network failures and 5xx/429/401 with backoff until `signal` aborts. */
  async post(route: string, payload: unknown, signal?: AbortSignal, extraHeaders: Record<string, string> = {}): Promise<ReportAnswer> {
    let delay = 200;
    for (;;) {
      try {
        const token = await this.credential.getToken(`${this.audience}/.default`);
        if (!token) throw new Error("no token for the app");
        const res = await fetch(`${this.baseUrl}${route}`, {
          method: "POST",
          headers: { authorization: `Bearer ${token.token}`, "content-type": "application/json", ...extraHeaders },
          body: JSON.stringify(payload),
          ...(signal ? { signal } : {}),
        });
        const text = await res.text();
        const body: unknown = text ? JSON.parse(text) : undefined;
        if (res.ok) return { ok: true, body };
        if (res.status < 500 && res.status !== 429 && res.status !== 401) {
          const code = (body as { error?: { code?: string } } | undefined)?.error?.code ?? `HTTP${res.status}`;
          return { ok: false, status: res.status, code };
        }
      } catch (err) {
        if (signal?.aborted) throw err;
      }
      await new Promise((r) => setTimeout(r, delay));
      delay = Math.min(10_000, delay * 2);
    }
  }
}
