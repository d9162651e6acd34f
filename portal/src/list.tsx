// The instances list: what the caller may see (users: their own; admins and readers: everyone),
// refreshed every few seconds in place.
import { api, message, unwrap } from "./api";
import type { Me } from "./auth";
import { InstanceActions, StateBadge } from "./components";
import { usePoll } from "./hooks";
import type { Instance } from "./types";
import { autoStopWords, jobsWords } from "./words";

const REFRESH_MS = 3000;

/** Every page of the list (nextLink), so a workspace of many instances shows whole. */
export async function loadAllInstances(): Promise<Instance[]> {
  const out: Instance[] = [];
  let token: string | undefined;
  do {
    const page = unwrap(await api.GET("/api/instances", { params: { query: { top: 1000, ...(token ? { continuationToken: token } : {}) } } }));
    out.push(...page.value);
    token = page.nextLink ? (new URL(page.nextLink, location.origin).searchParams.get("continuationToken") ?? undefined) : undefined;
  } while (token);
  return out;
}

export function InstanceRows(props: { instances: Instance[]; readOnly?: string; now: Date; onChanged: () => void }) {
  return (
    <>
      {props.instances.map((i) => (
        <tr key={i.instanceId ?? i.name} data-instance={i.name}>
          <th scope="row" class="nowrap">
            <a href={`#/instances/${encodeURIComponent(i.name)}`}>{i.name}</a>
          </th>
          <td><StateBadge state={i.state} /></td>
          <td>
            {i.vmSize}
            <div class="hint">{i.vCpus} vCPU{i.gpus ? `, ${i.gpus} GPU` : ""}</div>
          </td>
          <td>{i.assignedUser}</td>
          <td class="nowrap">{jobsWords(i.jobs)}</td>
          <td class="autostop">{autoStopWords(i, props.now)[0]}</td>
          <td><InstanceActions inst={i} readOnly={props.readOnly} onChanged={props.onChanged} compact /></td>
        </tr>
      ))}
    </>
  );
}

export function InstanceTable(props: { instances: Instance[]; readOnly?: string; now: Date; onChanged: () => void }) {
  return (
    <table class="grid">
      <caption class="sr-only">Compute instances</caption>
      <thead>
        <tr>
          <th scope="col">Name</th>
          <th scope="col">State</th>
          <th scope="col">Size</th>
          <th scope="col">Assigned to</th>
          <th scope="col">Jobs</th>
          <th scope="col">Next auto-stop</th>
          <th scope="col">Actions</th>
        </tr>
      </thead>
      <tbody>
        <InstanceRows {...props} />
      </tbody>
    </table>
  );
}

export function InstanceList({ me, readOnly }: { me: Me; readOnly?: string }) {
  const list = usePoll(loadAllInstances, REFRESH_MS, "list");
  const everyone = me.roles.includes("admin") || me.roles.includes("reader");
  return (
    <section aria-labelledby="list-title">
      <div class="row between">
        <h1 id="list-title">Compute instances</h1>
        {readOnly ? (
          <button class="primary" disabled title={readOnly}>New</button>
        ) : (
          <a class="button primary" href="#/create">New</a>
        )}
      </div>
      <p class="hint">{everyone ? "Every instance of the workspace." : "Your instances."}{readOnly ? ` ${readOnly}` : ""}</p>
      {list.error !== undefined && <p class="error" role="alert">Could not refresh: {message(list.error)}</p>}
      {list.data === undefined ? (
        <p aria-busy="true">Loading…</p>
      ) : list.data.length === 0 ? (
        <p>No instances yet.{readOnly ? "" : " Create one with New."}</p>
      ) : (
        <InstanceTable instances={list.data} readOnly={readOnly} now={new Date()} onChanged={list.refresh} />
      )}
    </section>
  );
}
