// host.json `extensions.queues`, with the Storage Queues extension's defaults.
import { timeSpanToMs, type HostJson } from "../settings";

export type QueueSettings = {
  batchSize: number;
  newBatchThreshold: number;
  maxPollingIntervalMs: number;
  /** How long a failed message stays invisible before its next attempt. */
  visibilityTimeoutMs: number;
  maxDequeueCount: number;
  messageEncoding: "base64" | "none";
};

export function queueSettings(hostJson: HostJson): QueueSettings {
  const q = hostJson.extensions?.queues ?? {};
  const batchSize = q.batchSize ?? 16;
  if (!Number.isInteger(batchSize) || batchSize < 1 || batchSize > 32) {
    throw new Error(`host.json extensions.queues.batchSize must be an integer 1..32 (got ${batchSize})`);
  }
  const encoding = (q.messageEncoding ?? "base64").toLowerCase();
  if (encoding !== "base64" && encoding !== "none") {
    throw new Error(`host.json extensions.queues.messageEncoding must be "base64" or "none" (got "${q.messageEncoding}")`);
  }
  return {
    batchSize,
    newBatchThreshold: q.newBatchThreshold ?? Math.floor(batchSize / 2),
    maxPollingIntervalMs: timeSpanToMs(q.maxPollingInterval, 60_000),
    visibilityTimeoutMs: timeSpanToMs(q.visibilityTimeout, 0),
    maxDequeueCount: q.maxDequeueCount ?? 5,
    messageEncoding: encoding,
  };
}

export function encodeMessage(text: string, encoding: QueueSettings["messageEncoding"]): string {
  return encoding === "base64" ? Buffer.from(text, "utf8").toString("base64") : text;
}

/** Throws for text that is not valid base64 when base64 is expected (the real host poisons those). */
export function decodeMessage(raw: string, encoding: QueueSettings["messageEncoding"]): string {
  if (encoding === "none") return raw;
  const compact = raw.replace(/\s+/g, "");
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(compact) || compact.length % 4 !== 0) {
    throw new Error("the message is not valid base64 (host.json extensions.queues.messageEncoding is \"base64\")");
  }
  return Buffer.from(compact, "base64").toString("utf8");
}
