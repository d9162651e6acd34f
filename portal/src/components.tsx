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

export type InstanceAction = { op: Exclude<UserOperation, "create">; label: string; confirm: (n: string) => string; danger?: boolean };

const ACTIONS: InstanceAction[] = [
  { op: "start", label: "Start", confirm: (n) => `Start ${n}? Compute charges resume.` },
  { op: "stop", label: "Stop", confirm: (n) => `Stop ${n}? Running jobs are canceled; queued jobs wait for the next start.` },
  { op: "restart", label: "Restart", confirm: (n) => `Restart ${n}? Running jobs are canceled.` },
  { op: "delete", label: "Delete", confirm: (n) => `Delete ${n}? The VM goes; your files on the workspace share stay.`, danger: true },
];

// The reason an operation is not allowed from a state, from the state machine itself; kept per
// (operation, state), so a long list does not build an error object per button.
const refusals = new Map<string, string | undefined>();
function refusal(op: UserOperation, state: InstanceState): string | undefined {
  const key = `${op}|${state}`;
  if (!refusals.has(key)) {
    const allowed = canStart(op, state);
    refusals.set(key, allowed.ok ? undefined : allowed.error.message);
  }
  return refusals.get(key);
}

/** Starts the operation; the API's refusal comes back as a message. */
export async function runOperation(name: string, op: InstanceAction["op"]): Promise<string | undefined> {
  const params = { params: { path: { name } } };
  try {
    if (op === "delete") unwrap(await api.DELETE("/api/instances/{name}", params));
    else if (op === "start") unwrap(await api.POST("/api/instances/{name}/start", params));
    else if (op === "stop") unwrap(await api.POST("/api/instances/{name}/stop", params));
    else unwrap(await api.POST("/api/instances/{name}/restart", params));
    return undefined;
  } catch (err) {
    return message(err);
  }
}

/** The four buttons, each disabled with the reason when the state or the role forbids it. Stateless: a list renders hundreds. */
export function ActionButtons(props: { inst: Instance; readOnly?: string; compact?: boolean; onAsk: (a: InstanceAction) => void }) {
  const { inst } = props;
  // One listener per row, not per button (a list renders hundreds of rows).
  const onClick = (e: MouseEvent) => {
    const op = (e.target as HTMLElement).closest("button")?.dataset.op;
    const action = ACTIONS.find((a) => a.op === op);
    if (action) props.onAsk(action);
  };
  return (
    <div class={`actions${props.compact ? " nowrap" : ""}`} onClick={onClick}>
      {ACTIONS.map((a) => {
        const reason = props.readOnly ?? refusal(a.op, inst.state);
        return (
          <button
            key={a.op}
            class={`${a.danger ? "danger-outline" : "secondary"}${props.compact ? " small" : ""}`}
            disabled={reason !== undefined}
            title={reason}
            aria-label={`${a.label} ${inst.name}`}
            data-op={a.op}
          >
            {a.label}
          </button>
        );
      })}
    </div>
  );
}

/** Asks to confirm `asking` on `inst`, runs it, reports a refusal. One per page (or per list). */
export function useConfirmedAction(onChanged: () => void) {
  const [asking, setAsking] = useState<{ inst: Instance; action: InstanceAction } | undefined>(undefined);
  const [error, setError] = useState<string | undefined>(undefined);
  const ask = (inst: Instance, action: InstanceAction) => {
    setError(undefined);
    setAsking({ inst, action });
  };
  const view = (
    <>
      {error && <p class="error" role="alert">{error}</p>}
      {asking && (
        <Confirm
          title={`${asking.action.label} ${asking.inst.name}`}
          body={asking.action.confirm(asking.inst.name)}
          action={asking.action.label}
          danger={asking.action.danger}
          onDone={(ok) => {
            const a = asking;
            setAsking(undefined);
            if (ok) void runOperation(a.inst.name, a.action.op).then((e) => { setError(e); onChanged(); });
          }}
        />
      )}
    </>
  );
  return { ask, view };
}

/** Actions of one instance (its page): buttons, the reader's reason, confirmation and refusal. */
export function InstanceActions(props: { inst: Instance; readOnly?: string; onChanged: () => void }) {
  const confirmed = useConfirmedAction(props.onChanged);
  return (
    <div>
      <ActionButtons inst={props.inst} readOnly={props.readOnly} onAsk={(a) => confirmed.ask(props.inst, a)} />
      {props.readOnly && <span class="hint">{props.readOnly}</span>}
      {confirmed.view}
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
