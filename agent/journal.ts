// The agent's journal on the OS disk: one folder per job id it has ever taken, holding a small
// entry (written atomically) and the job's output files. It is what makes a restarted agent
// neither lose nor re-run a job: a job id with an entry is never started again, a running one
// is adopted, an ended one whose report did not get through is reported again.
// User variables are never written here (they reach the job only through its environment).
import fs from "node:fs";
import path from "node:path";

export type Outcome = {
  state: "Completed" | "Failed" | "Canceled" | "TimedOut";
  exitCode?: number;
  message?: string;
};

export type Entry =
  /** Taken from the queue; the app's answer to "started" is not in yet. `claim` names this run to the app. */
  | { id: string; phase: "claiming"; at: string; claim?: string }
  | {
      id: string;
      phase: "running";
      at: string;
      pid: number;
      /** Epoch ms after which the agent kills the job as TimedOut. */
      deadline: number;
      /** Write-only SAS URLs of the job's two log blobs (bounded expiry). */
      logs: { stdout: string; stderr: string };
      /** A job in a container: its name, and whether the image is still being pulled (the app has it Starting). */
      container?: { name: string; runtime: string; pulling: boolean };
      /** Set when the agent decided to kill it: the outcome it reports once the group is gone. */
      killing?: Outcome;
      /** The app has heard from the agent since "started" (it then drops the job's variables). */
      acked?: boolean;
    }
  /** Ended (or never to run); `reported` once the app has the outcome. */
  | { id: string; phase: "ended"; at: string; outcome?: Outcome; reported: boolean; logs?: { stdout: string; stderr: string } };

export class Journal {
  readonly dir: string;

  constructor(stateDir: string) {
    this.dir = path.join(stateDir, "jobs");
    fs.mkdirSync(this.dir, { recursive: true, mode: 0o700 });
  }

  jobDir(id: string): string {
    if (!/^[A-Za-z0-9_-]{1,64}$/.test(id)) throw new Error(`not a job id: ${JSON.stringify(id).slice(0, 80)}`);
    return path.join(this.dir, id);
  }

  get(id: string): Entry | undefined {
    try {
      return JSON.parse(fs.readFileSync(path.join(this.jobDir(id), "entry.json"), "utf8")) as Entry;
    } catch {
      return undefined;
    }
  }

  /** Atomic (write + rename) and flushed, so a kill -9 leaves the old entry or the new one. */
  put(entry: Entry): void {
    const dir = this.jobDir(entry.id);
    fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
    const tmp = path.join(dir, "entry.json.tmp");
    const fd = fs.openSync(tmp, "w", 0o600);
    try {
      fs.writeSync(fd, JSON.stringify(entry));
      fs.fsyncSync(fd);
    } finally {
      fs.closeSync(fd);
    }
    fs.renameSync(tmp, path.join(dir, "entry.json"));
  }

  all(): Entry[] {
    const out: Entry[] = [];
    for (const name of fs.readdirSync(this.dir)) {
      const e = this.get(name);
      if (e) out.push(e);
    }
    return out;
  }

  /** Forgets reported jobs older than `maxAgeMs` (a queue message is long gone by then). */
  prune(maxAgeMs: number, now = Date.now()): void {
    for (const e of this.all()) {
      if (e.phase === "ended" && e.reported && now - Date.parse(e.at) > maxAgeMs) {
        fs.rmSync(this.jobDir(e.id), { recursive: true, force: true });
      }
    }
  }
}
