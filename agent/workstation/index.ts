// The workstation half of the agent: busy signals for idle shutdown, reported to the app.
// Started by main.ts next to the job agent; shares nothing with it but the app client.
import type { AppClient } from "../app";
import { gpuSource, probeSource, type BusySource } from "./busy";
import type { WorkstationConfig } from "./config";
import { SignalsReporter } from "./reporter";

export function startWorkstation(cfg: WorkstationConfig, instance: string, app: AppClient, log: (line: string) => void): { stop(): void } {
  const sources: BusySource[] = [gpuSource(cfg.gpuBusyPercent), probeSource(cfg.probePath, userEnv())];
  const reporter = new SignalsReporter(app, instance, sources, () => ({}), cfg.signalsMs, log);
  reporter.start();
  return { stop: () => reporter.stop() };
}

/** The environment the user's programs get (the agent's own settings stay out). */
export function userEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith("CI_AGENT_") && k !== "AZURE_POD_IDENTITY_AUTHORITY_HOST") env[k] = v;
  return env;
}
