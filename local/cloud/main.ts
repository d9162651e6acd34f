// `node dist/local/cloud/main.js`: the cloud emulator as its own process (started by npm start).
// Settings come from the environment, falling back to local.settings(.example).json Values.
import fs from "node:fs";
import path from "node:path";
import { applyLocalSettings } from "../host/settings";
import { startCloudEmulator } from "./emulator";
import { optionsFromEnv } from "./settings";

export { startCloudEmulator } from "./emulator";
export type { CloudEmulator, CloudEmulatorOptions } from "./emulator";

function appRoot(): string {
  let dir = __dirname;
  while (!fs.existsSync(path.join(dir, "package.json")) && path.dirname(dir) !== dir) dir = path.dirname(dir);
  return dir;
}

async function main(): Promise<void> {
  const root = appRoot();
  try {
    applyLocalSettings(root);
  } catch (err) {
    console.error(`settings file not applied: ${(err as Error).message}`);
  }
  const options = optionsFromEnv();
  if (options.dataDir && !path.isAbsolute(options.dataDir)) options.dataDir = path.resolve(root, options.dataDir);
  const emulator = await startCloudEmulator({ ...options, log: (line) => console.log(line) });
  console.log(`cloud emulator listening on https://127.0.0.1:${emulator.port} (data ${emulator.dataDir}/cloud, CA ${emulator.caCertFile})`);
  console.log(`managed-identity endpoint ${emulator.identity.endpoint} for client id ${emulator.identity.appClientId} (tenant ${emulator.identity.tenantId})`);
  let stopping = false;
  const shutdown = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    console.log(`${signal}: stopping`);
    await emulator.stop();
    process.exit(0);
  };
  process.on("SIGTERM", () => void shutdown("SIGTERM"));
  process.on("SIGINT", () => void shutdown("SIGINT"));
}

if (require.main === module) {
  main().catch((err) => {
    console.error(`failed to start: ${(err as Error).message}`);
    process.exit(1);
  });
}
