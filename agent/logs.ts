// Ships a job's output files to its two append blobs while it runs (so the API shows progress)
// and once more at the end. The blob's own length is the shipped offset, so a restarted agent
// continues where the last one stopped without sending anything twice.
import fs from "node:fs";
import path from "node:path";
import { AnonymousCredential, AppendBlobClient } from "@azure/storage-blob";

/** An append block takes at most 4 MiB. */
const MAX_BLOCK = 4 * 1024 * 1024;

class Stream {
  private client: AppendBlobClient;
  private offset: number | undefined;

  constructor(
    private readonly file: string,
    sasUrl: string,
  ) {
    this.client = new AppendBlobClient(sasUrl, new AnonymousCredential());
  }

  async ship(): Promise<void> {
    if (this.offset === undefined) {
      await this.client.createIfNotExists();
      this.offset = (await this.client.getProperties()).contentLength ?? 0;
    }
    let size: number;
    try {
      size = fs.statSync(this.file).size;
    } catch {
      return;
    }
    while (this.offset < size) {
      const len = Math.min(MAX_BLOCK, size - this.offset);
      const buf = Buffer.alloc(len);
      const fd = fs.openSync(this.file, "r");
      try {
        fs.readSync(fd, buf, 0, len, this.offset);
      } finally {
        fs.closeSync(fd);
      }
      // The condition makes a retried append after a lost answer fail instead of doubling output.
      await this.client.appendBlock(buf, len, { conditions: { appendPosition: this.offset } }).catch((err: { statusCode?: number }) => {
        if (err.statusCode !== 412) throw err;
      });
      this.offset += len;
    }
  }
}

export class LogShipper {
  private streams: Stream[];
  private running: Promise<void> | undefined;

  constructor(jobDir: string, urls: { stdout: string; stderr: string }) {
    this.streams = [new Stream(path.join(jobDir, "stdout"), urls.stdout), new Stream(path.join(jobDir, "stderr"), urls.stderr)];
  }

  /** One pass over both files; passes never overlap. */
  ship(): Promise<void> {
    this.running ??= Promise.all(this.streams.map((s) => s.ship()))
      .then(() => undefined)
      .finally(() => (this.running = undefined));
    return this.running;
  }

  /** Everything written so far is in the blobs when this resolves. */
  async flush(): Promise<void> {
    if (this.running) await this.running.catch(() => undefined);
    await this.ship();
  }
}
