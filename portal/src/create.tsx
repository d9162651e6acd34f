// The create form: sizes with the caller's remaining quota, only the network options policy
// allows, idle shutdown, schedules with a preview of their next runs, setup scripts. The API
// decides; its validation errors are shown at the fields they name.
import { useState } from "preact/hooks";
import { api, errorAt, fieldErrors, message, unwrap } from "./api";
import type { Me } from "./auth";
import { describedBy, Field } from "./components";
import { usePoll } from "./hooks";
import type { CreateInstanceBody, Sizes } from "./types";
import { overQuota, previewRuns, quotaLeft, timeIn } from "./words";

type ScheduleRow = { action: "Start" | "Stop"; cron: string; timeZone: string; enabled: boolean };

const LOCAL_ZONE = Intl.DateTimeFormat().resolvedOptions().timeZone;
const ZONES: string[] = (Intl as unknown as { supportedValuesOf?: (k: string) => string[] }).supportedValuesOf?.("timeZone") ?? [];

export function CreateForm({ me }: { me: Me }) {
  const sizes = usePoll(async () => unwrap(await api.GET("/api/sizes")), null, "sizes");
  const [name, setName] = useState("");
  const [vmSize, setVmSize] = useState("");
  const [description, setDescription] = useState("");
  const [assignedUser, setAssignedUser] = useState("");
  const [ssh, setSsh] = useState(false);
  const [sshKey, setSshKey] = useState("");
  const [subnetId, setSubnetId] = useState("");
  const [publicIp, setPublicIp] = useState(false);
  const [idleOn, setIdleOn] = useState(true);
  const [idleMinutes, setIdleMinutes] = useState("60");
  const [schedules, setSchedules] = useState<ScheduleRow[]>([]);
  const [creation, setCreation] = useState("");
  const [startup, setStartup] = useState("");
  const [errors, setErrors] = useState<Record<string, string>>({});
  const [general, setGeneral] = useState<string | undefined>(undefined);
  const [busy, setBusy] = useState(false);
  const isAdmin = me.roles.includes("admin");

  async function submit(e: Event) {
    e.preventDefault();
    setBusy(true);
    setGeneral(undefined);
    const body: CreateInstanceBody = {
      vmSize,
      ...(description ? { description } : {}),
      ...(isAdmin && assignedUser ? { assignedUser } : {}),
      ...(ssh ? { sshPublicAccess: "Enabled", sshPublicKey: sshKey.trim() } : {}),
      ...(subnetId ? { subnetId } : {}),
      ...(publicIp ? { enablePublicIp: true } : {}),
      idleShutdownMinutes: idleOn ? Number(idleMinutes) : null,
      schedules,
      ...(creation || startup
        ? { setupScripts: { ...(creation ? { creation: { inline: creation } } : {}), ...(startup ? { startup: { inline: startup } } : {}) } }
        : {}),
    };
    const res = await api.PUT("/api/instances/{name}", { params: { path: { name } }, body });
    setBusy(false);
    if (res.response.ok) {
      location.hash = `#/instances/${encodeURIComponent(name)}`;
      return;
    }
    try {
      unwrap(res);
    } catch (err) {
      const byField = fieldErrors(err);
      // An error about the path (or "name") belongs at the name field.
      if (byField.name === undefined && res.response.status === 404) byField.name = message(err);
      setErrors(byField);
      if (Object.keys(byField).length === 0) setGeneral(message(err));
    }
  }

  const s = sizes.data;
  const e = errors;
  const nameError = errorAt(e, "name");
  const sizeError = errorAt(e, "vmSize");
  return (
    <section aria-labelledby="create-title">
      <p><a href="#/">← Compute instances</a></p>
      <h1 id="create-title">New compute instance</h1>
      {sizes.error !== undefined && <p class="error" role="alert">{message(sizes.error)}</p>}
      {general && <p class="error" role="alert">{general}</p>}
      <form onSubmit={submit} noValidate>
        <Field id="name" label="Name" hint="3–24 letters, digits and hyphens, starting with a letter; unique in the workspace." error={nameError}>
          <input id="name" name="name" required value={name} onInput={(ev) => setName(ev.currentTarget.value)} aria-invalid={!!nameError} aria-describedby={describedBy("name", nameError, true)} autocomplete="off" />
        </Field>

        <fieldset class={`field${sizeError ? " has-error" : ""}`} aria-describedby={describedBy("vmSize", sizeError)}>
          <legend>Virtual machine size</legend>
          {!s ? (
            <p aria-busy="true">Loading sizes…</p>
          ) : (
            <table class="grid sizes">
              <thead>
                <tr><th scope="col">Size</th><th scope="col">vCPUs</th><th scope="col">GPUs</th><th scope="col">Memory</th><th scope="col">Your quota ({"family"})</th></tr>
              </thead>
              <tbody>
                {s.value.map((size) => {
                  const why = overQuota(size, s.quota);
                  const id = `size-${size.name}`;
                  return (
                    <tr key={size.name} class={why ? "disabled" : ""}>
                      <td>
                        <input type="radio" id={id} name="vmSize" value={size.name} checked={vmSize === size.name} disabled={!!why} onChange={() => setVmSize(size.name)} aria-describedby={why ? `${id}-why` : undefined} />{" "}
                        <label for={id}>{size.name}</label>
                      </td>
                      <td>{size.vCpus}</td>
                      <td>{size.gpus}</td>
                      <td>{size.memoryGb} GB</td>
                      <td>
                        {size.family}: {quotaLeft(size, s.quota)}
                        {why && <div class="hint" id={`${id}-why`}>{why}</div>}
                      </td>
                    </tr>
                  );
                })}
              </tbody>
            </table>
          )}
          {sizeError && <div class="error" id="vmSize-error" role="alert">{sizeError}</div>}
        </fieldset>

        <Field id="description" label="Description (optional)" error={errorAt(e, "description")}>
          <input id="description" value={description} onInput={(ev) => setDescription(ev.currentTarget.value)} />
        </Field>

        {isAdmin && (
          <Field id="assignedUser" label="Assigned user (admins: create on behalf of someone)" hint="Empty: yourself." error={errorAt(e, "assignedUser")}>
            <input id="assignedUser" value={assignedUser} onInput={(ev) => setAssignedUser(ev.currentTarget.value)} aria-describedby="assignedUser-hint" />
          </Field>
        )}

        {s?.policy.sshPublicAccess && (
          <div class="field">
            <label class="check">
              <input type="checkbox" checked={ssh} onChange={(ev) => setSsh(ev.currentTarget.checked)} /> Allow SSH from the workspace's allowed networks
            </label>
            {ssh && (
              <Field id="sshPublicKey" label="SSH public key" hint="ssh-ed25519 or ssh-rsa (2048 bits or more)." error={errorAt(e, "sshPublicKey")}>
                <textarea id="sshPublicKey" rows={2} value={sshKey} onInput={(ev) => setSshKey(ev.currentTarget.value)} aria-describedby={describedBy("sshPublicKey", errorAt(e, "sshPublicKey"), true)} />
              </Field>
            )}
          </div>
        )}
        {s && s.policy.subnetIds.length > 1 && (
          <Field id="subnetId" label="Subnet" error={errorAt(e, "subnetId")}>
            <select id="subnetId" value={subnetId} onChange={(ev) => setSubnetId(ev.currentTarget.value)}>
              {s.policy.subnetIds.map((id, i) => (
                <option key={id} value={i === 0 ? "" : id}>{id.split("/").slice(-3).join("/")}{i === 0 ? " (default)" : ""}</option>
              ))}
            </select>
          </Field>
        )}
        {s?.policy.publicIp && (
          <div class="field">
            <label class="check"><input type="checkbox" checked={publicIp} onChange={(ev) => setPublicIp(ev.currentTarget.checked)} /> Public IP address</label>
          </div>
        )}

        <div class={`field${errorAt(e, "idleShutdownMinutes") ? " has-error" : ""}`}>
          <label class="check">
            <input type="checkbox" checked={idleOn} onChange={(ev) => setIdleOn(ev.currentTarget.checked)} /> Stop when idle
          </label>
          {idleOn && (
            <Field
              id="idleShutdownMinutes"
              label="Idle minutes before it stops"
              hint={s ? `${s.policy.idleShutdownMinMinutes} to ${s.policy.idleShutdownMaxMinutes}. Idle: no jobs, no heartbeat from a notebook.` : undefined}
              error={errorAt(e, "idleShutdownMinutes")}
            >
              <input id="idleShutdownMinutes" type="number" inputMode="numeric" value={idleMinutes} onInput={(ev) => setIdleMinutes(ev.currentTarget.value)} aria-describedby={describedBy("idleShutdownMinutes", errorAt(e, "idleShutdownMinutes"), !!s)} />
            </Field>
          )}
        </div>

        <fieldset class="field">
          <legend>Schedules</legend>
          {schedules.map((row, i) => (
            <ScheduleEditor
              key={i}
              index={i}
              row={row}
              error={errorAt(e, `schedules[${i}]`) ?? errorAt(e, `schedules.${i}`)}
              onChange={(next) => setSchedules(schedules.map((r, j) => (j === i ? next : r)))}
              onRemove={() => setSchedules(schedules.filter((_, j) => j !== i))}
            />
          ))}
          {errorAt(e, "schedules") && !schedules.length && <div class="error" role="alert">{errorAt(e, "schedules")}</div>}
          {schedules.length < 4 && (
            <button type="button" class="secondary" onClick={() => setSchedules([...schedules, { action: "Stop", cron: "0 19 * * 1-5", timeZone: LOCAL_ZONE, enabled: true }])}>
              Add schedule
            </button>
          )}
        </fieldset>

        <fieldset class="field">
          <legend>Setup scripts (optional)</legend>
          <Field id="creation" label="Creation script (runs once, in your folder on the share)" error={errorAt(e, "setupScripts.creation")}>
            <textarea id="creation" rows={3} value={creation} onInput={(ev) => setCreation(ev.currentTarget.value)} class="mono" />
          </Field>
          <Field id="startup" label="Startup script (runs at every start)" error={errorAt(e, "setupScripts.startup")}>
            <textarea id="startup" rows={3} value={startup} onInput={(ev) => setStartup(ev.currentTarget.value)} class="mono" />
          </Field>
        </fieldset>

        <div class="row">
          <button class="primary" type="submit" disabled={busy}>{busy ? "Creating…" : "Create"}</button>
          <a class="button secondary" href="#/">Cancel</a>
        </div>
      </form>
    </section>
  );
}

function ScheduleEditor(props: { index: number; row: ScheduleRow; error?: string; onChange: (r: ScheduleRow) => void; onRemove: () => void }) {
  const { row, index: i } = props;
  const runs = previewRuns(row, new Date());
  const id = `schedule-${i}`;
  return (
    <div class={`schedule${props.error ? " has-error" : ""}`} role="group" aria-label={`Schedule ${i + 1}`}>
      <div class="row">
        <label>
          Action{" "}
          <select value={row.action} onChange={(ev) => props.onChange({ ...row, action: ev.currentTarget.value as ScheduleRow["action"] })}>
            <option>Stop</option>
            <option>Start</option>
          </select>
        </label>
        <label>
          Cron (min hour day month weekday){" "}
          <input class="mono" id={`${id}-cron`} value={row.cron} onInput={(ev) => props.onChange({ ...row, cron: ev.currentTarget.value })} />
        </label>
        <label>
          Time zone{" "}
          <input list="zones" value={row.timeZone} onInput={(ev) => props.onChange({ ...row, timeZone: ev.currentTarget.value })} />
        </label>
        <button type="button" class="secondary" onClick={props.onRemove} aria-label={`Remove schedule ${i + 1}`}>Remove</button>
      </div>
      <div class="hint" id={`${id}-preview`} aria-live="polite">
        {typeof runs === "string" ? runs : `Next: ${runs.map((d) => `${timeIn(d, row.timeZone, new Date())}`).join(", ")} (${row.timeZone})`}
      </div>
      {props.error && <div class="error" role="alert">{props.error}</div>}
      {i === 0 && (
        <datalist id="zones">
          {ZONES.map((z) => <option key={z} value={z} />)}
        </datalist>
      )}
    </div>
  );
}
