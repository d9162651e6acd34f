// `npm start` from a fresh clone of the committed tree: it builds, starts Azurite (and the
// cloud emulator when built) and the host, answers /api/health with 200, restarts a crashed
// host, and Ctrl-C
// (SIGINT to the process group, as a terminal sends it) stops every process it started.
import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, expect, it } from "vitest";
import { freePort } from "../../local/shared/azurite";
import { REPO_ROOT } from "../support/host";

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "npm-start-"));
let child: ChildProcess | undefined;

afterAll(() => {
  if (child?.pid && child.exitCode === null && child.signalCode === null) {
    try {
      process.kill(-child.pid, "SIGKILL");
    } catch {
      /* already gone */
    }
  }
  fs.rmSync(tmp, { recursive: true, force: true });
});

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

it("npm start from a fresh clone serves /api/health and stops cleanly on Ctrl-C", { timeout: 300_000 }, async () => {
  const repo = path.join(tmp, "repo");
  execFileSync("git", ["clone", "-q", REPO_ROOT, repo]);
  fs.symlinkSync(path.join(REPO_ROOT, "node_modules"), path.join(repo, "node_modules"), "dir");
  const dataDir = path.join(tmp, "data");
  const port = await freePort();
  const env = {
    ...process.env,
    PORT: String(port),
    DATA_DIR: dataDir,
    AZURITE_BLOB_PORT: String(await freePort()),
    AZURITE_QUEUE_PORT: String(await freePort()),
    AZURITE_TABLE_PORT: String(await freePort()),
    CLOUD_PORT: String(await freePort()),
    CLOUD_IDENTITY_PORT: String(await freePort()),
  };
  // Its own process group, so SIGINT reaches npm, start.js and the children as Ctrl-C does.
  child = spawn("npm", ["start"], { cwd: repo, env, detached: true, stdio: ["ignore", "pipe", "pipe"] });
  let out = "";
  child.stdout!.on("data", (c: Buffer) => (out += c.toString()));
  child.stderr!.on("data", (c: Buffer) => (out += c.toString()));
  const exited = new Promise<number | null>((resolve) => child!.once("exit", (code) => resolve(code)));

  await new Promise<void>((resolve, reject) => {
    const timer = setInterval(() => {
      if (out.includes("API ready")) done();
      else if (child!.exitCode !== null) done(new Error(`npm start exited early:\n${out}`));
    }, 200);
    const done = (err?: Error) => {
      clearInterval(timer);
      if (err) reject(err);
      else resolve();
    };
  });
  expect(out).toContain(`http://127.0.0.1:${port}/api`);

  const res = await fetch(`http://127.0.0.1:${port}/api/health`);
  expect(res.status).toBe(200);
  expect(await res.json()).toEqual({ status: "ok" });

  const runDir = path.join(dataDir, "run");
  const readPid = (f: string) => Number(fs.readFileSync(path.join(runDir, f), "utf8"));
  expect(fs.readdirSync(runDir)).toEqual(expect.arrayContaining(["azurite.pid", "host.pid"]));

  // A host that crashes is restarted by the supervisor.
  const firstHost = readPid("host.pid");
  process.kill(firstHost, "SIGKILL");
  for (let i = 0; i < 150; i++) {
    const again = fs.existsSync(path.join(runDir, "host.pid")) && readPid("host.pid") !== firstHost;
    if (again && (await fetch(`http://127.0.0.1:${port}/api/health`).then((r) => r.status, () => 0)) === 200) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  expect(readPid("host.pid")).not.toBe(firstHost);
  expect((await fetch(`http://127.0.0.1:${port}/api/health`)).status).toBe(200);
  expect(out).toContain("host exited (SIGKILL); restarting");

  const pids = fs.readdirSync(runDir).map(readPid);
  for (const pid of pids) expect(alive(pid)).toBe(true);

  process.kill(-child.pid!, "SIGINT");
  await exited;
  // Give the kernel a moment to reap grandchildren that exited with the group.
  for (let i = 0; i < 50 && pids.some(alive); i++) await new Promise((r) => setTimeout(r, 100));
  expect(pids.filter(alive)).toEqual([]);
  expect(fs.readdirSync(runDir)).toEqual([]);
  expect(out).not.toMatch(/^\s+at /m); // no stack traces on a clean stop
});
