// Shared pieces: state badges, confirmation dialog, instance action buttons, form fields.
import type { ComponentChildren } from "preact";
import { useEffect, useRef, useState } from "preact/hooks";
import { canStart, type UserOperation } from "../../shared/instances/stateMachine";
import { api, message, unwrap } from "./api";
import type { Instance, InstanceState } from "./types";

const TONE: Record<InstanceState, "ok" | "busy" | "off" | "bad"> = {
  Running: "ok", JobRunning: "ok",
  Creating: "busy", SettingUp: "busy", Starting: "busy", Stopping: "busy", Restarting: "busy", Deleting: "busy",
  Stopped: "off", Unknown: "off",
  CreateFailed: "bad", SetupFailed: "bad", Unusable: "bad",
};

export function StateBadge({ state }: { state: InstanceState }) {
  return <span class={`badge badge-${TONE[state]}`} data-state={state}>{state}</span>;
}

/** A modal confirmation (native <dialog>: focus is trapped and Escape cancels). */
export function Confirm(props: { title: string; body: string; action: string; danger?: boolean; onDone: (ok: boolean) => void }) {
  const ref = useRef<HTMLDialogElement>(null);
  useEffect(() => {
    ref.current?.showModal();
  }, []);
  return (
    <dialog ref={ref} aria-labelledby="confirm-title" onClose={() => props.onDone(ref.current?.returnValue === "ok")}>
      <form method="dialog">
        <h2 id="confirm-title">{props.title}</h2>
        <p>{props.body}</p>
        <div class="row end">
          <button value="cancel" class="secondary">Cancel</button>
          <button value="ok" class={props.danger ? "danger" : "primary"}>{props.action}</button>
        </div>
      </form>
    </dialog>
  );
}

const ACTIONS: { op: Exclude<UserOperation, "create">; label: string; confirm: (n: string) => string; danger?: boolean }[] = [
  { op: "start", label: "Start", confirm: (n) => `Start ${n}? Compute charges resume.` },
  { op: "stop", label: "Stop", confirm: (n) => `Stop ${n}? Running jobs are canceled; queued jobs wait for the next start.` },
  { op: "restart", label: "Restart", confirm: (n) => `Restart ${n}? Running jobs are canceled.` },
  { op: "delete", label: "Delete", confirm: (n) => `Delete ${n}? The VM goes; your files on the workspace share stay.`, danger: true },
];

/** Start/stop/restart/delete, each disabled with the reason when the state or the role forbids it. */
export function InstanceActions(props: { inst: Instance; readOnly?: string; onChanged: () => void; compact?: boolean }) {
  const { inst } = props;
  const [asking, setAsking] = useState<(typeof ACTIONS)[number] | undefined>(undefined);
  const [error, setError] = useState<string | undefined>(undefined);
  async function run(op: (typeof ACTIONS)[number]["op"]) {
    setError(undefined);
    const params = { params: { path: { name: inst.name } } };
    try {
      if (op === "delete") unwrap(await api.DELETE("/api/instances/{name}", params));
      else if (op === "start") unwrap(await api.POST("/api/instances/{name}/start", params));
      else if (op === "stop") unwrap(await api.POST("/api/instances/{name}/stop", params));
      else unwrap(await api.POST("/api/instances/{name}/restart", params));
    } catch (err) {
      setError(message(err));
    }
    props.onChanged();
  }
  return (
    <div class={`actions${props.compact ? " nowrap" : ""}`}>
      {ACTIONS.map((a) => {
        const allowed = canStart(a.op, inst.state);
        const reason = props.readOnly ?? (allowed.ok ? undefined : allowed.error.message);
        return (
          <button
            key={a.op}
            class={`${a.danger ? "danger-outline" : "secondary"}${props.compact ? " small" : ""}`}
            disabled={reason !== undefined}
            title={reason}
            aria-label={`${a.label} ${inst.name}`}
            onClick={() => setAsking(a)}
          >
            {a.label}
          </button>
        );
      })}
      {props.readOnly && !props.compact && <span class="hint">{props.readOnly}</span>}
      {error && <span class="error" role="alert">{error}</span>}
      {asking && (
        <Confirm
          title={`${asking.label} ${inst.name}`}
          body={asking.confirm(inst.name)}
          action={asking.label}
          danger={asking.danger}
          onDone={(ok) => {
            const a = asking;
            setAsking(undefined);
            if (ok) void run(a.op);
          }}
        />
      )}
    </div>
  );
}

/** A labelled field with its hint and the API's error for it (aria-describedby ties them together). */
export function Field(props: { id: string; label: string; hint?: ComponentChildren; error?: string; children: ComponentChildren }) {
  return (
    <div class={`field${props.error ? " has-error" : ""}`}>
      <label for={props.id}>{props.label}</label>
      {props.children}
      {props.hint && <div class="hint" id={`${props.id}-hint`}>{props.hint}</div>}
      {props.error && (
        <div class="error" id={`${props.id}-error`} role="alert">
          {props.error}
        </div>
      )}
    </div>
  );
}

export const describedBy = (id: string, error?: string, hint?: boolean) =>
  [hint ? `${id}-hint` : "", error ? `${id}-error` : ""].filter(Boolean).join(" ") || undefined;
