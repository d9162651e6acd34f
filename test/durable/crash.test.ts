// Durability: the host (dist/local/host/main.js) is killed with SIGKILL while 50
// orchestrations are in flight, then restarted against the same Azurite. Every
// orchestration must finish with the right output; activities may run twice
// (at-least-once), and we print how many did.
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, expect, it } from "vitest";
import { startTestAzurite, type AzuriteProcess } from "../support/azurite";
import { eventually, startHost, type TestHost } from "../support/host";
import { FIXTURE_APP, start, status } from "./support";

const COUNT = 50;
const WIDTH = 4;
let azurite: AzuriteProcess;
let host: TestHost | undefined;
const markFile = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "durable-crash-")), "marks.txt");

beforeAll(async () => {
  azurite = await startTestAzurite();
});
afterAll(async () => {
  await host?.stop();
  await azurite?.stop();
});

const marks = () => (fs.existsSync(markFile) ? fs.readFileSync(markFile, "utf8").split("\n").filter(Boolean) : []);

it("resumes all 50 orchestrations after kill -9, activities at least once", async () => {
  const env = { AzureWebJobsStorage: azurite.connectionString, DURABLE_MARK_FILE: markFile };
  host = await startHost({ appDir: FIXTURE_APP, env });
  const base0 = host.baseUrl;
  const ids = await Promise.all(Array.from({ length: COUNT }, (_, i) => start(base0, "CrashFan", { width: WIDTH, timerMs: 800 }, `crash-${i}`)));
  // Kill once some, but not all, of the work has happened.
  await eventually(async () => marks().length, (n) => n >= COUNT, 60_000, 5);
  await host.kill9();
  const before = marks().length;
  expect(before).toBeLessThan(COUNT * (WIDTH + 1));

  host = await startHost({ appDir: FIXTURE_APP, env, dataDir: host.dataDir });
  const base = host.baseUrl;
  const finals = await eventually(
    () => Promise.all(ids.map((id) => status(base, id))),
    (all) => all.every((s) => ["Completed", "Failed", "Terminated"].includes(s.runtimeStatus)),
    90_000,
    250,
  );
  for (const s of finals) {
    expect(s.runtimeStatus).toBe("Completed");
    expect(s.output).toBe(WIDTH * 2 + "final".length);
  }
  const seen = new Map<string, number>();
  for (const line of marks()) seen.set(line, (seen.get(line) ?? 0) + 1);
  for (const id of ids) {
    for (let i = 0; i < WIDTH; i++) expect(seen.get(`${id} a${i}`) ?? 0).toBeGreaterThanOrEqual(1);
    expect(seen.get(`${id} final`) ?? 0).toBeGreaterThanOrEqual(1);
  }
  const twice = [...seen.values()].filter((n) => n > 1).length;
  console.log(`crash test: ${before} activity runs before kill -9; ${seen.size} distinct activities, ${twice} ran more than once`);
});
