// Starts Azurite (Blob, Queue, Table) as its own child process. Used by `npm start` and by
// tests; it binds to loopback only and never phones home.
import { spawn, type ChildProcess } from "node:child_process";
import net from "node:net";
import path from "node:path";

export const DEV_ACCOUNT = "devstoreaccount1";
export const DEV_KEY = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==";

export type AzuritePorts = { blob: number; queue: number; table: number };

export type AzuriteOptions = {
  ports: AzuritePorts;
  /** Persist under this folder; omit for in-memory storage (tests). */
  location?: string;
  /** Where Azurite's own console output goes; default: discarded. */
  stdio?: "inherit" | "ignore";
  /**
   * HTTPS with Entra ID tokens ("basic" OAuth: Azurite checks issuer, audience and lifetime),
   * so clients can use identity-based connections as in Azure. PEM files of the certificate.
   */
  oauth?: { certFile: string; keyFile: string };
};

export type AzuriteProcess = {
  child: ChildProcess;
  ports: AzuritePorts;
  connectionString: string;
  stop(): Promise<void>;
};

export function connectionStringFor(ports: AzuritePorts, host = "127.0.0.1"): string {
  return (
    `DefaultEndpointsProtocol=http;AccountName=${DEV_ACCOUNT};AccountKey=${DEV_KEY};` +
    `BlobEndpoint=http://${host}:${ports.blob}/${DEV_ACCOUNT};` +
    `QueueEndpoint=http://${host}:${ports.queue}/${DEV_ACCOUNT};` +
    `TableEndpoint=http://${host}:${ports.table}/${DEV_ACCOUNT};`
  );
}

export function azuriteArgs(opts: AzuriteOptions): string[] {
  const args = [
    "--skipApiVersionCheck",
    "--disableTelemetry",
    "--loose",
    "--silent",
    "--blobHost", "127.0.0.1", "--blobPort", String(opts.ports.blob),
    "--queueHost", "127.0.0.1", "--queuePort", String(opts.ports.queue),
    "--tableHost", "127.0.0.1", "--tablePort", String(opts.ports.table),
  ];
  if (opts.oauth) args.push("--oauth", "basic", "--cert", opts.oauth.certFile, "--key", opts.oauth.keyFile);
  if (opts.location) args.push("--location", opts.location);
  else args.push("--inMemoryPersistence");
  return args;
}

export function azuriteEntry(): string {
  return path.join(path.dirname(require.resolve("azurite/package.json")), "dist", "src", "azurite.js");
}

export async function startAzurite(opts: AzuriteOptions): Promise<AzuriteProcess> {
  const child = spawn(process.execPath, [azuriteEntry(), ...azuriteArgs(opts)], {
    stdio: opts.stdio === "inherit" ? "inherit" : "ignore",
  });
  let exited = false;
  child.once("exit", () => (exited = true));
  const deadline = Date.now() + 30_000;
  for (const port of [opts.ports.blob, opts.ports.queue, opts.ports.table]) {
    while (!(await canConnect(port))) {
      if (exited) throw new Error(`Azurite exited during start-up (ports ${JSON.stringify(opts.ports)})`);
      if (Date.now() > deadline) {
        child.kill("SIGKILL");
        throw new Error("Azurite did not start within 30 s");
      }
      await sleep(100);
    }
  }
  return {
    child,
    ports: opts.ports,
    connectionString: connectionStringFor(opts.ports),
    stop: () => stopChild(child),
  };
}

export function stopChild(child: ChildProcess, graceMs = 5000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(() => child.kill("SIGKILL"), graceMs);
    child.once("exit", () => {
      clearTimeout(timer);
      resolve();
    });
    child.kill("SIGTERM");
  });
}

export function canConnect(port: number, host = "127.0.0.1"): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ port, host });
    socket.once("connect", () => {
      socket.destroy();
      resolve(true);
    });
    socket.once("error", () => resolve(false));
  });
}

/** A port that was free a moment ago on 127.0.0.1. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const { port } = srv.address() as net.AddressInfo;
      srv.close(() => resolve(port));
    });
  });
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
