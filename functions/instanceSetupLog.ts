// GET /api/instances/{name}/setup-log: the setup scripts' log of the instance's last operation,
// as the setup wrapper wrote it on the workspace share (Logs/<name>/<kind>-<operation>.log). The
// operation id keeps an earlier instance of the same name (whose logs stay in that folder) out.
import { readFile } from "../shared/azure/files";
import { ROUTES } from "../shared/api/routes";
import { sharePaths } from "../shared/ids";
import { apiRoute } from "./http/api";
import { loadInstance } from "./instances";
import { getClients } from "../services/root";

const KINDS = ["creation", "startup"] as const;

apiRoute(ROUTES.getSetupLog, async ({ principal, params }) => {
  const got = await loadInstance(principal, params.name, "instance:read");
  const operationId = got.record.lastOperation?.id;
  let text = "";
  if (operationId && /^[a-z0-9]{1,64}$/.test(operationId)) {
    const folder = sharePaths.logsFolder(got.record.name);
    const files = getClients().files;
    const parts = await Promise.all(KINDS.map((kind) => readFile(files, `${folder}/${kind}-${operationId}.log`)));
    text = parts.map((p) => (p ? p.toString("utf8") : "")).join("");
  }
  return { status: 200, body: text, headers: { "Content-Type": "text/plain; charset=utf-8", "Cache-Control": "no-store" } };
});
