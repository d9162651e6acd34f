// Operation-status records: readable while an SDK may poll them, then dropped, so a long-running
// emulator's state file (rewritten whole after changes) does not grow with every job it ran.
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { OPERATION_RETENTION_MS, Operations } from "../../local/cloud/lro";
import { Store } from "../../local/cloud/store";

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) fs.rmSync(d, { recursive: true, force: true });
});

function operations(): { ops: Operations; store: Store } {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "cloud-ops-"));
  dirs.push(dir);
  const store = new Store(dir);
  return { ops: new Operations(store, "westeurope", "sub"), store };
}

describe("operation records", () => {
  it("keeps running and recently finished operations, drops ones finished over the retention ago", () => {
    const { ops, store } = operations();
    const old = ops.beginManual("runCommandDelete", "Microsoft.Compute", "/x/old");
    const recent = ops.beginManual("runCommandDelete", "Microsoft.Compute", "/x/recent");
    const running = ops.beginManual("runCommandDelete", "Microsoft.Compute", "/x/running");
    ops.finish(old.id);
    ops.finish(recent.id);
    const now = Date.now();
    store.state.operations[old.id]!.endTime = new Date(now - OPERATION_RETENTION_MS - 1000).toISOString();
    expect(ops.prune(now)).toBe(1);
    expect(ops.get(old.id)).toBeUndefined();
    expect(ops.get(recent.id)?.status).toBe("Succeeded");
    expect(ops.get(running.id)?.status).toBe("InProgress");
    store.flush();
  });

  it("prunes as new operations come, not only at a restart", () => {
    const { ops, store } = operations();
    const stale = new Date(Date.now() - 2 * OPERATION_RETENTION_MS).toISOString();
    for (let i = 0; i < 400; i++) {
      const op = ops.beginManual("runCommandDelete", "Microsoft.Compute", `/x/${i}`);
      ops.finish(op.id);
      store.state.operations[op.id]!.endTime = stale;
    }
    expect(Object.keys(store.state.operations)).toHaveLength(400);
    for (let i = 0; i < 100; i++) ops.beginManual("runCommandDelete", "Microsoft.Compute", `/y/${i}`);
    expect(Object.keys(store.state.operations)).toHaveLength(100); // the 500th creation pruned the 400
    store.flush();
  });
});
