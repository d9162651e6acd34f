// `npm start`: Azurite, then the cloud emulator (once it is built), then the local Functions
// host, each as its own supervised process on 127.0.0.1, with data under DATA_DIR (.data).
// Env: PORT (7071), DATA_DIR, LOCAL_SETTINGS, AZURITE_BLOB_PORT / AZURITE_QUEUE_PORT /
// AZURITE_TABLE_PORT (10000-10002), CLOUD_PORT (10443), CLOUD_QUEUE_PORT (10445: its queues for VM identities), CLOUD_IDENTITY_PORT (10444: the emulator's
// managed-identity endpoint, handed to the host as IDENTITY_ENDPOINT + IDENTITY_HEADER like
// Azure hands them to a Function App).
import { spawn, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import fs from "node:fs";
import net from "node:net";
import path from "node:path";
import { applyLocalSettings } from "./host/settings";
import { ensureCertificate } from "./cloud/tls";
import { readStorageConnection } from "../shared/azure/storageConnection";
import { parseLocalPrincipals } from "./host/http/principal";
import { azuriteArgs, azuriteEntry, canConnect, connectionStringFor, type AzuritePorts } from "./shared/azurite";
import { ChildOutput } from "./shared/childOutput";
import { Supervisor } from "./shared/supervisor";

const REPO_ROOT = path.resolve(__dirname, "..", "..");
const DEFAULT_PORTS = { PORT: 7071, AZURITE_BLOB_PORT: 10000, AZURITE_QUEUE_PORT: 10001, AZURITE_TABLE_PORT: 10002, CLOUD_PORT: 10443, CLOUD_IDENTITY_PORT: 10444, CLOUD_QUEUE_PORT: 10445 };
type PortName = keyof typeof DEFAULT_PORTS;

/** A problem the user fixes by configuration: printed as one line, exit code 1. */
class StartError extends Error {}

const say = (msg: string) => process.stdout.write(`[start] ${msg}\n`);

function readPorts(env: NodeJS.ProcessEnv): Record<PortName, number> {
  const out = {} as Record<PortName, number>;
  for (const [name, def] of Object.entries(DEFAULT_PORTS) as [PortName, number][]) {
    const raw = env[name];
    const port = raw === undefined || raw === "" ? def : Number(raw);
    if (!Number.isInteger(port) || port < 1 || port > 65535) throw new StartError(`${name} must be a port number 1..65535 (got "${raw}")`);
    out[name] = port;
  }
  const seen = new Map<number, string>();
  for (const [name, port] of Object.entries(out)) {
    if (seen.has(port)) throw new StartError(`${name} and ${seen.get(port)} are both ${port}; give each its own port`);
    seen.set(port, name);
  }
  return out;
}

function portFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const srv = net.createServer();
    srv.once("error", () => resolve(false));
    srv.listen(port, "127.0.0.1", () => srv.close(() => resolve(true)));
  });
}

/** The settings the host will see, checked up front so a mistake is one clear line. */
function checkSettings(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const effective = { ...env };
  try {
    applyLocalSettings(REPO_ROOT, effective);
  } catch (err) {
    throw new StartError((err as Error).message);
  }
  const storage = readStorageConnection(effective);
  if (storage === undefined) {
    throw new StartError("setting AzureWebJobsStorage is missing (local.settings.json Values or the environment): a connection string, or AzureWebJobsStorage__blobServiceUri/__queueServiceUri/__tableServiceUri for identity-based access");
  }
  if (Array.isArray(storage)) throw new StartError(`setting ${storage[0]!.setting} ${storage[0]!.message}`);
  if (!effective.LOCAL_PRINCIPALS) throw new StartError("setting LOCAL_PRINCIPALS is missing (local.settings.json Values or the environment)");
  try {
    parseLocalPrincipals(effective.LOCAL_PRINCIPALS);
  } catch (err) {
    throw new StartError((err as Error).message);
  }
  return effective;
}

// Children run in their own process groups: Ctrl-C reaches only this supervisor, which
// stops them once and in order (a second signal makes Azurite crash while closing).
function nodeService(name: string, script: string, env: NodeJS.ProcessEnv, readyLine: RegExp, outputs: Map<string, ChildOutput>, prefix = `[${name}] `) {
  return {
    name,
    spawn: (): ChildProcess => {
      const child = spawn(process.execPath, [script], { cwd: REPO_ROOT, env, stdio: ["ignore", "pipe", "pipe"], detached: true });
      outputs.set(name, new ChildOutput(child, prefix));
      return child;
    },
    ready: async (child: ChildProcess) => {
      const out = outputs.get(name)!;
      await out.waitFor(child, readyLine, name);
      out.goLive();
    },
  };
}

async function main(): Promise<void> {
  const env = process.env;
  const ports = readPorts(env);
  const settings = checkSettings(env);
  const dataDir = path.resolve(REPO_ROOT, env.DATA_DIR || ".data");
  const hostMain = path.join(REPO_ROOT, "dist", "local", "host", "main.js");
  if (!fs.existsSync(hostMain)) throw new StartError(`${hostMain} is missing: run "npm run build" (npm start does it for you)`);
  const cloudMain = path.join(REPO_ROOT, "dist", "local", "cloud", "main.js");
  const withCloud = fs.existsSync(cloudMain);

  const needed: PortName[] = ["PORT", "AZURITE_BLOB_PORT", "AZURITE_QUEUE_PORT", "AZURITE_TABLE_PORT", ...(withCloud ? ["CLOUD_PORT" as const, "CLOUD_IDENTITY_PORT" as const, "CLOUD_QUEUE_PORT" as const] : [])];
  for (const name of needed) {
    if (!(await portFree(ports[name]))) {
      throw new StartError(`port ${ports[name]} (${name}) is already in use on 127.0.0.1: stop what uses it or set ${name} to another port`);
    }
  }

  const azurite: AzuritePorts = { blob: ports.AZURITE_BLOB_PORT, queue: ports.AZURITE_QUEUE_PORT, table: ports.AZURITE_TABLE_PORT };
  const hostEnv: NodeJS.ProcessEnv = { ...env, PORT: String(ports.PORT), DATA_DIR: dataDir, APP_DIR: REPO_ROOT };
  // Identity-based storage (the example settings, as in Azure): Azurite on HTTPS with OAuth,
  // taking the emulator's managed-identity tokens; its certificate is the emulator's.
  const identityStorage = readStorageConnection(settings);
  let oauth: { certFile: string; keyFile: string } | undefined;
  if (identityStorage !== undefined && !Array.isArray(identityStorage) && identityStorage.kind === "identity") {
    if (!withCloud) throw new StartError("identity-based storage needs the cloud emulator (the local Entra ID): run \"npm run build\"");
    const tls = await ensureCertificate(path.join(dataDir, "cloud"));
    oauth = { certFile: tls.certFile, keyFile: path.join(path.dirname(tls.certFile), "key.pem") };
    const uri = (port: number) => `https://127.0.0.1:${port}/devstoreaccount1`;
    hostEnv.AzureWebJobsStorage__blobServiceUri = uri(azurite.blob);
    hostEnv.AzureWebJobsStorage__queueServiceUri = uri(azurite.queue);
    hostEnv.AzureWebJobsStorage__tableServiceUri = uri(azurite.table);
    // Adds the emulator's CA to the host's trusted ones (certificate checks stay on).
    hostEnv.NODE_EXTRA_CA_CERTS = tls.certFile;
  } else if (azurite.blob !== 10000 || azurite.queue !== 10001 || azurite.table !== 10002) {
    // The settings file names the default ports; point the app elsewhere only when they moved.
    hostEnv.AzureWebJobsStorage = connectionStringFor(azurite);
  }
  if (ports.CLOUD_PORT !== DEFAULT_PORTS.CLOUD_PORT) {
    hostEnv.ARM_ENDPOINT = `https://127.0.0.1:${ports.CLOUD_PORT}`;
    hostEnv.WORKSPACE_FILES_ENDPOINT = `https://127.0.0.1:${ports.CLOUD_PORT}/files/${settings.WORKSPACE_STORAGE_ACCOUNT ?? "wslocalfiles"}`;
    // The emulator's registry moves with it (the workspace registry, and an allowed one).
    if (settings.WORKSPACE_REGISTRY === `127.0.0.1:${DEFAULT_PORTS.CLOUD_PORT}`) hostEnv.WORKSPACE_REGISTRY = `127.0.0.1:${ports.CLOUD_PORT}`;
    if (settings.ALLOWED_JOB_REGISTRIES === `127.0.0.1:${DEFAULT_PORTS.CLOUD_PORT}`) hostEnv.ALLOWED_JOB_REGISTRIES = `127.0.0.1:${ports.CLOUD_PORT}`;
  }
  // A fresh secret per start: only the host may ask the emulator for the app's tokens.
  const identityHeader = randomBytes(24).toString("base64url");
  if (withCloud) {
    hostEnv.IDENTITY_ENDPOINT = `http://127.0.0.1:${ports.CLOUD_IDENTITY_PORT}/msi/token`;
    hostEnv.IDENTITY_HEADER = identityHeader;
  }
  if (env.ARM_TLS_CA_FILE === undefined && dataDir !== path.join(REPO_ROOT, ".data")) {
    hostEnv.ARM_TLS_CA_FILE = path.join(dataDir, "cloud", "tls", "cert.pem");
  }
  if (env.LOCAL_IDENTITY_PUBLIC_KEY_FILE === undefined && dataDir !== path.join(REPO_ROOT, ".data")) {
    hostEnv.LOCAL_IDENTITY_PUBLIC_KEY_FILE = path.join(dataDir, "cloud", "identity", "public.pem");
  }
  if (ports.PORT !== 7071) hostEnv.JOBS_AGENT_APP_URL = `http://127.0.0.1:${ports.PORT}`;
  if (ports.CLOUD_QUEUE_PORT !== DEFAULT_PORTS.CLOUD_QUEUE_PORT) hostEnv.JOBS_AGENT_QUEUE_ENDPOINT = `https://127.0.0.1:${ports.CLOUD_QUEUE_PORT}/devstoreaccount1`;

  const outputs = new Map<string, ChildOutput>();
  let exiting = false;
  const exit = async (code: number, message?: string) => {
    if (exiting) return;
    exiting = true;
    if (message) process.stderr.write(`npm start: ${message}\n`);
    await supervisor.stopAll();
    process.exit(code);
  };
  const supervisor = new Supervisor({
    pidDir: path.join(dataDir, "run"),
    log: say,
    onFatal: (message) => void exit(1, message),
  });
  const onSignal = (signal: string) => {
    if (exiting) return;
    say(`${signal}: stopping`);
    void exit(0);
  };
  process.on("SIGINT", () => onSignal("SIGINT"));
  process.on("SIGTERM", () => onSignal("SIGTERM"));

  try {
    fs.mkdirSync(path.join(dataDir, "azurite"), { recursive: true });
    await supervisor.add({
      name: "azurite",
      spawn: () =>
        spawn(process.execPath, [azuriteEntry(), ...azuriteArgs({ ports: azurite, location: path.join(dataDir, "azurite"), ...(oauth ? { oauth } : {}) })], {
          cwd: dataDir,
          stdio: ["ignore", "ignore", "inherit"],
          detached: true,
        }),
      ready: (child) => waitForPorts(child, [azurite.blob, azurite.queue, azurite.table]),
    });
    say(`Azurite on ports ${azurite.blob}/${azurite.queue}/${azurite.table}, data in ${path.join(dataDir, "azurite")}`);
    if (withCloud) {
      const cloudEnv = {
        ...env, CLOUD_PORT: String(ports.CLOUD_PORT), CLOUD_IDENTITY_PORT: String(ports.CLOUD_IDENTITY_PORT), CLOUD_IDENTITY_HEADER: identityHeader, DATA_DIR: dataDir,
        // The emulator's queue front for VM identities passes allowed requests on to this Azurite.
        CLOUD_QUEUE_BACKEND: connectionStringFor(azurite),
        CLOUD_QUEUE_PORT: String(ports.CLOUD_QUEUE_PORT),
        // Run-command output goes to SAS URLs on Azurite, which then speaks HTTPS with this CA.
        ...(oauth ? { NODE_EXTRA_CA_CERTS: oauth.certFile } : {}),
      };
      await supervisor.add(nodeService("cloud", cloudMain, cloudEnv, /listening/i, outputs));
    } else {
      say("cloud emulator not built (dist/local/cloud/main.js missing): starting without it");
    }
    // The host prefixes its own lines ("[host]", "[Functions.x]").
    await supervisor.add(nodeService("host", hostMain, hostEnv, /^Host listening on /, outputs, ""));
  } catch (err) {
    if (exiting) return;
    return exit(1, (err as Error).message);
  }
  process.stdout.write(`Compute Instances API ready: http://127.0.0.1:${ports.PORT}/api (health: http://127.0.0.1:${ports.PORT}/api/health)\n`);
  process.stdout.write(`Portal: http://127.0.0.1:${ports.PORT}/ (sign in as one of LOCAL_PRINCIPALS)\n`);
}

async function waitForPorts(child: ChildProcess, portList: number[], timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (const port of portList) {
    while (!(await canConnect(port))) {
      if (child.exitCode !== null || child.signalCode !== null) throw new Error(`Azurite exited during start-up (code ${child.exitCode ?? child.signalCode})`);
      if (Date.now() > deadline) throw new Error(`Azurite did not open port ${port} within ${timeoutMs / 1000} s`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`npm start: ${err instanceof StartError ? err.message : ((err as Error)?.stack ?? String(err))}\n`);
  process.exit(1);
});
