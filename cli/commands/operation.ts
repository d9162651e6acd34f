// cix operation show <id> [--wait]: pick up an operation again (after --no-wait or Ctrl-C).
import { Command } from "commander";
import { unwrap } from "../../client/api";
import { context } from "../context";
import { keyValues, render } from "../output";
import { waitForOperation } from "../wait";

export function operationCommand(): Command {
  const cmd = new Command("operation").description("Long-running operations (create, start, stop, restart, delete).");
  cmd
    .command("show")
    .description("Show an operation and its steps; --wait follows it to the end.")
    .argument("<id>")
    .option("--wait", "wait until it ends, showing its steps")
    .action(async (id: string, o: { wait?: boolean }, c: Command) => {
      const ctx = context(c);
      let op = unwrap(await ctx.api.GET("/api/operations/{id}", { params: { path: { id } } }));
      if (o.wait) op = await waitForOperation(ctx.api, id, { label: `${op.name}${op.instance ? ` ${op.instance}` : ""}` });
      ctx.out(render(op, ctx.format, () => keyValues(op as unknown as Record<string, unknown>)));
    });
  return cmd;
}
