// cix job submit|list|show|cancel|logs
import { Command, Option } from "commander";
import { TERMINAL_JOB_STATES, unwrap, type Job, type JobSubmissionBody } from "../../client/api";
import { CliExit, context, type Ctx } from "../context";
import { duration, keyValues, render, table } from "../output";
import { followJob, jobExitCode } from "../wait";
import { pairs } from "./instance";

const JOB_STATES = ["Queued", "Starting", "Running", "Completed", "Failed", "Canceled", "TimedOut"];
const collect = (v: string, prev: string[] = []) => [...prev, v];

/** One argument is a shell command as written; several are words, quoted for the shell. */
export function commandLine(words: string[]): string {
  if (words.length === 1) return words[0]!;
  return words.map((w) => (/^[A-Za-z0-9_\/.:=@%+,-]+$/.test(w) ? w : `'${w.replace(/'/g, `'\\''`)}'`)).join(" ");
}

function printJob(ctx: Ctx, job: Job): void {
  ctx.out(render(job, ctx.format, () => keyValues(job as unknown as Record<string, unknown>)));
}

async function finish(ctx: Ctx, id: string): Promise<never> {
  const job = await followJob(ctx.api, id);
  const code = jobExitCode(job);
  const why = job.error ? `: ${job.error.code}: ${job.error.message}` : "";
  ctx.err(`job ${id} ${job.state}${job.exitCode !== undefined ? ` (exit code ${job.exitCode})` : ""}${why}`);
  throw new CliExit(code);
}

export function jobCommand(): Command {
  const cmd = new Command("job").description("Run jobs on an instance and follow them.");

  cmd
    .command("submit")
    .description("Queue a command on an instance: cix job submit ws1 -- python train.py --epochs 3")
    .argument("<instance>")
    .argument("<command...>", "the command (after --); one argument is run as a shell line")
    .option("--name <name>", "job name")
    .option("--gpus <n>", "GPUs the job needs", Number)
    .option("--timeout-minutes <n>", "stop it after this long", Number)
    .option("--env <key=value>", "an environment variable (repeatable)", collect)
    .option("--idempotency-key <key>", "a repeated key returns the first job")
    .option("--wait", "stream its output and exit with its exit code")
    .action(async (instance: string, words: string[], o: Record<string, unknown>, c: Command) => {
      const ctx = context(c);
      const body: JobSubmissionBody = { command: commandLine(words) };
      if (o.name !== undefined) body.name = String(o.name);
      if (o.gpus !== undefined) body.gpus = o.gpus as number;
      if (o.timeoutMinutes !== undefined) body.timeoutMinutes = o.timeoutMinutes as number;
      const env = pairs(o.env as string[] | undefined, "--env");
      if (env) body.environment = { variables: env };
      const header = o.idempotencyKey ? { "Idempotency-Key": String(o.idempotencyKey) } : {};
      const job = unwrap(await ctx.api.POST("/api/instances/{name}/jobs", { params: { path: { name: instance }, header }, body }));
      if (!o.wait) return printJob(ctx, job);
      ctx.err(`job ${job.id} queued on ${instance}`);
      await finish(ctx, job.id);
    });

  cmd
    .command("list")
    .description("List an instance's jobs.")
    .argument("<instance>")
    .addOption(new Option("--state <state>", "only this state").choices(JOB_STATES))
    .action(async (instance: string, o: { state?: string }, c: Command) => {
      const ctx = context(c);
      const all: Job[] = [];
      let query: Record<string, string> = o.state ? { state: o.state } : {};
      for (;;) {
        const page = unwrap(await ctx.api.GET("/api/instances/{name}/jobs", { params: { path: { name: instance }, query: query as { state?: never } } }));
        all.push(...page.value);
        if (!page.nextLink) break;
        query = Object.fromEntries(new URL(page.nextLink, ctx.endpoint).searchParams);
      }
      ctx.out(
        render({ value: all }, ctx.format, () =>
          table(all, [
            { header: "ID", value: (j) => j.id },
            { header: "NAME", value: (j) => j.name },
            { header: "STATE", value: (j) => j.state },
            { header: "EXIT", value: (j) => j.exitCode },
            { header: "SUBMITTED", value: (j) => j.submittedAt },
            { header: "RAN", value: (j) => duration(j.startedAt, j.endedAt) },
            { header: "COMMAND", value: (j) => { const c = j.command ?? ""; return c.length > 40 ? `${c.slice(0, 39)}…` : c; } },
          ]),
        ),
      );
    });

  cmd
    .command("show")
    .description("Show a job.")
    .argument("<id>")
    .action(async (id: string, _o: unknown, c: Command) => {
      const ctx = context(c);
      printJob(ctx, unwrap(await ctx.api.GET("/api/jobs/{id}", { params: { path: { id } } })));
    });

  cmd
    .command("cancel")
    .description("Cancel a queued or running job.")
    .argument("<id>")
    .action(async (id: string, _o: unknown, c: Command) => {
      const ctx = context(c);
      printJob(ctx, unwrap(await ctx.api.POST("/api/jobs/{id}/cancel", { params: { path: { id } } })));
    });

  cmd
    .command("logs")
    .description("Print a job's output (stdout, then stderr); --follow streams it until the job ends.")
    .argument("<id>")
    .option("-f, --follow", "keep printing while the job runs, then exit with its exit code")
    .action(async (id: string, o: { follow?: boolean }, c: Command) => {
      const ctx = context(c);
      if (o.follow) return finish(ctx, id);
      const r = await ctx.api.GET("/api/jobs/{id}/logs", { params: { path: { id } }, parseAs: "text" });
      process.stdout.write(unwrap(r) as string);
      const job = unwrap(await ctx.api.GET("/api/jobs/{id}", { params: { path: { id } } }));
      if (!TERMINAL_JOB_STATES.includes(job.state)) ctx.err(`(job ${id} is ${job.state}; --follow to keep printing)`);
    });

  return cmd;
}
