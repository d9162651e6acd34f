// Streams run-command output to an append blob given by a SAS URL (outputBlobUri /
// errorBlobUri), as Azure's run-command handler does, batching writes.
import { AnonymousCredential, AppendBlobClient } from "@azure/storage-blob";

const FLUSH_MS = 250;
const MAX_BLOCK = 4 * 1024 * 1024;

export class BlobSink {
  private client: AppendBlobClient;
  private pending: Buffer[] = [];
  private pendingBytes = 0;
  private chain: Promise<void>;
  private timer: NodeJS.Timeout | undefined;
  /** First failure, reported without the URL (its SAS token is a secret). */
  failure: string | undefined;

  constructor(sasUrl: string) {
    this.client = new AppendBlobClient(sasUrl, new AnonymousCredential());
    this.chain = this.client.create().then(() => undefined, (err) => this.fail(err));
  }

  write(chunk: Buffer): void {
    this.pending.push(chunk);
    this.pendingBytes += chunk.length;
    if (this.pendingBytes >= MAX_BLOCK) this.flushNow();
    else if (!this.timer) this.timer = setTimeout(() => this.flushNow(), FLUSH_MS);
  }

  /** Writes what is buffered and resolves when every append has landed (or failed). */
  async close(): Promise<void> {
    this.flushNow();
    await this.chain;
  }

  private flushNow(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    if (this.pendingBytes === 0) return;
    const data = Buffer.concat(this.pending);
    this.pending = [];
    this.pendingBytes = 0;
    this.chain = this.chain.then(async () => {
      if (this.failure) return;
      for (let off = 0; off < data.length; off += MAX_BLOCK) {
        const part = data.subarray(off, off + MAX_BLOCK);
        await this.client.appendBlock(part, part.length).catch((err) => this.fail(err));
      }
    });
  }

  private fail(err: unknown): void {
    const e = err as { statusCode?: number; code?: string; message?: string };
    this.failure ??= `HTTP ${e.statusCode ?? "?"} ${e.code ?? "error"}`;
  }
}
