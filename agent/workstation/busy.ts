// Busy signals: each source answers the reasons it sees right now ("GPU 87 % used",
// "kernel busy in train.ipynb"); none = not busy. A source that fails says nothing (it must not
// keep a machine up forever) and logs once per distinct error.
import { execFile } from "node:child_process";
import fs from "node:fs";

export type BusySource = { name: string; check(): Promise<string[]> };

/** Runs a program; resolves with its exit code and stdout (never rejects). */
export function run(program: string, args: string[], timeoutMs: number, env?: NodeJS.ProcessEnv): Promise<{ code: number | null; stdout: string; error?: NodeJS.ErrnoException }> {
  return new Promise((resolve) => {
    execFile(program, args, { timeout: timeoutMs, maxBuffer: 64 * 1024, ...(env ? { env } : {}) }, (err, stdout) => {
      const e = err as (NodeJS.ErrnoException & { code?: number | string }) | null;
      if (e && typeof e.code === "string") resolve({ code: null, stdout: String(stdout), error: e });
      else resolve({ code: e ? (typeof e.code === "number" ? e.code : null) : 0, stdout: String(stdout) });
    });
  });
}

/** `nvidia-smi --query-gpu=index,utilization.gpu --format=csv,noheader,nounits` lines → reasons. */
export function gpuReasons(csv: string, thresholdPercent: number): string[] {
  const out: string[] = [];
  for (const line of csv.split(/\r?\n/)) {
    const [index, util] = line.split(",").map((s) => s.trim());
    const n = Number(util);
    if (index === undefined || index === "" || !Number.isFinite(n)) continue;
    if (n >= thresholdPercent) out.push(`GPU ${index}: ${n} % used`);
  }
  return out;
}

/** GPU utilisation through nvidia-smi, where the image has it (skipped for good when it has not). */
export function gpuSource(thresholdPercent: number, program = "nvidia-smi"): BusySource {
  let absent = false;
  return {
    name: "gpu",
    async check() {
      if (absent) return [];
      const r = await run(program, ["--query-gpu=index,utilization.gpu", "--format=csv,noheader,nounits"], 10_000);
      if (r.error?.code === "ENOENT") absent = true;
      return r.code === 0 ? gpuReasons(r.stdout, thresholdPercent) : [];
    },
  };
}

/**
 * The user's own probe (installed e.g. by a setup script): exit 0 means busy, its first line of
 * output says why; exit 1 means not busy; anything else (or a timeout) counts as not busy.
 */
export function probeSource(probePath: string, env: NodeJS.ProcessEnv): BusySource {
  return {
    name: "probe",
    async check() {
      try {
        fs.accessSync(probePath, fs.constants.X_OK);
      } catch {
        return [];
      }
      const r = await run(probePath, [], 10_000, env);
      if (r.code !== 0) return [];
      const first = r.stdout.split(/\r?\n/).find((l) => l.trim() !== "")?.trim().slice(0, 150);
      return [`probe: ${first || "busy"}`];
    },
  };
}

/** Every source's reasons, in source order; a failing source contributes none. */
export async function collectBusy(sources: readonly BusySource[], log: (line: string) => void): Promise<string[]> {
  const results = await Promise.all(
    sources.map((s) =>
      s.check().catch((err: Error) => {
        log(`busy source ${s.name}: ${err.message.split("\n")[0]}`);
        return [] as string[];
      }),
    ),
  );
  return results.flat().slice(0, 20);
}
