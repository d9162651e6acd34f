// cix sizes
import { Command } from "commander";
import { unwrap } from "../../client/api";
import { context } from "../context";
import { render, table } from "../output";

export function sizesCommand(): Command {
  return new Command("sizes")
    .description("VM sizes you may use, and your vCPU quota per family.")
    .action(async (_o: unknown, c: Command) => {
      const ctx = context(c);
      const s = unwrap(await ctx.api.GET("/api/sizes"));
      ctx.out(
        render(s, ctx.format, () =>
          [
            table(s.value, [
              { header: "SIZE", value: (v) => v.name },
              { header: "FAMILY", value: (v) => v.family },
              { header: "VCPUS", value: (v) => v.vCpus },
              { header: "GPUS", value: (v) => v.gpus },
              { header: "MEMORY GB", value: (v) => v.memoryGb },
            ]),
            "",
            table(s.quota, [
              { header: "FAMILY", value: (q) => q.family },
              { header: "VCPUS USED", value: (q) => q.used },
              { header: "LIMIT", value: (q) => q.limit ?? "none" },
            ]),
          ].join("\n"),
        ),
      );
    });
}
