// Output of a supervised child: held back until the child is ready (so a failed start is
// reported as one line, not a screenful), then forwarded line by line with a prefix.
import type { ChildProcess } from "node:child_process";

export class ChildOutput {
  #held: string[] = [];
  #live = false;
  #lastError = "";
  #listeners = new Set<(line: string) => void>();

  constructor(
    child: ChildProcess,
    private readonly prefix: string,
  ) {
    for (const [stream, isErr] of [[child.stdout, false], [child.stderr, true]] as const) {
      if (!stream) continue;
      let partial = "";
      stream.setEncoding("utf8");
      stream.on("data", (chunk: string) => {
        const lines = (partial + chunk).split("\n");
        partial = lines.pop() ?? "";
        for (const line of lines) this.#line(line, isErr);
      });
      stream.on("end", () => partial && this.#line(partial, isErr));
    }
  }

  #line(line: string, isErr: boolean): void {
    if (isErr && line.trim() !== "") this.#lastError = line.trim();
    const text = `${this.prefix}${line}`;
    if (this.#live) (isErr ? process.stderr : process.stdout).write(text + "\n");
    else this.#held.push(text);
    for (const l of this.#listeners) l(line);
  }

  /** The last non-empty line the child wrote to stderr (its own one-line error, if any). */
  get lastError(): string {
    return this.#lastError;
  }

  goLive(): void {
    this.#live = true;
    for (const line of this.#held) process.stdout.write(line + "\n");
    this.#held = [];
  }

  /** Resolves when a line matches; rejects when the child exits first or after timeoutMs. */
  waitFor(child: ChildProcess, pattern: RegExp, what: string, timeoutMs = 60_000): Promise<void> {
    return new Promise((resolve, reject) => {
      const onLine = (line: string) => pattern.test(line) && finish();
      const onExit = (code: number | null, signal: string | null) =>
        setImmediate(() => finish(new Error(`${what} exited during start-up (${signal ?? `code ${code}`})${this.#lastError ? `: ${this.#lastError}` : ""}`)));
      const timer = setTimeout(() => finish(new Error(`${what} was not ready within ${timeoutMs / 1000} s`)), timeoutMs);
      const finish = (err?: Error) => {
        clearTimeout(timer);
        this.#listeners.delete(onLine);
        child.off("exit", onExit);
        if (err) reject(err);
        else resolve();
      };
      this.#listeners.add(onLine);
      child.once("exit", onExit);
    });
  }
}
