// Waiting with live progress: an operation's steps as they complete (a spinner line on a
// terminal, plain lines when piped), and a job's output while it runs. Progress goes to stderr,
// results to stdout, so `cix ... -o json | jq` sees only the result. Ctrl-C stops the waiting,
// never the operation, and says how to pick it up again.
import { TERMINAL_JOB_STATES, TERMINAL_OPERATION_STATUSES, unwrap, type ApiClient, type Job, type Operation } from "../client/api";
import { CliExit } from "./context";
import { duration } from "./output";

const SPINNER = ["⠋", "⠙", "⠹", "⠸", "⠼", "⠴", "⠦", "⠧", "⠇", "⠏"];
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Runs `body` until it returns; Ctrl-C ends the process with 130 after printing `hint`. */
async function interruptible<T>(hint: string, body: () => Promise<T>): Promise<T> {
  const onInt = () => {
    process.stderr.write(`\n${hint}\n`);
    process.exit(130);
  };
  process.once("SIGINT", onInt);
  try {
    return await body();
  } finally {
    process.off("SIGINT", onInt);
  }
}

type Step = NonNullable<Operation["steps"]>[number];

/** Polls the operation until it ends, showing its steps; throws CliExit(1) when it did not succeed. */
export async function waitForOperation(api: ApiClient, id: string, opts: { label: string; pollMs?: number; stream?: NodeJS.WriteStream }): Promise<Operation> {
  const stream = opts.stream ?? process.stderr;
  const tty = stream.isTTY === true;
  const seen = new Map<string, string>();
  let frame = 0;
  let live = false;
  const clearLive = () => {
    if (live) stream.write("\r\x1b[2K");
    live = false;
  };
  const report = (s: Step) => {
    const before = seen.get(s.name);
    if (before === s.status) return;
    seen.set(s.name, s.status);
    const took = duration(s.startedAt, s.endedAt);
    if (tty) {
      if (s.status === "Running" || s.status === "NotStarted") return; // shown on the live line
      clearLive();
      const mark = s.status === "Succeeded" ? "✓" : s.status === "Failed" ? "✗" : "-";
      stream.write(`  ${mark} ${s.name}${took ? `  ${took}` : ""}\n`);
    } else {
      stream.write(`${opts.label}: ${s.name} ${s.status}${took && s.status !== "Running" ? ` (${took})` : ""}\n`);
    }
  };
  const hint = `Stopped waiting; ${opts.label} goes on. Follow it with: cix operation show ${id} --wait`;
  const op = await interruptible(hint, async () => {
    for (;;) {
      const cur = unwrap(await api.GET("/api/operations/{id}", { params: { path: { id } } }));
      for (const s of cur.steps ?? []) report(s);
      if (TERMINAL_OPERATION_STATUSES.includes(cur.status)) return cur;
      if (tty) {
        const running = (cur.steps ?? []).filter((s) => s.status === "Running").map((s) => s.name);
        clearLive();
        stream.write(`${SPINNER[frame++ % SPINNER.length]} ${opts.label}${running.length ? ` · ${running.join(", ")}` : ""}  ${duration(cur.startedAt)}`);
        live = true;
      }
      await sleep(opts.pollMs ?? 1000);
    }
  });
  clearLive();
  const took = duration(op.startedAt, op.endedAt);
  if (op.status === "Succeeded") {
    stream.write(`${tty ? "✓ " : ""}${opts.label} succeeded${took ? ` in ${took}` : ""}\n`);
    return op;
  }
  const e = op.error;
  throw new CliExit(1, `error: ${opts.label} ${op.status.toLowerCase()}${e ? `: ${e.code}: ${e.message}` : ""}`);
}

/** The exit code a finished job stands for in a shell: its own, or 124/143/1 like timeout(1), SIGTERM, failure. */
export function jobExitCode(job: Job): number {
  if (job.state === "Completed") return job.exitCode ?? 0;
  if (job.state === "TimedOut") return 124;
  if (job.state === "Canceled") return 143;
  return job.exitCode !== undefined && job.exitCode !== 0 ? job.exitCode : 1;
}

async function readFrom(api: ApiClient, id: string, stream: "stdout" | "stderr", offset: number): Promise<Uint8Array> {
  const r = await api.GET("/api/jobs/{id}/logs", { params: { path: { id }, query: { stream, offset } }, parseAs: "arrayBuffer" });
  return new Uint8Array(unwrap(r) as ArrayBuffer);
}

/**
 * Copies the job's stdout and stderr to ours while it runs and returns the finished job.
 * Polls each stream from the byte it reached; the last read happens after the job ended, so
 * nothing written at the very end is missed.
 */
export async function followJob(api: ApiClient, id: string, opts: { pollMs?: number; quiet?: boolean } = {}): Promise<Job> {
  const offsets = { stdout: 0, stderr: 0 };
  const drain = async () => {
    for (const s of ["stdout", "stderr"] as const) {
      const bytes = await readFrom(api, id, s, offsets[s]);
      if (bytes.length) {
        offsets[s] += bytes.length;
        if (!opts.quiet) (s === "stdout" ? process.stdout : process.stderr).write(bytes);
      }
    }
  };
  const hint = `Stopped following; job ${id} goes on. Follow it again with: cix job logs ${id} --follow`;
  return interruptible(hint, async () => {
    for (;;) {
      const job = unwrap(await api.GET("/api/jobs/{id}", { params: { path: { id } } }));
      await drain();
      if (TERMINAL_JOB_STATES.includes(job.state)) return job;
      await sleep(opts.pollMs ?? 500);
    }
  });
}
