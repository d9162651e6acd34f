// One instance: its operation's steps live, auto-stop in words, how to reach it, and its jobs.
import { useState } from "preact/hooks";
import { api, message, TERMINAL_OPERATION_STATUSES, unwrap } from "./api";
import type { Me } from "./auth";
import { InstanceActions, StateBadge } from "./components";
import { usePoll } from "./hooks";
import { Jobs } from "./jobs";
import type { Instance, Operation } from "./types";
import { autoStopWords, relative, warningWords } from "./words";

const INSTANCE_REFRESH_MS = 2000;
const OPERATION_REFRESH_MS = 1000;

export function InstancePage({ name, me, readOnly }: { name: string; me: Me; readOnly?: string }) {
  const inst = usePoll(async () => unwrap(await api.GET("/api/instances/{name}", { params: { path: { name } } })), INSTANCE_REFRESH_MS, `instance:${name}`);
  const i = inst.data;
  return (
    <section aria-labelledby="instance-title">
      <p><a href="#/">← Compute instances</a></p>
      {inst.error !== undefined && <p class="error" role="alert">{message(inst.error)}</p>}
      {!i ? (
        inst.error === undefined && <p aria-busy="true">Loading…</p>
      ) : (
        <>
          <div class="row between">
            <h1 id="instance-title">
              {i.name} <StateBadge state={i.state} />
            </h1>
            <InstanceActions inst={i} readOnly={readOnly} onChanged={inst.refresh} />
          </div>
          {i.description && <p>{i.description}</p>}
          <AutoStopBanner inst={i} readOnly={readOnly} onChanged={inst.refresh} />
          <div class="cards">
            <OperationCard inst={i} />
            <AutoStopCard inst={i} />
            <AccessCard inst={i} />
          </div>
          <Jobs inst={i} me={me} readOnly={readOnly} />
        </>
      )}
    </section>
  );
}

function OperationCard({ inst }: { inst: Instance }) {
  const last = inst.lastOperation;
  const running = last?.status === "Running" || last?.status === "NotStarted";
  const op = usePoll<Operation | undefined>(
    async () => (last?.id ? unwrap(await api.GET("/api/operations/{id}", { params: { path: { id: last.id } } })) : undefined),
    running ? OPERATION_REFRESH_MS : null,
    `op:${last?.id ?? "none"}:${running}`,
  );
  if (!last) return null;
  const o = op.data;
  const done = o ? TERMINAL_OPERATION_STATUSES.includes(o.status) : !running;
  return (
    <div class="card" aria-labelledby="op-title">
      <h2 id="op-title">
        {last.name[0]!.toUpperCase() + last.name.slice(1)}: {o?.status ?? last.status}
      </h2>
      <ol class="steps" aria-live="polite">
        {(o?.steps ?? []).map((s) => (
          <li key={s.name} class={`step step-${s.status}`} data-step={s.name} data-status={s.status}>
            <span class="step-name">{s.name}</span> <span class="step-status">{s.status}</span>
            {s.startedAt && s.endedAt && <span class="hint"> {((Date.parse(s.endedAt) - Date.parse(s.startedAt)) / 1000).toFixed(1)} s</span>}
          </li>
        ))}
      </ol>
      {(o?.error ?? last.error) && (
        <p class="error">
          {(o?.error ?? last.error)!.code}: {(o?.error ?? last.error)!.message}
        </p>
      )}
      <p class="hint">{done && last.endedAt ? `Ended ${relative(new Date(last.endedAt), new Date())}` : `Started ${relative(new Date(last.startedAt), new Date())}`}</p>
    </div>
  );
}

/**
 * The warning before an idle or scheduled stop (autoStop.warning), with the one click that
 * pushes it back (POST .../autostop/postpone). It goes when the warning does.
 */
function AutoStopBanner({ inst, readOnly, onChanged }: { inst: Instance; readOnly?: string; onChanged: () => void }) {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string>();
  const words = warningWords(inst, new Date());
  if (!words) return null;
  const postpone = async () => {
    setBusy(true);
    setError(undefined);
    try {
      unwrap(await api.POST("/api/instances/{name}/autostop/postpone", { params: { path: { name: inst.name } } }));
      onChanged();
    } catch (err) {
      setError(message(err));
    } finally {
      setBusy(false);
    }
  };
  return (
    <div class="banner" role="status" data-testid="autostop-warning" data-source={inst.autoStop?.warning?.source}>
      <p>{words}</p>
      <button type="button" class="primary" disabled={busy || readOnly !== undefined} title={readOnly} onClick={() => void postpone()}>
        Postpone
      </button>
      {error && <p class="error" role="alert">{error}</p>}
    </div>
  );
}

function AutoStopCard({ inst }: { inst: Instance }) {
  return (
    <div class="card">
      <h2>Auto-stop</h2>
      <ul class="plain" data-testid="autostop">
        {autoStopWords(inst, new Date()).map((w) => <li key={w}>{w}</li>)}
      </ul>
      {inst.schedules.length > 0 && (
        <p class="hint">
          Schedules: {inst.schedules.map((s) => `${s.action} "${s.cron}" ${s.timeZone}${s.enabled === false ? " (off)" : ""}`).join("; ")}
        </p>
      )}
      <p class="hint">Idle shutdown: {inst.idleShutdownMinutes === null ? "off" : `after ${inst.idleShutdownMinutes} min`}</p>
    </div>
  );
}

function AccessCard({ inst }: { inst: Instance }) {
  const [copied, setCopied] = useState(false);
  const ssh = inst.ssh.address ? `ssh -p ${inst.ssh.port ?? 22} ${inst.ssh.adminUserName}@${inst.ssh.address}` : undefined;
  return (
    <div class="card">
      <h2>Details</h2>
      <dl>
        <dt>Size</dt>
        <dd>{inst.vmSize} ({inst.vCpus} vCPU{inst.gpus ? `, ${inst.gpus} GPU` : ""})</dd>
        <dt>Assigned to</dt>
        <dd>{inst.assignedUser}</dd>
        <dt>Private IP</dt>
        <dd>{inst.network.privateIp ?? "—"}</dd>
        <dt>SSH</dt>
        <dd>
          {ssh ? (
            <>
              <code>{ssh}</code>{" "}
              <button class="secondary small" onClick={() => void navigator.clipboard?.writeText(ssh).then(() => setCopied(true))}>{copied ? "Copied" : "Copy"}</button>
            </>
          ) : (
            `${inst.ssh.publicAccess === "Enabled" ? "enabled, no address yet" : "disabled"}`
          )}
        </dd>
      </dl>
      <SetupLog inst={inst} />
      {inst.applications.length > 0 && (
        <div class="apps">
          <h3>Applications</h3>
          <ul class="plain row">
            {inst.applications.map((a) => (
              <li key={a.name} data-app={a.name} data-state={a.state}><OpenApplication instance={inst.name} app={a} /></li>
            ))}
          </ul>
        </div>
      )}
    </div>
  );
}

/** The setup scripts' output of the last operation; followed while that operation runs. */
function SetupLog({ inst }: { inst: Instance }) {
  const last = inst.lastOperation;
  const running = last?.status === "Running" || last?.status === "NotStarted";
  const log = usePoll(
    async () => {
      const res = await fetch(`/api/instances/${encodeURIComponent(inst.name)}/setup-log`, { credentials: "same-origin" });
      if (!res.ok) throw new Error(`setup log: ${res.status}`);
      return res.text();
    },
    running ? OPERATION_REFRESH_MS * 2 : null,
    `setup:${inst.name}:${last?.id ?? ""}:${running}`,
  );
  return (
    <details class="setup-log" open={running}>
      <summary>Setup-script log</summary>
      <pre data-testid="setup-log">{log.data || (running ? "(waiting for the scripts…)" : "(empty)")}</pre>
      <p class="hint">On the workspace share under <code>Logs/{inst.name.toLowerCase()}/</code>.</p>
    </details>
  );
}

/**
 * An application opens through a single-use ticket (POST …/applications/{app}/sessions): the
 * VM's proxy turns it into its session cookie. The bare proxy URL alone is refused.
 */
function OpenApplication({ instance, app }: { instance: string; app: Instance["applications"][number] }) {
  const [error, setError] = useState<string>();
  if (app.state !== "Available") {
    // The agent's message names what is missing ("… (no jupyter-lab)"): in the tooltip, the state in words.
    const why = app.state === "NotInstalled" ? "not installed on this machine" : (app.message ?? "not available");
    return (
      <span title={app.message ?? app.state}>
        {app.title}: <span class="hint">{why}</span>
      </span>
    );
  }
  const open = async () => {
    setError(undefined);
    // Opened first, filled in after: a window opened after an await is blocked as a pop-up.
    const win = window.open("", "_blank", "noopener=no");
    try {
      const session = unwrap(await api.POST("/api/instances/{name}/applications/{app}/sessions", { params: { path: { name: instance, app: app.name } } })) as { url: string };
      if (win) win.location.href = session.url;
      else location.href = session.url;
    } catch (err) {
      win?.close();
      setError(message(err));
    }
  };
  return (
    <>
      <button type="button" class="link" onClick={() => void open()}>{app.title}</button>
      {error && <span role="alert"> {error}</span>}
    </>
  );
}
