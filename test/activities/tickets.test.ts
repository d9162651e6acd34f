// The application tickets' store against Azurite: a ticket is taken once; tickets nobody
// redeemed do not pile up, because each issue deletes expired ones, whichever instance they
// were for (a page at a time, so one click does bounded work).
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { connectionStringStorage } from "../../shared/azure/storageConnection";
import { createStorageClients, type StorageClients } from "../../shared/azure/clients";
import { createTicketStore, newTicket, TICKET_PRUNE_PAGE, TICKETS_TABLE, type TicketRecord } from "../../shared/instances/applications";
import { startTestAzurite, type AzuriteProcess } from "../support/azurite";
import { testAzureConfig } from "./support";

let azurite: AzuriteProcess;
let storage: StorageClients;
beforeAll(async () => {
  azurite = await startTestAzurite();
  storage = createStorageClients({ ...testAzureConfig(), storage: connectionStringStorage(azurite.connectionString) });
});
afterAll(() => azurite?.stop());

const T0 = Date.parse("2026-12-01T10:00:00.000Z");
const at = (s: number) => new Date(T0 + s * 1000);
const ticket = (instance: string, expiresAt: Date): TicketRecord => ({ instance, application: "terminal", user: "alice", expiresAt: expiresAt.toISOString() });

/** Tickets stored for an instance, as the table holds them. */
async function stored(instance: string): Promise<number> {
  let n = 0;
  for await (const e of storage.table(TICKETS_TABLE).listEntities<{ instance?: string }>()) if (e.instance === instance) n++;
  return n;
}

describe("application tickets", () => {
  it("a ticket is taken once", async () => {
    const store = createTicketStore(storage);
    const t = newTicket();
    await store.put(t, ticket("once-a", at(60)), at(0));
    expect(await store.take("once-a", t)).toMatchObject({ instance: "once-a", user: "alice" });
    expect(await store.take("once-a", t)).toBeUndefined();
    expect(await stored("once-a")).toBe(0);
  });

  it("issuing a ticket deletes the expired ones, of any instance (one deleted since too), and only those", async () => {
    const store = createTicketStore(storage);
    // Issued at t = 0, valid for a minute, never redeemed; gone-b's instance is deleted since.
    await store.put(newTicket(), ticket("prune-a", at(60)), at(0));
    await store.put(newTicket(), ticket("gone-b", at(60)), at(0));
    expect([await stored("prune-a"), await stored("gone-b")]).toEqual([1, 1]);
    // At t = 60 s, a ticket for another instance: both had just expired.
    await store.put(newTicket(), ticket("prune-c", at(120)), at(60));
    expect([await stored("prune-a"), await stored("gone-b"), await stored("prune-c")]).toEqual([0, 0, 1]);
    // A still-valid ticket survives an issue and can be redeemed.
    const live = newTicket();
    await store.put(live, ticket("prune-a", at(200)), at(90));
    expect([await stored("prune-a"), await stored("prune-c")]).toEqual([1, 1]);
    expect(await store.take("prune-a", live)).toBeDefined();
  });

  it("an issue removes at most a page of expired tickets; the next issues remove the rest", async () => {
    const store = createTicketStore(storage);
    while ((await store.pruneExpired(at(86_400))) > 0); // what the tests above left
    const extra = 20;
    for (let i = 0; i < TICKET_PRUNE_PAGE + extra; i++) await store.put(newTicket(), ticket("burst-a", at(60)), at(0));
    expect(await store.pruneExpired(at(61))).toBe(TICKET_PRUNE_PAGE);
    expect(await stored("burst-a")).toBe(extra);
    await store.put(newTicket(), ticket("burst-a", at(200)), at(140));
    expect(await stored("burst-a")).toBe(1);
  }, 60_000);
});
