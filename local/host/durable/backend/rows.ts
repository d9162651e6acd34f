// How the task hub's records become Table rows and back: the instance row, history chunks and
// message rows, values too large for a property moved to blobs (payloads.ts), and the Table
// service's size limits, which Azure enforces and Azurite does not.
import type { TableEntity } from "@azure/data-tables";
import { fitsInMessage, fitsInProperty, PersistLimitError, TABLE_LIMITS, utf16Bytes, type PayloadStore } from "./payloads";
import type { FailureDetails, HistoryEvent, InstanceMessage, Leaf, ParentRef, RuntimeStatus } from "../types";
import type { Chunk, InstanceRow, StoredMessage } from "./records";

export type Entity = TableEntity<Record<string, unknown>>;

export const pad = (n: number, w: number) => String(n).padStart(w, "0");

export function chunkRowPrefix(exec: string): string {
  return `H${exec}_`;
}

/** Reads a text property; rows of older versions split long texts over `<name>_<i>` properties. */
function getText(e: Record<string, unknown>, name: string): string | undefined {
  const first = e[name];
  if (typeof first !== "string") return undefined;
  const n = typeof e[`${name}_n`] === "number" ? (e[`${name}_n`] as number) : 1;
  let s = first;
  for (let i = 1; i < n; i++) s += String(e[`${name}_${i}`] ?? "");
  return s;
}

/** Blobs a row references (its `<Property>BlobName` values). */
function blobNames(e: Record<string, unknown>): Set<string> {
  return new Set(Object.entries(e).flatMap(([k, v]) => (k.endsWith("BlobName") && typeof v === "string" ? [v] : [])));
}

/** Approximate stored size of an entity, counted as the Table service does (UTF-16 strings). */
export function entityBytes(e: Record<string, unknown>): number {
  let n = 4;
  for (const [k, v] of Object.entries(e)) {
    if (k === "etag") continue;
    n += 8 + utf16Bytes(k) + (typeof v === "string" ? 4 + utf16Bytes(v) : 8);
  }
  return n;
}

/**
 * Refuses, as Azure would, a write over the Table limits (property 64 KiB, entity 1 MiB,
 * transaction 4 MiB and 100 operations): Azurite is more lenient, and nothing we retry
 * would make such a write succeed.
 */
export function checkTableLimits(entities: Record<string, unknown>[]): void {
  if (entities.length > TABLE_LIMITS.batchOps) throw new PersistLimitError(`a transaction of ${entities.length} operations is over the Table limit of ${TABLE_LIMITS.batchOps}`);
  let total = 0;
  for (const e of entities) {
    for (const [k, v] of Object.entries(e)) {
      if (typeof v === "string" && utf16Bytes(v) > TABLE_LIMITS.propertyBytes) {
        throw new PersistLimitError(`property ${k} of row ${String(e.rowKey)} is ${utf16Bytes(v)} bytes, over the Table limit of 64 KiB`);
      }
    }
    const size = entityBytes(e);
    if (size > TABLE_LIMITS.entityBytes) throw new PersistLimitError(`row ${String(e.rowKey)} is ${size} bytes, over the Table limit of 1 MiB`);
    total += size;
  }
  if (total > TABLE_LIMITS.batchBytes) throw new PersistLimitError(`a transaction of ${total} bytes is over the Table limit of 4 MiB`);
}

/** Encodes and decodes rows, and remembers which blobs the stored rows reference so replaced ones are deleted. */
export class RowCodec {
  /** Blobs the stored instance row references, per instance: replaced ones are deleted. */
  private readonly rowBlobs = new Map<string, Set<string>>();
  /** Blobs of stored messages, by row key: deleted with the message. */
  private readonly messageBlobs = new Map<string, string>();

  constructor(private readonly payloads: PayloadStore) {}

  /** Sets `name` inline when it fits a property, else stores it in a blob and sets `<name>BlobName`. */
  private async putLarge(e: Record<string, unknown>, instanceId: string, name: string, what: string, text: string | undefined, fits = fitsInProperty): Promise<void> {
    if (text === undefined) return;
    if (fits(text)) e[name] = text;
    else e[`${name}BlobName`] = await this.payloads.put(instanceId, what, text, name === "Data" ? "history or message" : name);
  }

  async getLarge(e: Record<string, unknown>, name: string): Promise<string | undefined> {
    const blob = e[`${name}BlobName`];
    return typeof blob === "string" ? this.payloads.get(blob) : getText(e, name);
  }

  async messageEntity(instanceId: string, m: StoredMessage): Promise<Entity> {
    const e: Record<string, unknown> = { partitionKey: instanceId, rowKey: m.rowKey };
    await this.putLarge(e, instanceId, "Data", `message-${m.rowKey}`, JSON.stringify(m.msg), fitsInMessage);
    if (typeof e.DataBlobName === "string") this.messageBlobs.set(m.rowKey, e.DataBlobName);
    return e as Entity;
  }

  /** A message row read back: its blob (if any) is deleted with it later. */
  async messageFromEntity(key: string, e: Record<string, unknown>): Promise<StoredMessage> {
    if (typeof e.DataBlobName === "string") this.messageBlobs.set(key, e.DataBlobName);
    return { rowKey: key, msg: JSON.parse((await this.getLarge(e, "Data")) ?? "null") as InstanceMessage };
  }

  /** After a row write: forget and delete the blobs its previous version referenced. */
  replaceRowBlobs(e: Record<string, unknown>): void {
    const instanceId = String(e.partitionKey);
    const now = blobNames(e);
    const before = this.rowBlobs.get(instanceId);
    if (now.size) this.rowBlobs.set(instanceId, now);
    else this.rowBlobs.delete(instanceId);
    const gone = before ? [...before].filter((n) => !now.has(n)) : [];
    if (gone.length) void this.payloads.delete(gone).catch(() => undefined);
  }

  forgetInstance(instanceId: string): void {
    this.rowBlobs.delete(instanceId);
  }

  forgetMessageBlobs(keys: string[]): void {
    const gone = keys.flatMap((k) => {
      const n = this.messageBlobs.get(k);
      this.messageBlobs.delete(k);
      return n ? [n] : [];
    });
    if (gone.length) void this.payloads.delete(gone).catch(() => undefined);
  }

  async instanceEntity(r: InstanceRow): Promise<Entity> {
    const e: Record<string, unknown> = {
      partitionKey: r.instanceId,
      rowKey: "I",
      Name: r.name,
      Status: r.status,
      Exec: r.exec,
      CreatedTime: r.createdTime,
      LastUpdatedTime: r.lastUpdatedTime,
      Chunks: r.chunks,
    };
    const id = r.instanceId;
    await this.putLarge(e, id, "Input", `${r.exec}-Input`, r.input);
    await this.putLarge(e, id, "Output", `${r.exec}-Output`, r.output);
    await this.putLarge(e, id, "CustomStatus", `${r.exec}-CustomStatus`, r.customStatus);
    if (r.failure) await this.putLarge(e, id, "Failure", `${r.exec}-Failure`, JSON.stringify(r.failure));
    if (r.parent) e.Parent = JSON.stringify(r.parent);
    if (r.version !== undefined) e.Version = r.version;
    return e as Entity;
  }

  async rowFromEntity(e: Record<string, unknown>): Promise<InstanceRow> {
    const failure = await this.getLarge(e, "Failure");
    const names = blobNames(e);
    if (names.size) this.rowBlobs.set(String(e.partitionKey), names);
    return {
      instanceId: String(e.partitionKey),
      name: String(e.Name),
      status: String(e.Status) as RuntimeStatus,
      exec: String(e.Exec),
      createdTime: String(e.CreatedTime),
      lastUpdatedTime: String(e.LastUpdatedTime),
      input: await this.getLarge(e, "Input"),
      output: await this.getLarge(e, "Output"),
      customStatus: await this.getLarge(e, "CustomStatus"),
      failure: failure ? (JSON.parse(failure) as FailureDetails) : undefined,
      parent: typeof e.Parent === "string" ? (JSON.parse(e.Parent) as ParentRef) : undefined,
      ...(typeof e.Version === "string" ? { version: e.Version } : {}),
      chunks: Number(e.Chunks ?? 0),
    };
  }

  /** One row per history chunk; a chunk over 60 KB goes to a blob (the provider does so per history property). */
  async chunkEntity(instanceId: string, c: Chunk): Promise<Entity> {
    const text = JSON.stringify({ e: c.events, l: c.leafPatch, n: c.nextId });
    const e: Record<string, unknown> = { partitionKey: instanceId, rowKey: `${chunkRowPrefix(c.exec)}${pad(c.seq, 7)}_000` };
    await this.putLarge(e, instanceId, "Data", `history-${c.exec}-${c.seq}`, text);
    return e as Entity;
  }

  /** The history chunks of the current execution, from their rows' text parts by episode. */
  chunksOf(exec: string, parts: Map<number, string[]>): Chunk[] {
    return [...parts.entries()]
      .sort((a, b) => a[0] - b[0])
      .map(([seq, list]) => {
        const d = JSON.parse(list.join("")) as { e: HistoryEvent[]; l: [number, Leaf][]; n: number };
        return { exec, seq, events: d.e, leafPatch: d.l, nextId: d.n };
      });
  }
}
