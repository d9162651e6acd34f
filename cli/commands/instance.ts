// cix instance create|list|show|update|start|stop|restart|delete|ssh
import { spawn } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import readline from "node:readline/promises";
import { Command, Option } from "commander";
import { operationIdOf, toApiError, unwrap, type CreateInstanceBody, type Instance, type PatchInstanceBody } from "../../client/api";
import { fromAzMlYaml } from "../azmlYaml";
import { CliExit, context, usage, type Ctx } from "../context";
import { keyValues, render, table } from "../output";
import { waitForOperation } from "../wait";

const VERB_PATHS = {
  start: "/api/instances/{name}/start",
  stop: "/api/instances/{name}/stop",
  restart: "/api/instances/{name}/restart",
} as const;

const STATES = ["Creating", "CreateFailed", "SettingUp", "SetupFailed", "Running", "JobRunning", "Starting", "Stopping", "Stopped", "Restarting", "Deleting", "Unusable", "Unknown"];

function printInstance(ctx: Ctx, inst: Instance): void {
  ctx.out(render(inst, ctx.format, () => keyValues(inst as unknown as Record<string, unknown>)));
}

function printInstances(ctx: Ctx, list: Instance[]): void {
  ctx.out(
    render({ value: list }, ctx.format, () =>
      table(list, [
        { header: "NAME", value: (i) => i.name },
        { header: "STATE", value: (i) => i.state },
        { header: "SIZE", value: (i) => i.vmSize },
        { header: "VCPUS", value: (i) => i.vCpus },
        { header: "GPUS", value: (i) => i.gpus },
        { header: "USER", value: (i) => i.assignedUser },
        { header: "JOBS", value: (i) => `${i.jobs.running}/${i.jobs.cap} running, ${i.jobs.queued} queued` },
        { header: "NEXT AUTO-STOP", value: (i) => nextAutoStop(i) },
      ]),
    ),
  );
}

/** A time in the user's own zone, short: "Tue 19:00" (JSON output keeps the ISO time). */
const when = (iso: string) => new Date(iso).toLocaleString(undefined, { weekday: "short", hour: "2-digit", minute: "2-digit" });

function nextAutoStop(i: Instance): string | undefined {
  const a = i.autoStop;
  const s = a?.nextScheduledAction ? `${a.nextScheduledAction.action} ${when(a.nextScheduledAction.at)}` : undefined;
  const idle = a?.idleShutdownAt ? `idle stop ${when(a.idleShutdownAt)}` : undefined;
  return [s, idle].filter(Boolean).join("; ") || undefined;
}

/** `key=value` pairs → a map (tags, variables). */
export function pairs(values: string[] | undefined, flag: string): Record<string, string> | undefined {
  if (!values) return undefined;
  const out: Record<string, string> = {};
  for (const v of values) {
    const i = v.indexOf("=");
    if (i <= 0) throw usage(`${flag} takes key=value (got '${v}')`);
    out[v.slice(0, i)] = v.slice(i + 1);
  }
  return out;
}

const collect = (v: string, prev: string[] = []) => [...prev, v];

/** An SSH key given inline or as @file / a path to a .pub file. */
function sshKey(v: string): string {
  const file = v.startsWith("@") ? v.slice(1) : v.endsWith(".pub") ? v : undefined;
  if (!file) return v.trim();
  try {
    return fs.readFileSync(file, "utf8").trim();
  } catch {
    throw usage(`--ssh-key-value: cannot read ${file}`);
  }
}

function minutesOrOff(v: string): number | null {
  if (v === "off" || v === "null") return null;
  const n = Number(v);
  if (!Number.isInteger(n)) throw usage("--idle-time-before-shutdown-minutes takes whole minutes or 'off'");
  return n;
}

async function waitOrReturn(ctx: Ctx, response: Response, label: string, wait: boolean, name: string): Promise<void> {
  const opId = operationIdOf(response);
  if (!wait || !opId) {
    ctx.out(render({ operationId: opId, instance: name }, ctx.format, () => `${label} accepted: operation ${opId}\nFollow it with: cix operation show ${opId} --wait`));
    return;
  }
  await waitForOperation(ctx.api, opId, { label });
  if (label.startsWith("delete")) return;
  printInstance(ctx, unwrap(await ctx.api.GET("/api/instances/{name}", { params: { path: { name } } })));
}

export function instanceCommand(): Command {
  const cmd = new Command("instance").description("Create, inspect and operate compute instances (like 'az ml compute').");

  cmd
    .command("create")
    .description("Create an instance from flags or from an 'az ml compute create -f' YAML file, and wait until it runs.")
    .argument("[name]", "instance name (or 'name' in the YAML file)")
    .option("-f, --file <yaml>", "az ml compute instance YAML (type: computeinstance)")
    .option("--size <vmSize>", "VM size, e.g. Standard_D4s_v5 (see 'cix sizes')")
    .option("--description <text>", "description")
    .option("--user-object-id <id>", "create on behalf of this user (admins)")
    .option("--ssh-public-access-enabled", "open SSH (port 22) from the workspace's allowed sources")
    .option("--ssh-key-value <key|@file>", "the SSH public key (text, @file or a .pub path)")
    .option("--subnet <id>", "subnet resource id (default: the workspace's)")
    .option("--enable-node-public-ip", "give the VM a public IP (where policy allows)")
    .option("--idle-time-before-shutdown-minutes <n>", "stop after this many idle minutes", Number)
    .option("--jobs-per-core <n>", "parallel jobs per vCPU", Number)
    .option("--tags <key=value>", "a tag (repeatable)", collect)
    .option("--no-wait", "return the operation instead of waiting for it")
    .action(async (nameArg: string | undefined, o: Record<string, unknown>, c: Command) => {
      const ctx = context(c);
      let body: CreateInstanceBody;
      let name = nameArg;
      if (o.file) {
        const file = String(o.file);
        let text: string;
        try {
          text = fs.readFileSync(file, "utf8");
        } catch {
          throw usage(`--file: cannot read ${file}`);
        }
        const parsed = fromAzMlYaml(text, path.dirname(path.resolve(file)));
        body = parsed.body;
        if (name && parsed.name && name !== parsed.name) throw usage(`the name argument '${name}' differs from name '${parsed.name}' in ${file}`);
        name ??= parsed.name;
      } else {
        if (!o.size) throw usage("--size is required (or give --file)");
        body = { vmSize: String(o.size) };
      }
      // Flags override the file, as in az ml's --set.
      if (o.size && o.file) body.vmSize = String(o.size);
      if (o.description !== undefined) body.description = String(o.description);
      if (o.userObjectId !== undefined) body.assignedUser = String(o.userObjectId);
      if (o.sshPublicAccessEnabled) body.sshPublicAccess = "Enabled";
      if (o.sshKeyValue !== undefined) body.sshPublicKey = sshKey(String(o.sshKeyValue));
      if (o.subnet !== undefined) body.subnetId = String(o.subnet);
      if (o.enableNodePublicIp) body.enablePublicIp = true;
      if (o.idleTimeBeforeShutdownMinutes !== undefined) body.idleShutdownMinutes = o.idleTimeBeforeShutdownMinutes as number;
      if (o.jobsPerCore !== undefined) body.jobsPerCore = o.jobsPerCore as number;
      const tags = pairs(o.tags as string[] | undefined, "--tags");
      if (tags) body.tags = { ...(body.tags ?? {}), ...tags };
      if (!name) throw usage("an instance name is required (argument or 'name' in the YAML file)");
      const r = await ctx.api.PUT("/api/instances/{name}", { params: { path: { name } }, body });
      const inst = unwrap(r);
      if (r.response.status === 200) ctx.err(`${name} exists already with the same settings (nothing changed).`);
      if (o.wait === false || r.response.status === 200) return printInstance(ctx, inst);
      await waitOrReturn(ctx, r.response, `create ${name}`, true, name);
    });

  cmd
    .command("list")
    .description("List the instances you may see (admins and readers: everyone's).")
    .addOption(new Option("--state <state>", "only this state").choices(STATES))
    .option("--assigned-user <user>", "only this user's")
    .action(async (o: { state?: string; assignedUser?: string }, c: Command) => {
      const ctx = context(c);
      const all: Instance[] = [];
      let query: Record<string, string> = { ...(o.state ? { state: o.state } : {}), ...(o.assignedUser ? { assignedUser: o.assignedUser } : {}) };
      // Follow nextLink to the end: scripts want the whole list.
      for (;;) {
        const page = unwrap(await ctx.api.GET("/api/instances", { params: { query: query as { state?: never } } }));
        all.push(...page.value);
        if (!page.nextLink) break;
        query = Object.fromEntries(new URL(page.nextLink, ctx.endpoint).searchParams);
      }
      printInstances(ctx, all);
    });

  cmd
    .command("show")
    .description("Show one instance, with why it will (not) stop by itself.")
    .argument("<name>")
    .action(async (name: string, _o: unknown, c: Command) => {
      const ctx = context(c);
      printInstance(ctx, unwrap(await ctx.api.GET("/api/instances/{name}", { params: { path: { name } } })));
    });

  cmd
    .command("update")
    .description("Change what may change after creation.")
    .argument("<name>")
    .option("--description <text>")
    .option("--idle-time-before-shutdown-minutes <n|off>", "idle minutes before a stop, or off", minutesOrOff)
    .option("--jobs-per-core <n>", "parallel jobs per vCPU", Number)
    .option("--ssh-key-value <key|@file>", "replace the SSH key (takes effect at the next start)")
    .option("--tags <key=value>", "replace the tags (repeatable)", collect)
    .action(async (name: string, o: Record<string, unknown>, c: Command) => {
      const ctx = context(c);
      const body: PatchInstanceBody = {};
      if (o.description !== undefined) body.description = String(o.description);
      if (o.idleTimeBeforeShutdownMinutes !== undefined) body.idleShutdownMinutes = o.idleTimeBeforeShutdownMinutes as number | null;
      if (o.jobsPerCore !== undefined) body.jobsPerCore = o.jobsPerCore as number;
      if (o.sshKeyValue !== undefined) body.sshPublicKey = sshKey(String(o.sshKeyValue));
      const tags = pairs(o.tags as string[] | undefined, "--tags");
      if (tags) body.tags = tags;
      if (Object.keys(body).length === 0) throw usage("nothing to update: give at least one option (see --help)");
      printInstance(ctx, unwrap(await ctx.api.PATCH("/api/instances/{name}", { params: { path: { name } }, body })));
    });

  for (const verb of ["start", "stop", "restart"] as const) {
    cmd
      .command(verb)
      .description(`${verb[0]!.toUpperCase()}${verb.slice(1)} an instance and wait for it.`)
      .argument("<name>")
      .option("--no-wait", "return the operation instead of waiting for it")
      .action(async (name: string, o: { wait: boolean }, c: Command) => {
        const ctx = context(c);
        const r = await ctx.api.POST(VERB_PATHS[verb], { params: { path: { name } } });
        unwrap(r);
        await waitOrReturn(ctx, r.response, `${verb} ${name}`, o.wait, name);
      });
  }

  cmd
    .command("delete")
    .description("Delete an instance (its VM, NIC and NSG; your files on the share stay).")
    .argument("<name>")
    .option("-y, --yes", "do not ask for confirmation")
    .option("--no-wait", "return the operation instead of waiting for it")
    .action(async (name: string, o: { yes?: boolean; wait: boolean }, c: Command) => {
      const ctx = context(c);
      if (!o.yes) {
        if (!process.stdin.isTTY) throw usage("deleting needs --yes when not run from a terminal");
        const rl = readline.createInterface({ input: process.stdin, output: process.stderr });
        const answer = await rl.question(`Delete instance '${name}'? Files on the share are kept. [y/N] `);
        rl.close();
        if (!/^y(es)?$/i.test(answer.trim())) throw new CliExit(1, "Not deleted.");
      }
      const r = await ctx.api.DELETE("/api/instances/{name}", { params: { path: { name } } });
      if (!r.response.ok) throw toApiError(r.response, r.error);
      await waitOrReturn(ctx, r.response, `delete ${name}`, o.wait, name);
    });

  cmd
    .command("ssh")
    .description("Open an SSH session to the instance (needs SSH public access and your key on it).")
    .argument("<name>")
    .argument("[sshArgs...]", "extra arguments for ssh, after --")
    .option("-i, --identity-file <file>", "private key file for ssh")
    .option("--print", "print the ssh command instead of running it")
    .action(async (name: string, sshArgs: string[], o: { identityFile?: string; print?: boolean }, c: Command) => {
      const ctx = context(c);
      const inst = unwrap(await ctx.api.GET("/api/instances/{name}", { params: { path: { name } } }));
      if (inst.ssh.publicAccess !== "Enabled") throw new CliExit(1, `error: SSH is disabled on '${name}' (sshPublicAccess is fixed at creation; create one with --ssh-public-access-enabled).`);
      const address = inst.ssh.address ?? inst.network.publicIp ?? inst.network.privateIp;
      if (!address) throw new CliExit(1, `error: '${name}' has no address yet (state ${inst.state}).`);
      const args = ["-p", String(inst.ssh.port ?? 22), ...(o.identityFile ? ["-i", o.identityFile] : []), `${inst.ssh.adminUserName}@${address}`, ...sshArgs];
      if (o.print) return ctx.out(["ssh", ...args].join(" "));
      const child = spawn("ssh", args, { stdio: "inherit" });
      const code = await new Promise<number>((resolve) => {
        child.on("error", () => resolve(127));
        child.on("exit", (c2) => resolve(c2 ?? 1));
      });
      if (code !== 0) throw new CliExit(code);
    });

  return cmd;
}
