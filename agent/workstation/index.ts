// The workstation half of the agent: the applications behind the authenticating proxy, and the
// busy signals for idle shutdown, reported to the app. Started by main.ts next to the job
// agent; shares nothing with it but the app client.
import type { AppClient } from "../app";
import { privateAddress } from "./address";
import { gpuSource, probeSource, type BusySource } from "./busy";
import type { WorkstationConfig } from "./config";
import { Jupyter, JUPYTER, JUPYTERLAB } from "./jupyter";
import { AppProxy, type Redeem } from "./proxy";
import { SignalsReporter } from "./reporter";
import { Terminal } from "./terminal";
import { userProcessIdentity } from "./users";
import { VsCode } from "./vscode";

export function startWorkstation(cfg: WorkstationConfig, instance: string, app: AppClient, log: (line: string) => void): { stop(): void } {
  const env = userEnv();
  const runAs = userProcessIdentity(cfg.root, cfg.user);
  const proxy = new AppProxy(
    [new Terminal(cfg.home, env, runAs, log), new Jupyter(JUPYTER, cfg.home, env, runAs, log), new Jupyter(JUPYTERLAB, cfg.home, env, runAs, log), new VsCode(cfg.home, env, runAs, log)],
    redeemer(app, instance),
    cfg.inputRecentMs,
    log,
  );
  const sources: BusySource[] = [{ name: "applications", check: () => proxy.busy() }, gpuSource(cfg.gpuBusyPercent), probeSource(cfg.probePath, env)];
  const reporter = new SignalsReporter(
    app,
    instance,
    sources,
    () => (proxy.url ? { proxy: { url: proxy.url }, applications: proxy.applications() } : {}),
    cfg.signalsMs,
    log,
  );
  const stopping = new AbortController();
  reporter.start();
  void privateAddress(process.env, log, stopping.signal)
    .then((host) => proxy.listen(host, cfg.proxyPort))
    .then((url) => {
      log(`proxy: listening on ${url}`);
      reporter.nudge();
    })
    .catch((err: Error) => log(`proxy: not started: ${err.message}`));
  return {
    stop: () => {
      stopping.abort();
      reporter.stop();
      proxy.stop();
    },
  };
}

/** Tickets are redeemed with the app, as this VM: single use, short-lived, the assigned user's. */
function redeemer(app: AppClient, instance: string): Redeem {
  return async (ticket, application) => {
    if (!/^[A-Za-z0-9_-]{20,100}$/.test(ticket)) return { ok: false, reason: "malformed ticket" };
    const answer = await app.post(`/api/agent/instances/${encodeURIComponent(instance)}/tickets`, { ticket, application }, AbortSignal.timeout(15_000));
    if (!answer.ok) return { ok: false, reason: answer.code };
    const user = (answer.body as { user?: unknown } | undefined)?.user;
    return typeof user === "string" ? { ok: true, user } : { ok: false, reason: "the app named no user" };
  };
}

/** The environment the user's programs get (the agent's own settings stay out). */
export function userEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith("CI_AGENT_") && k !== "AZURE_POD_IDENTITY_AUTHORITY_HOST") env[k] = v;
  return env;
}
