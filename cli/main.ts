#!/usr/bin/env node
// cix: the command-line client of Compute Instances (in the spirit of `az ml compute`).
// Exit codes: 0 done; 1 the API refused or the operation failed (code and message on stderr);
// 2 a usage mistake; 130 Ctrl-C while waiting (the operation goes on); job --wait/--follow: the
// job's own exit code (124 timed out, 143 canceled, 1 failed without one).
import { Command, CommanderError, Option } from "commander";
import { ApiError } from "../client/api";
import { CliExit } from "./context";
import { FORMATS } from "./output";
import { instanceCommand } from "./commands/instance";
import { jobCommand } from "./commands/job";
import { loginCommand, logoutCommand } from "./commands/login";
import { operationCommand } from "./commands/operation";
import { sizesCommand } from "./commands/sizes";

export function program(): Command {
  const p = new Command("cix")
    .description("Compute Instances from the command line: create and operate ML workstations, run jobs on them.")
    .option("--endpoint <url>", "API origin (default: CIX_ENDPOINT, then the saved login)")
    .option("--token <token>", "bearer token (default: CIX_TOKEN, then the saved login)")
    .addOption(new Option("-o, --output <format>", "table (default on a terminal), json (default when piped) or yaml").choices(FORMATS))
    .showHelpAfterError("(add --help for usage)");
  for (const c of [loginCommand(), logoutCommand(), sizesCommand(), instanceCommand(), jobCommand(), operationCommand()]) p.addCommand(c);
  // Every subcommand reports usage errors with exit code 2 instead of commander's 1.
  const strict = (c: Command) => {
    c.exitOverride();
    c.commands.forEach(strict);
  };
  strict(p);
  return p;
}

export function describeError(err: unknown): { code: number; message: string } {
  if (err instanceof CliExit) return { code: err.exitCode, message: err.message };
  if (err instanceof ApiError) {
    const where = err.target ? ` (${err.target})` : "";
    const details = (err.details ?? []).map((d) => `\n  ${d.target ? `${d.target}: ` : ""}${d.message}`).join("");
    return { code: 1, message: `error: ${err.code}${where}: ${err.message}${details}` };
  }
  if (err instanceof TypeError && /fetch failed/.test(err.message)) {
    const cause = (err as { cause?: { code?: string } }).cause?.code;
    return { code: 1, message: `error: cannot reach the API${cause ? ` (${cause})` : ""}; is it running, and is the endpoint right?` };
  }
  return { code: 1, message: `error: ${err instanceof Error ? err.message : String(err)}` };
}

async function main(argv: string[]): Promise<number> {
  try {
    await program().parseAsync(argv);
    return 0;
  } catch (err) {
    if (err instanceof CommanderError) {
      // Help and version print themselves and end with code 0; usage mistakes with 2.
      return err.exitCode === 0 ? 0 : 2;
    }
    const { code, message } = describeError(err);
    if (message) process.stderr.write(message + "\n");
    return code;
  }
}

if (require.main === module) {
  main(process.argv).then((code) => {
    process.exitCode = code;
  });
}
