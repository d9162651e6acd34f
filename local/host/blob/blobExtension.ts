// Blob triggers and blob input/output bindings against Azurite or the account of the
// binding's `connection` setting, mimicking the Blob Storage extension's polling trigger:
// - the container is scanned (every second locally; Azure scans and reads the storage logs,
//   with up to minutes of delay), and blobs already there when the host starts count as new;
// - a blob runs once per version: a receipt blob
//   `azure-webjobs-hosts/blobreceipts/<hostId>/Host.Functions.<fn>/<ETag>/<container>/<blob>`
//   is written before the run (marked Incomplete) and completed after it, so a changed blob
//   (new ETag) runs again and an unchanged one never does, across restarts;
// - a run that fails is retried, up to 5 attempts (maxDequeueCount), after which a message
//   naming the blob goes to the queue `webjobs-blobtrigger-poison`;
// - `source: "EventGrid"` needs an Event Grid subscription, which the local host cannot
//   have: such a function is refused at start-up.
// Trigger metadata: BlobTrigger ("container/name"), Uri, Properties, Metadata and the
// path's `{captures}`. Inputs and triggers get the blob's bytes; a missing input blob is null.
import type { ContainerClient } from "@azure/storage-blob";
import { resolveBindingExpression } from "../bindingExpressions";
import type { HostContext, HostExtension, InputProvider, OutputHandler } from "../extensions";
import type { RegisteredFunction, RpcBindingInfo, RpcTypedData } from "../functionsCore";
import { hostId } from "../hostId";
import { resolveSettingExpression } from "../settings";
import { blobService, queueService } from "../storageClients";
import { blobNamePattern, splitBlobPath, type BlobNamePattern } from "./blobPath";

const SCAN_INTERVAL_MS = 1000;
const MAX_ATTEMPTS = 5;
export const POISON_QUEUE = "webjobs-blobtrigger-poison";
const HOSTS_CONTAINER = "azure-webjobs-hosts";

export function blobExtension(): HostExtension {
  const watchers: BlobTriggerWatcher[] = [];

  const bindingPath = (ctx: HostContext, fn: RegisteredFunction, binding: RpcBindingInfo, trigger: Parameters<InputProvider>[4]) => {
    if (typeof binding.path !== "string" || binding.path === "") throw new Error(`Function "${fn.name}": the blob binding has no path.`);
    return splitBlobPath(resolveBindingExpression(binding.path, ctx.env, trigger), `Function "${fn.name}"`);
  };

  const read: InputProvider = async (ctx, fn, _name, binding, trigger) => {
    const { container, blob } = bindingPath(ctx, fn, binding, trigger);
    try {
      const buf = await blobService(ctx.env, binding.connection).getContainerClient(container).getBlobClient(blob).downloadToBuffer();
      return { bytes: buf };
    } catch (err) {
      if ((err as { statusCode?: number }).statusCode === 404) return {};
      throw err;
    }
  };

  const write: OutputHandler = async (ctx, fn, _name, binding, data, trigger) => {
    const { container, blob } = bindingPath(ctx, fn, binding, trigger);
    const c = blobService(ctx.env, binding.connection).getContainerClient(container);
    await c.createIfNotExists();
    const body = bytesOf(data);
    await c.getBlockBlobClient(blob).upload(body, body.length);
  };

  return {
    name: "blob",
    triggerTypes: ["blobtrigger"],
    inputProviders: { blob: read },
    outputHandlers: { blob: write },
    async start(ctx) {
      for (const fn of ctx.core.functions.values()) {
        if (fn.trigger.type.toLowerCase() !== "blobtrigger") continue;
        if (String(fn.trigger.source ?? "").toLowerCase() === "eventgrid") {
          throw new Error(`function "${fn.name}": blob triggers with source "EventGrid" need an Event Grid subscription, which the local host cannot receive; use the default (polling) source locally`);
        }
        if (typeof fn.trigger.path !== "string" || fn.trigger.path === "") throw new Error(`function "${fn.name}": the blob trigger has no path`);
        const { container, blob } = splitBlobPath(resolveSettingExpression(fn.trigger.path, ctx.env), `function "${fn.name}"`);
        const w = new BlobTriggerWatcher(ctx, fn, blobService(ctx.env, fn.trigger.connection).getContainerClient(container), blobNamePattern(blob));
        watchers.push(w);
        w.start();
        ctx.log("information", `Blob trigger ${fn.name}: watching "${container}/${blob}"`);
      }
    },
    async stop() {
      await Promise.all(watchers.map((w) => w.stop()));
    },
  };
}

function bytesOf(data: RpcTypedData): Buffer {
  if (data.bytes) return Buffer.from(data.bytes);
  if (data.stream) return Buffer.from(data.stream);
  if (typeof data.string === "string") return Buffer.from(data.string, "utf8");
  if (typeof data.json === "string") return Buffer.from(data.json, "utf8");
  if (typeof data.int === "number") return Buffer.from(String(data.int));
  if (typeof data.double === "number") return Buffer.from(String(data.double));
  throw new Error("unsupported blob output value");
}

class BlobTriggerWatcher {
  #stopped = false;
  #timer: NodeJS.Timeout | undefined;
  #scan: Promise<void> | undefined;
  readonly #receipts: ContainerClient;
  readonly #functionId: string;
  readonly #hostId: string;
  /** ETags handled (or being handled) in this process, so a scan does not re-read their receipts. */
  readonly #seen = new Map<string, string>();

  constructor(
    private readonly ctx: HostContext,
    private readonly fn: RegisteredFunction,
    private readonly container: ContainerClient,
    private readonly pattern: BlobNamePattern,
  ) {
    // Receipts live in the host's own storage (AzureWebJobsStorage), as in Azure.
    this.#receipts = blobService(ctx.env).getContainerClient(HOSTS_CONTAINER);
    this.#functionId = `Host.Functions.${fn.name}`;
    this.#hostId = hostId(ctx);
  }

  start(): void {
    const tick = () => {
      if (this.#stopped) return;
      this.#scan = this.#scanOnce()
        .catch((err: unknown) => this.ctx.log("warning", `Blob trigger ${this.fn.name}: scanning "${this.container.containerName}" failed: ${(err as Error).message}`))
        .finally(() => {
          if (!this.#stopped) this.#timer = setTimeout(tick, SCAN_INTERVAL_MS);
        });
    };
    tick();
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    clearTimeout(this.#timer);
    await Promise.race([this.#scan, new Promise((r) => setTimeout(r, 5000).unref())]);
  }

  async #scanOnce(): Promise<void> {
    if (!(await this.container.exists())) return;
    const prefix = this.pattern.source.split("{")[0];
    for await (const item of this.container.listBlobsFlat({ prefix, includeMetadata: true })) {
      if (this.#stopped) return;
      const captures = this.pattern.match(item.name);
      if (!captures) continue;
      const etag = item.properties.etag ?? "";
      if (this.#seen.get(item.name) === etag) continue;
      this.#seen.set(item.name, etag);
      await this.#process(item.name, etag, captures, item.properties as unknown as Record<string, unknown>, item.metadata ?? {});
    }
  }

  #receipt(blobName: string, etag: string) {
    const tag = etag.replace(/"/g, "");
    return this.#receipts.getBlockBlobClient(`blobreceipts/${this.#hostId}/${this.#functionId}/${tag}/${this.container.containerName}/${blobName}`);
  }

  async #process(blobName: string, etag: string, captures: Record<string, string>, properties: Record<string, unknown>, metadata: Record<string, string>): Promise<void> {
    const receipt = this.#receipt(blobName, etag);
    await this.#receipts.createIfNotExists();
    try {
      const props = await receipt.getProperties();
      if (props.metadata?.incomplete !== "true") return; // this version already ran
    } catch (err) {
      if ((err as { statusCode?: number }).statusCode !== 404) throw err;
    }
    await receipt.upload("", 0, { metadata: { incomplete: "true" } });

    const blob = this.container.getBlobClient(blobName);
    const path = `${this.container.containerName}/${blobName}`;
    let lastError: unknown;
    for (let attempt = 1; attempt <= MAX_ATTEMPTS && !this.#stopped; attempt++) {
      try {
        const content = await blob.downloadToBuffer(undefined, undefined, { conditions: { ifMatch: etag } });
        const triggerMetadata: Record<string, RpcTypedData> = {
          BlobTrigger: { string: path },
          Uri: { string: blob.url },
          Properties: { json: JSON.stringify(properties) },
          Metadata: { json: JSON.stringify(metadata) },
        };
        for (const [k, v] of Object.entries(captures)) triggerMetadata[k] = { string: v };
        await this.ctx.invoke(this.fn, { data: { bytes: content }, triggerMetadata });
        this.ctx.log("information", `Executed 'Functions.${this.fn.name}' (Succeeded, blob ${path})`);
        await receipt.upload("", 0, { metadata: {} });
        return;
      } catch (err) {
        // The blob changed while we ran: its new version gets its own receipt and run.
        if ((err as { statusCode?: number }).statusCode === 412) return void (await receipt.deleteIfExists());
        lastError = err;
        this.ctx.log("error", `Executed 'Functions.${this.fn.name}' (Failed, blob ${path}, attempt ${attempt} of ${MAX_ATTEMPTS}): ${(err as Error)?.stack ?? String(err)}`);
      }
    }
    if (this.#stopped) return; // the receipt stays Incomplete: the next start runs it again
    const poison = queueService(this.ctx.env).getQueueClient(POISON_QUEUE);
    await poison.createIfNotExists();
    const message = JSON.stringify({ Type: "BlobTrigger", FunctionId: this.#functionId, BlobType: "BlockBlob", ContainerName: this.container.containerName, BlobName: blobName, ETag: etag });
    await poison.sendMessage(Buffer.from(message, "utf8").toString("base64"));
    await receipt.upload("", 0, { metadata: {} });
    this.ctx.log("warning", `Blob trigger ${this.fn.name}: ${path} failed ${MAX_ATTEMPTS} times; a message went to "${POISON_QUEUE}" (last error: ${(lastError as Error)?.message})`);
  }
}
