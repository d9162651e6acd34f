// Entry point of the job agent (bundled to one file; imports nothing from the app). On Azure it
// runs as the systemd unit cloud-init installs; locally the cloud emulator starts the same unit
// in the VM's sandbox. Its identity is the VM's system-assigned managed identity: IMDS on Azure,
// the emulator's per-VM IMDS locally (AZURE_POD_IDENTITY_AUTHORITY_HOST), read unchanged by
// ManagedIdentityCredential.
import { ManagedIdentityCredential } from "@azure/identity";
import { QueueClient } from "@azure/storage-queue";
import { Agent } from "./agent";
import { AppClient } from "./app";
import { readConfig } from "./config";
import { readWorkstationConfig } from "./workstation/config";
import { startWorkstation } from "./workstation/index";

function main(): void {
  const cfg = readConfig(process.env);
  const credential = new ManagedIdentityCredential();
  const queue = new QueueClient(cfg.queueUrl, credential);
  const log = (line: string) => process.stdout.write(`${new Date().toISOString()} ${line}\n`);
  const app = new AppClient(cfg.appUrl, cfg.appAudience, credential);
  const agent = new Agent(cfg, queue, app, log, credential);
  const workstation = startWorkstation(readWorkstationConfig(process.env), cfg.instance, app, log);
  for (const sig of ["SIGTERM", "SIGINT"] as const) {
    process.once(sig, () => {
      // Jobs keep running (their own process groups); the next agent adopts them.
      agent.stop();
      workstation.stop();
      process.exit(0);
    });
  }
  log(`agent for instance ${cfg.instance} started`);
  agent.run().catch((err: Error) => {
    log(`agent failed: ${err.stack ?? err.message}`);
    process.exit(1);
  });
}

main();
