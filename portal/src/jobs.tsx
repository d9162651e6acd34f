// An instance's jobs: submit, cancel, and output that follows the job while it runs.
import { useEffect, useRef, useState } from "preact/hooks";
import { api, errorAt, fieldErrors, message, readLog, TERMINAL_JOB_STATES, unwrap } from "./api";
import type { Me } from "./auth";
import { describedBy, Field } from "./components";
import { usePoll } from "./hooks";
import type { Instance, Job } from "./types";
import { relative } from "./words";

const JOBS_REFRESH_MS = 2000;
const LOG_REFRESH_MS = 1000;

export function Jobs({ inst, readOnly }: { inst: Instance; me: Me; readOnly?: string }) {
  const jobs = usePoll(
    async () => unwrap(await api.GET("/api/instances/{name}/jobs", { params: { path: { name: inst.name }, query: { top: 50 } } })).value,
    JOBS_REFRESH_MS,
    `jobs:${inst.name}:${inst.instanceId ?? ""}`,
  );
  const [open, setOpen] = useState<string | undefined>(undefined);
  const list = [...(jobs.data ?? [])].sort((a, b) => b.submittedAt.localeCompare(a.submittedAt));
  return (
    <section aria-labelledby="jobs-title" class="jobs">
      <h2 id="jobs-title">Jobs <span class="hint">{inst.jobs.running} of {inst.jobs.cap} running, {inst.jobs.queued} queued</span></h2>
      <SubmitJob name={inst.name} readOnly={readOnly} onSubmitted={(j) => { setOpen(j.id); jobs.refresh(); }} />
      {jobs.error !== undefined && <p class="error" role="alert">{message(jobs.error)}</p>}
      {list.length === 0 ? (
        <p>No jobs yet.</p>
      ) : (
        <table class="grid">
          <thead>
            <tr><th scope="col">Job</th><th scope="col">State</th><th scope="col">Command</th><th scope="col">Submitted</th><th scope="col">Actions</th></tr>
          </thead>
          <tbody>
            {list.map((j) => (
              <JobRow key={j.id} job={j} readOnly={readOnly} open={open === j.id} onToggle={() => setOpen(open === j.id ? undefined : j.id)} onChanged={jobs.refresh} />
            ))}
          </tbody>
        </table>
      )}
    </section>
  );
}

function JobRow(props: { job: Job; readOnly?: string; open: boolean; onToggle: () => void; onChanged: () => void }) {
  const j = props.job;
  const ended = TERMINAL_JOB_STATES.includes(j.state);
  const [error, setError] = useState<string | undefined>(undefined);
  async function cancel() {
    try {
      unwrap(await api.POST("/api/jobs/{id}/cancel", { params: { path: { id: j.id } } }));
    } catch (err) {
      setError(message(err));
    }
    props.onChanged();
  }
  const cancelWhy = props.readOnly ?? (ended ? `The job already ended (${j.state}).` : undefined);
  return (
    <>
      <tr data-job={j.id}>
        <th scope="row">{j.name}</th>
        <td><span class={`badge job-${j.state}`} data-state={j.state}>{j.state}{j.exitCode !== undefined ? ` (exit ${j.exitCode})` : ""}</span></td>
        <td><code class="command">{j.command}</code></td>
        <td>{relative(new Date(j.submittedAt), new Date())}</td>
        <td class="actions">
          <button class="secondary" aria-expanded={props.open} onClick={props.onToggle}>{props.open ? "Hide output" : "Output"}</button>
          <button class="secondary" disabled={cancelWhy !== undefined} title={cancelWhy} onClick={() => void cancel()} aria-label={`Cancel job ${j.name}`}>Cancel</button>
          {error && <span class="error" role="alert">{error}</span>}
        </td>
      </tr>
      {props.open && (
        <tr class="log-row">
          <td colSpan={5}>
            <JobLog job={j} />
          </td>
        </tr>
      )}
    </>
  );
}

/** stdout and stderr, each followed from its last byte while the job runs. */
function JobLog({ job }: { job: Job }) {
  const [out, setOut] = useState({ stdout: "", stderr: "" });
  const offsets = useRef({ stdout: 0, stderr: 0 });
  const ended = TERMINAL_JOB_STATES.includes(job.state);
  useEffect(() => {
    let stopped = false;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const poll = async (final: boolean) => {
      try {
        for (const stream of ["stdout", "stderr"] as const) {
          const got = await readLog(job.id, stream, offsets.current[stream]);
          offsets.current[stream] = got.offset;
          if (got.text && !stopped) setOut((o) => ({ ...o, [stream]: o[stream] + got.text }));
        }
      } catch {
        // The next poll tries again.
      }
      if (!stopped && !final) timer = setTimeout(() => void poll(ended), LOG_REFRESH_MS);
    };
    void poll(ended);
    return () => {
      stopped = true;
      clearTimeout(timer);
    };
  }, [job.id, ended]);
  return (
    <div class="log" aria-live="polite">
      <pre data-testid="stdout" aria-label="standard output">{out.stdout || (ended ? "(no output)" : "(waiting for output…)")}</pre>
      {out.stderr && <pre class="stderr" data-testid="stderr" aria-label="standard error">{out.stderr}</pre>}
      {job.error && <p class="error">{job.error.code}: {job.error.message}</p>}
    </div>
  );
}

function SubmitJob(props: { name: string; readOnly?: string; onSubmitted: (j: Job) => void }) {
  const [command, setCommand] = useState("");
  const [jobName, setJobName] = useState("");
  const [gpus, setGpus] = useState("0");
  const [errors, setErrors] = useState<Record<string, string>>({});
  const [general, setGeneral] = useState<string | undefined>(undefined);
  async function submit(e: Event) {
    e.preventDefault();
    setGeneral(undefined);
    try {
      const job = unwrap(
        await api.POST("/api/instances/{name}/jobs", {
          params: { path: { name: props.name } },
          body: { command, ...(jobName ? { name: jobName } : {}), gpus: Number(gpus) },
        }),
      );
      setErrors({});
      setCommand("");
      props.onSubmitted(job);
    } catch (err) {
      const f = fieldErrors(err);
      setErrors(f);
      if (!errorAt(f, "command") && !errorAt(f, "name") && !errorAt(f, "gpus")) setGeneral(message(err));
    }
  }
  const ro = props.readOnly;
  return (
    <form class="submit-job" onSubmit={submit} noValidate>
      <Field id="job-command" label="Command" error={errorAt(errors, "command")}>
        <input id="job-command" class="mono" value={command} disabled={!!ro} title={ro} onInput={(e) => setCommand(e.currentTarget.value)} placeholder="python train.py --epochs 3" aria-describedby={describedBy("job-command", errorAt(errors, "command"))} />
      </Field>
      <Field id="job-name" label="Name (optional)" error={errorAt(errors, "name")}>
        <input id="job-name" value={jobName} disabled={!!ro} title={ro} onInput={(e) => setJobName(e.currentTarget.value)} />
      </Field>
      <Field id="job-gpus" label="GPUs" error={errorAt(errors, "gpus")}>
        <input id="job-gpus" type="number" min={0} value={gpus} disabled={!!ro} title={ro} onInput={(e) => setGpus(e.currentTarget.value)} />
      </Field>
      <div class="field">
        <button class="primary" type="submit" disabled={!!ro} title={ro}>Submit job</button>
        {ro && <div class="hint">{ro}</div>}
      </div>
      {general && <p class="error" role="alert">{general}</p>}
    </form>
  );
}
