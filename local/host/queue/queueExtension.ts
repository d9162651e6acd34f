// Storage-queue triggers and `queue` output bindings against Azurite (or any storage account
// named by the binding's `connection` setting), mimicking the Storage Queues extension:
// batches of `batchSize`, a new batch once in-flight work drops to `newBatchThreshold`,
// polling that backs off to `maxPollingInterval`, a failed message made visible again after
// `visibilityTimeout`, and a move to `<queue>-poison` after `maxDequeueCount` attempts.
import type { DequeuedMessageItem, QueueClient } from "@azure/storage-queue";
import type { HostContext, HostExtension, OutputHandler } from "../extensions";
import type { RegisteredFunction, RpcBindingInfo, RpcTypedData } from "../functionsCore";
import { resolveSettingExpression } from "../settings";
import { queueService } from "../storageClients";
import { decodeMessage, encodeMessage, queueSettings, type QueueSettings } from "./queueSettings";

/** While a message is being processed it stays invisible this long (the real host renews; we do not). */
const LEASE_SECONDS = 600;
const MIN_POLL_MS = 100;

export function queueExtension(): HostExtension {
  const listeners: QueueListener[] = [];
  const created = new Map<QueueClient, Promise<unknown>>();
  const ensureQueue = (q: QueueClient): Promise<unknown> => {
    let p = created.get(q);
    if (!p) created.set(q, (p = q.createIfNotExists().catch((err: unknown) => (created.delete(q), Promise.reject(err)))));
    return p;
  };
  const clientFor = (ctx: HostContext, binding: RpcBindingInfo, fnName: string): QueueClient => {
    if (typeof binding.queueName !== "string" || binding.queueName === "") {
      throw new Error(`Function "${fnName}": the queue binding has no queueName.`);
    }
    const name = resolveSettingExpression(binding.queueName, ctx.env).toLowerCase();
    return queueService(ctx.env, binding.connection).getQueueClient(name);
  };

  const deliver: OutputHandler = async (ctx, fn, _name, binding, data) => {
    const settings = queueSettings(ctx.hostJson);
    const client = clientFor(ctx, binding, fn.name);
    await ensureQueue(client);
    for (const text of messagesOf(data)) await client.sendMessage(encodeMessage(text, settings.messageEncoding));
    // The real host notifies its own listener of a queue it just wrote to, so the message is
    // picked up at once instead of after the listener's backed-off polling interval.
    for (const l of listeners) if (l.queueUrl === client.url) l.poke();
  };

  return {
    name: "queue",
    triggerTypes: ["queuetrigger"],
    outputHandlers: { queue: deliver },
    async start(ctx) {
      const settings = queueSettings(ctx.hostJson);
      for (const fn of ctx.core.functions.values()) {
        if (fn.trigger.type.toLowerCase() !== "queuetrigger") continue;
        const queue = clientFor(ctx, fn.trigger, fn.name);
        const poison = queueService(ctx.env, fn.trigger.connection).getQueueClient(`${queue.name}-poison`);
        await ensureQueue(queue);
        const l = new QueueListener(ctx, fn, settings, queue, poison, ensureQueue);
        listeners.push(l);
        l.start();
        ctx.log("information", `Queue trigger ${fn.name}: listening on "${queue.name}"`);
      }
    },
    async stop() {
      await Promise.all(listeners.map((l) => l.stop()));
    },
  };
}

/** The messages an output value stands for: an array is one message per element, as in the real host. */
export function messagesOf(data: RpcTypedData): string[] {
  if (typeof data.string === "string") return [data.string];
  if (typeof data.json === "string") {
    const v = JSON.parse(data.json) as unknown;
    const one = (x: unknown) => (typeof x === "string" ? x : JSON.stringify(x));
    return Array.isArray(v) ? v.map(one) : [data.json];
  }
  if (data.bytes) return [Buffer.from(data.bytes).toString("utf8")];
  if (typeof data.int === "number") return [String(data.int)];
  if (typeof data.double === "number") return [String(data.double)];
  if (data.collectionString?.string) return data.collectionString.string;
  if (data.collectionBytes?.bytes) return data.collectionBytes.bytes.map((b) => Buffer.from(b).toString("utf8"));
  throw new Error("unsupported queue output value");
}

class QueueListener {
  #inFlight = 0;
  #stopped = false;
  #poked = false;
  #wake: (() => void) | undefined;
  #loop: Promise<void> | undefined;
  readonly #active = new Set<Promise<void>>();

  constructor(
    private readonly ctx: HostContext,
    private readonly fn: RegisteredFunction,
    private readonly settings: QueueSettings,
    private readonly queue: QueueClient,
    private readonly poison: QueueClient,
    private readonly ensureQueue: (q: QueueClient) => Promise<unknown>,
  ) {}

  start(): void {
    this.#loop = this.#run();
  }

  get queueUrl(): string {
    return this.queue.url;
  }

  /** A message was just written to this queue by the host: poll now, from the shortest interval. */
  poke(): void {
    this.#poked = true;
    this.#wake?.();
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    this.#wake?.();
    await this.#loop;
    // In-flight messages get a moment; after that they are abandoned and reappear when their lease ends.
    await Promise.race([Promise.all(this.#active), new Promise((r) => setTimeout(r, 5000).unref())]);
  }

  async #run(): Promise<void> {
    let delay = MIN_POLL_MS;
    let atMax = false;
    while (!this.#stopped) {
      if (this.#inFlight > this.settings.newBatchThreshold) {
        await this.#sleep(Infinity);
        continue;
      }
      let messages: DequeuedMessageItem[] = [];
      try {
        const res = await this.queue.receiveMessages({
          numberOfMessages: this.settings.batchSize,
          visibilityTimeout: LEASE_SECONDS,
        });
        messages = res.receivedMessageItems;
      } catch (err) {
        this.ctx.log("warning", `Queue trigger ${this.fn.name}: polling "${this.queue.name}" failed: ${(err as Error).message}`);
      }
      if (messages.length === 0) {
        if (this.#poked) {
          // Written to while this poll was on its way: look again straight away.
          this.#poked = false;
          delay = MIN_POLL_MS;
          continue;
        }
        if (delay === this.settings.maxPollingIntervalMs && !atMax) {
          atMax = true;
          this.ctx.log("debug", `Queue trigger ${this.fn.name}: "${this.queue.name}" is empty; polling every ${delay} ms (maxPollingInterval)`);
        }
        await this.#sleep(delay);
        if (this.#poked) atMax = false;
        delay = this.#poked ? MIN_POLL_MS : Math.min(this.settings.maxPollingIntervalMs, delay * 2);
        this.#poked = false;
        continue;
      }
      delay = MIN_POLL_MS;
      atMax = false;
      this.#poked = false;
      for (const m of messages) {
        this.#inFlight++;
        const p = this.#process(m).finally(() => {
          this.#inFlight--;
          this.#active.delete(p);
          this.#wake?.();
        });
        this.#active.add(p);
      }
    }
  }

  /** Sleeps up to `ms`, or until a message finishes or the listener stops. */
  #sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const t = Number.isFinite(ms) ? setTimeout(done, ms) : undefined;
      const self = this;
      function done() {
        clearTimeout(t);
        if (self.#wake === done) self.#wake = undefined;
        resolve();
      }
      this.#wake = done;
    });
  }

  async #process(m: DequeuedMessageItem): Promise<void> {
    const max = this.settings.maxDequeueCount;
    // A message seen more often than allowed (e.g. the host died while running it) goes straight to poison.
    if (m.dequeueCount > max) return this.#toPoison(m, "it exceeded the dequeue count before processing");
    try {
      const text = decodeMessage(m.messageText, this.settings.messageEncoding);
      await this.ctx.invoke(this.fn, {
        data: { string: text },
        triggerMetadata: {
          QueueTrigger: { string: text },
          DequeueCount: { json: String(m.dequeueCount) },
          Id: { string: m.messageId },
          InsertionTime: { string: m.insertedOn.toISOString() },
          ExpirationTime: { string: m.expiresOn.toISOString() },
          NextVisibleTime: { string: m.nextVisibleOn.toISOString() },
          PopReceipt: { string: m.popReceipt },
        },
      });
    } catch (err) {
      this.ctx.log(
        "error",
        `Executed 'Functions.${this.fn.name}' (Failed, message ${m.messageId}, dequeueCount ${m.dequeueCount}): ${(err as Error)?.stack ?? String(err)}`,
      );
      if (m.dequeueCount >= max) return this.#toPoison(m, `it failed ${m.dequeueCount} times`);
      try {
        await this.queue.updateMessage(m.messageId, m.popReceipt, undefined, Math.round(this.settings.visibilityTimeoutMs / 1000));
      } catch (e) {
        this.ctx.log("warning", `Queue trigger ${this.fn.name}: could not release message ${m.messageId}: ${(e as Error).message}`);
      }
      return;
    }
    try {
      await this.queue.deleteMessage(m.messageId, m.popReceipt);
    } catch (e) {
      // Lease lost (e.g. it ran longer than the lease): the message will run again, which the app must tolerate.
      this.ctx.log("warning", `Queue trigger ${this.fn.name}: could not delete message ${m.messageId}: ${(e as Error).message}`);
    }
  }

  async #toPoison(m: DequeuedMessageItem, why: string): Promise<void> {
    try {
      await this.ensureQueue(this.poison);
      await this.poison.sendMessage(m.messageText);
      await this.queue.deleteMessage(m.messageId, m.popReceipt);
      this.ctx.log("warning", `Queue trigger ${this.fn.name}: moved message ${m.messageId} to "${this.poison.name}" because ${why}.`);
    } catch (e) {
      this.ctx.log("error", `Queue trigger ${this.fn.name}: could not move message ${m.messageId} to poison: ${(e as Error).message}`);
    }
  }
}
