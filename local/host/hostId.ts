// The host id, which names the host's own blobs (timer schedule status, blob receipts) and
// queues in storage, so two apps sharing a storage account keep apart.
import fs from "node:fs";
import path from "node:path";
import type { HostContext } from "./extensions";

/** The real host derives its id from the site name; locally: the setting, else the app's package name. */
export function hostId(ctx: HostContext): string {
  const explicit = ctx.env.AzureFunctionsWebHost__hostid ?? ctx.env.AzureFunctionsWebHost__hostId;
  if (explicit) return explicit;
  let name = path.basename(ctx.appDir);
  try {
    name = (JSON.parse(fs.readFileSync(path.join(ctx.appDir, "package.json"), "utf8")) as { name?: string }).name ?? name;
  } catch {
    /* fall back to the folder name */
  }
  return name.toLowerCase().replace(/[^a-z0-9-]/g, "").slice(0, 32) || "localhost";
}

