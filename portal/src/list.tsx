// The instances list: what the caller may see (users: their own; admins and readers: everyone),
// refreshed every few seconds in place.
import { api, message, unwrap } from "./api";
import type { Me } from "./auth";
import { ActionButtons, StateBadge, useConfirmedAction, type InstanceAction } from "./components";
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

type TableProps = { instances: Instance[]; readOnly?: string; now: Date; onAsk: (inst: Instance, a: InstanceAction) => void };

export function InstanceRows(props: TableProps) {
  return (
    <>
      {props.instances.map((i) => (
        <div role="row" class="tr" key={i.instanceId ?? i.name} data-instance={i.name}>
          <div role="rowheader" class="td nowrap">
            <a href={`#/instances/${encodeURIComponent(i.name)}`}>{i.name}</a>
          </div>
          <div role="cell" class="td"><StateBadge state={i.state} /></div>
          <div role="cell" class="td">
            {i.vmSize}
            <div class="hint">{i.vCpus} vCPU{i.gpus ? `, ${i.gpus} GPU` : ""}</div>
          </div>
          <div role="cell" class="td">{i.assignedUser}</div>
          <div role="cell" class="td nowrap">{jobsWords(i.jobs)}</div>
          <div role="cell" class="td">{autoStopWords(i, props.now)[0]}</div>
          <div role="cell" class="td"><ActionButtons inst={i} readOnly={props.readOnly} onAsk={(a) => props.onAsk(i, a)} compact /></div>
        </div>
      ))}
    </>
  );
}

/**
 * A table in ARIA roles over CSS grid rows rather than <table>: rows off screen skip layout
 * (content-visibility), which table rows cannot, so a list of hundreds appears at once.
 */
export function InstanceTable(props: TableProps) {
  return (
    <div role="table" class="grid instances" aria-label="Compute instances" aria-rowcount={props.instances.length + 1}>
      <div role="rowgroup">
        <div role="row" class="tr th-row">
          <div role="columnheader" class="td">Name</div>
          <div role="columnheader" class="td">State</div>
          <div role="columnheader" class="td">Size</div>
          <div role="columnheader" class="td">Assigned to</div>
          <div role="columnheader" class="td">Jobs</div>
          <div role="columnheader" class="td">Next auto-stop</div>
          <div role="columnheader" class="td">Actions</div>
        </div>
      </div>
      <div role="rowgroup">
        <InstanceRows {...props} />
      </div>
    </div>
  );
}

export function InstanceList({ me, readOnly }: { me: Me; readOnly?: string }) {
  const list = usePoll(loadAllInstances, REFRESH_MS, "list");
  const everyone = me.roles.includes("admin") || me.roles.includes("reader");
  const confirmed = useConfirmedAction(list.refresh);
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
      {confirmed.view}
      {list.data === undefined ? (
        <p aria-busy="true">Loading…</p>
      ) : list.data.length === 0 ? (
        <p>No instances yet.{readOnly ? "" : " Create one with New."}</p>
      ) : (
        <InstanceTable instances={list.data} readOnly={readOnly} now={new Date()} onAsk={confirmed.ask} />
      )}
    </section>
  );
}
