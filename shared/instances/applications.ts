// The workstation's applications as the API shows them, and the single-use tickets that open
// them. A ticket is issued only to the instance's assigned user, for one application, lives a
// minute, and is redeemed once by that instance's agent (which exchanges it for a session
// cookie). Only the ticket's hash is stored. A redeemed ticket is deleted when taken; one never
// redeemed is deleted by the next issue of any ticket (pruneExpired), whichever instance it is
// for, so one of an instance deleted since goes too, and the table holds little more than the
// last minute's tickets.
import { createHash, randomBytes } from "node:crypto";
import { odata } from "@azure/data-tables";
import type { StorageClients } from "../azure/clients";
import { statusOf } from "../azure/errors";
import { instanceKey } from "../ids";
import { RecordTable, tableKey } from "../store/recordTable";
import { APPLICATION_NAMES, type ApplicationName } from "./agentSignals";
import type { InstanceRecord } from "./record";

export const TICKETS_TABLE = "apptickets";
export const TICKET_TTL_SECONDS = 60;

export const APPLICATION_TITLES: Record<ApplicationName, string> = { terminal: "Terminal", jupyter: "Jupyter", jupyterlab: "JupyterLab", vscode: "VS Code" };

export type ApplicationView = {
  name: ApplicationName;
  title: string;
  state: "Available" | "NotInstalled" | "Unavailable";
  /** The application on the VM's proxy; opening it needs a session (POST .../applications/{app}/sessions). */
  url?: string;
  message?: string;
};

const RUNNING = new Set(["Running", "JobRunning"]);

/** Each application with its state, from the agent's last report. */
export function applicationViews(rec: Pick<InstanceRecord, "state" | "agentApps">): ApplicationView[] {
  return APPLICATION_NAMES.map((name) => {
    const title = APPLICATION_TITLES[name];
    if (!RUNNING.has(rec.state)) return { name, title, state: "Unavailable", message: `The instance is ${rec.state}.` };
    const reported = rec.agentApps?.applications.find((a) => a.name === name);
    const proxy = rec.agentApps?.proxyUrl;
    if (!reported || !proxy) return { name, title, state: "Unavailable", message: "The instance's agent has not reported its applications yet." };
    if (reported.state === "NotInstalled") return { name, title, state: "NotInstalled", message: reported.message ?? `${title} is not installed on this machine.` };
    return { name, title, state: "Available", url: `${proxy}/${name}/` };
  });
}

export type TicketRecord = { instance: string; instanceId?: string; application: ApplicationName; user: string; expiresAt: string };

export const hashTicket = (ticket: string) => createHash("sha256").update(ticket).digest("hex");

export function newTicket(): string {
  return randomBytes(32).toString("base64url");
}

/** Expired tickets removed per issue: bounds the work one click does (the rest go on the next). */
export const TICKET_PRUNE_PAGE = 100;

export type TicketStore = {
  /** Stores a new ticket, first removing expired ones. */
  put(ticket: string, record: TicketRecord, now?: Date): Promise<void>;
  /** Takes the ticket (deletes it) and answers its record; undefined if it was never issued or is already taken. */
  take(instance: string, ticket: string): Promise<TicketRecord | undefined>;
  /** Deletes up to TICKET_PRUNE_PAGE tickets (of any instance) that expired by `now`; answers how many. */
  pruneExpired(now: Date): Promise<number>;
};

export function createTicketStore(storage: StorageClients): TicketStore {
  const table = new RecordTable<TicketRecord>(storage.table(TICKETS_TABLE), "ticket");
  const pk = (instance: string) => tableKey(instanceKey(instance), "instance");
  const store: TicketStore = {
    async put(ticket, record, now = new Date()) {
      await store.pruneExpired(now);
      await table.create(pk(record.instance), hashTicket(ticket), record);
    },
    async pruneExpired(now) {
      // expiresAt is an ISO time in one format, so the table compares it as a string, server-side.
      // Not a key: a scan, but of a table this pruning keeps to about a minute's tickets.
      const filter = odata`expiresAt le ${now.toISOString()}`;
      const expired: { partitionKey: string; rowKey: string; etag: string }[] = [];
      try {
        const pages = table.client.listEntities({ queryOptions: { filter, select: ["PartitionKey", "RowKey"] } }).byPage({ maxPageSize: TICKET_PRUNE_PAGE });
        const first = await pages.next();
        for (const e of first.done ? [] : first.value) expired.push({ partitionKey: e.partitionKey!, rowKey: e.rowKey!, etag: e.etag });
      } catch (err) {
        if (statusOf(err) === 404) return 0; // no ticket was ever issued: no table yet
        throw err;
      }
      let removed = 0;
      for (const t of expired) {
        // With the ETag; one redeemed (taken) meanwhile is simply gone.
        if (await table.delete(t.partitionKey, t.rowKey, t.etag).catch(() => false)) removed++;
      }
      return removed;
    },
    async take(instance, ticket) {
      const got = await table.get(pk(instance), hashTicket(ticket));
      if (!got) return undefined;
      // Conditional delete: of two redeemers racing with one ticket, exactly one deletes it.
      try {
        return (await table.delete(pk(instance), hashTicket(ticket), got.etag)) ? got.record : undefined;
      } catch {
        return undefined;
      }
    },
  };
  return store;
}
