// Large payloads of the task hub, kept the way the Azure Storage provider keeps them
// (Azure/durabletask, src/DurableTask.AzureStorage): a value too big for a table property or
// a queue message is gzip-compressed into a blob of the `<taskhub>-largemessages` container
// (AzureStorageOrchestrationService: `{TaskHubName.ToLowerInvariant()}-largemessages`), and
// the row keeps only the blob's name in `<Property>BlobName` (AzureTableTrackingStore).
// Thresholds, from the same source:
//   - table properties: over 60 KB of UTF-16 (MaxTablePropertySizeInBytes = 60 * 1024; the
//     Table service's limit is 64 KiB per property)
//   - messages: over 45 KB of UTF-8 (MessageManager.MaxStorageQueuePayloadSizeInBytes; a
//     queue message holds 64 KiB). Our messages are table rows, so both limits apply.
// Blob names start with the instance id, as the provider's do, so a purge removes them by prefix.
import { createHash } from "node:crypto";
import { promisify } from "node:util";
import { gunzip, gzip } from "node:zlib";
import { BlobServiceClient, type ContainerClient } from "@azure/storage-blob";

const gzipAsync = promisify(gzip);
const gunzipAsync = promisify(gunzip);

/** Azure Table service limits (learn.microsoft.com: "Understanding the Table service data model", "Performing entity group transactions"). */
export const TABLE_LIMITS = {
  propertyBytes: 64 * 1024,
  entityBytes: 1024 * 1024,
  batchBytes: 4 * 1024 * 1024,
  batchOps: 100,
};
/** DurableTask.AzureStorage: AzureTableTrackingStore.MaxTablePropertySizeInBytes (UTF-16 bytes). */
export const INLINE_PROPERTY_MAX = 60 * 1024;
/** DurableTask.AzureStorage: MessageManager.MaxStorageQueuePayloadSizeInBytes (UTF-8 bytes). */
export const INLINE_MESSAGE_MAX = 45 * 1024;

/** Storage size of a string property: Azure Tables count UTF-16. */
export const utf16Bytes = (s: string): number => s.length * 2;

export const fitsInProperty = (s: string): boolean => utf16Bytes(s) <= INLINE_PROPERTY_MAX;
export const fitsInMessage = (s: string): boolean => fitsInProperty(s) && Buffer.byteLength(s, "utf8") <= INLINE_MESSAGE_MAX;

/**
 * Azure refuses a custom status over 16 KB of UTF-16 JSON: the extension's SetCustomStatus
 * (MaxCustomStatusPayloadSizeInKB = 16, MessagePayloadDataConverter.Serialize) throws, and the
 * out-of-process shim calls it with the status the JS orchestrator returns, so the
 * orchestration fails with this message.
 */
export function customStatusSizeError(json: string): string | undefined {
  const kb = Math.floor(utf16Bytes(json) / 1024);
  return kb > 16 ? `The UTF-16 size of the JSON-serialized payload must not exceed 16 KB. The current payload size is ${kb} KB.` : undefined;
}

/** A write the task hub refuses whatever we retry: it fails the orchestration instead. */
export class PersistLimitError extends Error {
  override readonly name = "PersistLimitError";
}

/** Container of a hub's large payloads; container names are 3-63 lowercase letters, digits and hyphens. */
export function largeMessagesContainer(hubName: string): string {
  const base = hubName.toLowerCase().replace(/[^a-z0-9]/g, "").slice(0, 63 - "-largemessages".length) || "hub";
  return `${base}-largemessages`;
}

/** The blob service of a storage connection string, or undefined when it names none. */
function blobService(connectionString: string): BlobServiceClient | undefined {
  const parts = new Map(
    connectionString
      .split(";")
      .filter(Boolean)
      .map((p) => {
        const at = p.indexOf("=");
        return [p.slice(0, at).toLowerCase(), p.slice(at + 1)] as const;
      }),
  );
  const development = parts.get("usedevelopmentstorage") === "true";
  if (!development && !parts.has("blobendpoint") && !parts.has("accountname")) return undefined;
  if (!development && !parts.has("blobendpoint") && parts.has("tableendpoint")) return undefined;
  return BlobServiceClient.fromConnectionString(connectionString, { retryOptions: { maxTries: 3 } });
}

export class PayloadStore {
  private readonly container?: ContainerClient;
  private containerReady?: Promise<unknown>;
  /** Blobs this process wrote or read: content-addressed names need no second upload. */
  private readonly known = new Set<string>();
  /** Requests sent to blob storage (the benchmark counts them with the table's). */
  roundTrips = 0;

  /** `connection`: a connection string, or the blob service of any storage connection (identity-based too). */
  constructor(connection: string | BlobServiceClient, readonly containerName: string) {
    this.container = (typeof connection === "string" ? blobService(connection) : connection)?.getContainerClient(containerName);
  }

  /** Blob name for a value: the instance id first (purge by prefix), then what it is, then a content hash. */
  static nameFor(instanceId: string, what: string, text: string): string {
    const hash = createHash("sha256").update(text).digest("hex").slice(0, 32);
    return `${instanceId}/${what}-${hash}.json.gz`;
  }

  private client(what: string): ContainerClient {
    if (!this.container) {
      throw new PersistLimitError(
        `${what} is larger than a table property holds (60 KB) and must go to blob storage, but the AzureWebJobsStorage connection string names no blob endpoint`,
      );
    }
    return this.container;
  }

  private ensureContainer(c: ContainerClient): Promise<unknown> {
    this.containerReady ??= (this.roundTrips++, c.createIfNotExists()).catch((err) => {
      this.containerReady = undefined;
      throw err;
    });
    return this.containerReady;
  }

  /** Compresses and uploads `text` (once per name); returns the blob name. `property` names it in errors. */
  async put(instanceId: string, what: string, text: string, property: string): Promise<string> {
    const c = this.client(`The ${property} of '${instanceId}' (${utf16Bytes(text)} bytes of UTF-16)`);
    const name = PayloadStore.nameFor(instanceId, what, text);
    if (this.known.has(name)) return name;
    await this.ensureContainer(c);
    const data = await gzipAsync(Buffer.from(text, "utf8"));
    this.roundTrips++;
    await c.getBlockBlobClient(name).uploadData(data, { blobHTTPHeaders: { blobContentType: "application/json", blobContentEncoding: "gzip" } });
    this.remember(name);
    return name;
  }

  private remember(name: string): void {
    if (this.known.size >= 10_000) this.known.clear(); // bounded: forgetting costs one upload
    this.known.add(name);
  }

  async get(name: string): Promise<string> {
    const c = this.client(`The payload ${name}`);
    this.roundTrips++;
    const data = await c.getBlockBlobClient(name).downloadToBuffer();
    this.remember(name);
    return (await gunzipAsync(data)).toString("utf8");
  }

  /** Deletes blobs no longer referenced (best effort: a leftover blob is only garbage). */
  async delete(names: Iterable<string>): Promise<void> {
    if (!this.container) return;
    for (const name of names) {
      this.known.delete(name);
      this.roundTrips++;
      await this.container.getBlockBlobClient(name).deleteIfExists();
    }
  }

  /** Deletes every blob of an instance (purge). */
  async deleteInstance(instanceId: string): Promise<void> {
    if (!this.container) return;
    this.roundTrips++;
    if (!(await this.container.exists())) return;
    const names: string[] = [];
    for await (const b of this.container.listBlobsFlat({ prefix: `${instanceId}/` })) names.push(b.name);
    await this.delete(names);
  }
}
