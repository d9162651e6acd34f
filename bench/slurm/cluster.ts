// A one-node Slurm cluster on loopback for the jobs benchmark's peer (bench/README.md "Jobs"):
// munged, slurmctld and slurmd from Debian's slurm-wlm, in a temporary directory, on free ports,
// started and stopped by the bench. FIFO scheduling (sched/builtin) with no batch delay and
// oversubscribed slots, so every trivial job can start at once, as in our own cap-free runs.
// Each daemon gets its own cpuacct cgroup when the machine allows it, so CPU per job can be split
// by role: slurmd's cgroup also holds what it forks (slurmstepd and the jobs themselves).
import { execFile, execFileSync, spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { freePort } from "../../local/shared/azurite";

const run = promisify(execFile);

export const SLURM_BINARIES = ["/usr/sbin/munged", "/usr/sbin/slurmctld", "/usr/sbin/slurmd", "/usr/bin/sbatch", "/usr/bin/scontrol"];

/** Why the peer cannot run here, or undefined when it can (Debian: apt-get install slurm-wlm munge). */
export function slurmMissing(): string | undefined {
  const missing = SLURM_BINARIES.filter((b) => !fs.existsSync(b));
  if (missing.length) return `not installed: ${missing.join(", ")} (apt-get install slurm-wlm munge)`;
  if (process.getuid?.() !== 0) return "slurmd must run as root here";
  return undefined;
}

const CGROUP_ROOT = "/sys/fs/cgroup/cpuacct";
export type Role = "slurmctld" | "slurmd" | "munged";

export type SlurmCluster = {
  dir: string;
  env: NodeJS.ProcessEnv;
  /** sbatch a one-line script; resolves with the job id once slurmctld accepted it. */
  sbatch(script: string): Promise<string>;
  /** CPU milliseconds per role since the cluster started (undefined without cgroups). */
  cpuMs(): Record<Role, number> | undefined;
  stop(): Promise<void>;
};

function conf(dir: string, ports: { ctld: number; slurmd: number }): string {
  const cpus = os.cpus().length;
  return [
    "ClusterName=bench",
    "SlurmctldHost=localhost(127.0.0.1)",
    `SlurmctldPort=${ports.ctld}`,
    `SlurmdPort=${ports.slurmd}`,
    "SlurmUser=root",
    "SlurmdUser=root",
    "AuthType=auth/munge",
    "CredType=cred/munge",
    `AuthInfo=socket=${dir}/munge/munge.socket`,
    `StateSaveLocation=${dir}/state`,
    `SlurmdSpoolDir=${dir}/spool`,
    `SlurmctldPidFile=${dir}/slurmctld.pid`,
    `SlurmdPidFile=${dir}/slurmd.pid`,
    `SlurmctldLogFile=${dir}/log/slurmctld.log`,
    `SlurmdLogFile=${dir}/log/slurmd.log`,
    // No accounting daemon, no cgroup plugins: the lightest configuration that still runs jobs.
    "ProctrackType=proctrack/linuxproc",
    "TaskPlugin=task/none",
    "JobAcctGatherType=jobacct_gather/none",
    "AccountingStorageType=accounting_storage/none",
    "MpiDefault=none",
    "ReturnToService=2",
    // FIFO, and start a batch job as soon as it is submitted (no deferral to the next pass).
    "SchedulerType=sched/builtin",
    "SchedulerParameters=defer_batch=0",
    "SelectType=select/cons_tres",
    "SelectTypeParameters=CR_Core",
    `NodeName=localhost NodeAddr=127.0.0.1 CPUs=${cpus} RealMemory=1000 State=UNKNOWN`,
    // Oversubscribe so a core runs up to 512 jobs at once, like our cap-free instances.
    "PartitionName=bench Nodes=localhost Default=YES MaxTime=INFINITE State=UP OverSubscribe=FORCE:512",
    "",
  ].join("\n");
}

function makeCgroup(name: string): string | undefined {
  const dir = path.join(CGROUP_ROOT, name);
  try {
    fs.mkdirSync(dir, { recursive: true });
    fs.writeFileSync(path.join(dir, "cpuacct.usage"), "0");
    return dir;
  } catch {
    return undefined;
  }
}

function removeCgroup(dir: string | undefined): void {
  if (!dir) return;
  try {
    for (const pid of fs.readFileSync(path.join(dir, "cgroup.procs"), "utf8").split("\n").filter(Boolean)) {
      try { fs.writeFileSync(path.join(CGROUP_ROOT, "cgroup.procs"), pid); } catch { /* gone already */ }
    }
    fs.rmdirSync(dir);
  } catch { /* best effort: an empty group left behind costs nothing */ }
}

/** Start a daemon inside a cgroup: a shell joins the group, then execs the daemon (which forks to the background). */
function startIn(cgroup: string | undefined, argv: string[], env: NodeJS.ProcessEnv): void {
  const join = cgroup ? `echo $$ > ${cgroup}/cgroup.procs && ` : "";
  const r = spawnSync("/bin/sh", ["-c", `${join}exec "$@"`, "sh", ...argv], { env, stdio: ["ignore", "pipe", "pipe"], encoding: "utf8" });
  if (r.status !== 0) throw new Error(`${argv[0]} failed to start (${r.status}): ${r.stderr}`);
}

async function waitFor(what: string, ok: () => Promise<boolean>, timeoutMs = 30_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (Date.now() < end) {
    if (await ok().catch(() => false)) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`slurm: ${what} did not come up within ${timeoutMs} ms`);
}

export async function startSlurm(): Promise<SlurmCluster> {
  const why = slurmMissing();
  if (why) throw new Error(`slurm: ${why}`);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "bench-slurm-"));
  for (const d of ["munge", "state", "spool", "log", "out"]) fs.mkdirSync(path.join(dir, d), { mode: 0o700 });
  fs.writeFileSync(path.join(dir, "munge", "munge.key"), randomBytes(1024), { mode: 0o400 });
  const ports = { ctld: await freePort(), slurmd: await freePort() };
  const confFile = path.join(dir, "slurm.conf");
  fs.writeFileSync(confFile, conf(dir, ports));
  const env = { ...process.env, SLURM_CONF: confFile };
  const tag = path.basename(dir);
  const groups: Record<Role, string | undefined> = {
    munged: makeCgroup(`${tag}-munged`),
    slurmctld: makeCgroup(`${tag}-slurmctld`),
    slurmd: makeCgroup(`${tag}-slurmd`),
  };
  const m = path.join(dir, "munge");
  startIn(groups.munged, ["/usr/sbin/munged", `--socket=${m}/munge.socket`, `--key-file=${m}/munge.key`, `--pid-file=${m}/munged.pid`, `--log-file=${dir}/log/munged.log`, `--seed-file=${m}/seed`, "--force"], env);
  startIn(groups.slurmctld, ["/usr/sbin/slurmctld", "-f", confFile, "-i"], env);
  startIn(groups.slurmd, ["/usr/sbin/slurmd", "-f", confFile, "-N", "localhost"], env);
  const cluster: SlurmCluster = {
    dir,
    env,
    async sbatch(script) {
      const { stdout } = await run("/usr/bin/sbatch", ["--parsable", "-o", "/dev/null", "-e", "/dev/null", "--wrap", script], { env });
      return stdout.trim();
    },
    cpuMs() {
      if (!groups.munged || !groups.slurmctld || !groups.slurmd) return undefined;
      const read = (g: string) => Number(fs.readFileSync(path.join(g, "cpuacct.usage"), "utf8")) / 1e6;
      return { munged: read(groups.munged), slurmctld: read(groups.slurmctld), slurmd: read(groups.slurmd) };
    },
    async stop() {
      try { execFileSync("/usr/bin/scontrol", ["shutdown"], { env, stdio: "ignore", timeout: 10_000 }); } catch { /* killed below */ }
      for (const pidFile of ["slurmd.pid", "slurmctld.pid", "munge/munged.pid"]) {
        try { process.kill(Number(fs.readFileSync(path.join(dir, pidFile), "utf8")), "SIGKILL"); } catch { /* not running */ }
      }
      await new Promise((r) => setTimeout(r, 300));
      for (const g of Object.values(groups)) removeCgroup(g);
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
  try {
    await waitFor("the node", async () => {
      const { stdout } = await run("/usr/bin/sinfo", ["-h", "-o", "%t"], { env });
      return stdout.trim() === "idle";
    });
  } catch (e) {
    await cluster.stop();
    throw e;
  }
  return cluster;
}
