// The OpenAPI document's paths are generated from the route table the functions register from;
// this loads the built app the way the host does and checks both directions, so a function
// registered outside the table (or a table entry nothing registers) fails here.
import { execFileSync } from "node:child_process";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { buildOpenApiDocument } from "../../shared/openapi";

const ROOT = path.resolve(__dirname, "../..");

/** HTTP functions of dist/app.js as "METHOD /route", read in a child process (the core hook is process-wide). */
function registeredRoutes(): string[] {
  const script = `
    const { FunctionsCore, installFunctionsCore } = require("./dist/local/host/functionsCore.js");
    const core = new FunctionsCore();
    installFunctionsCore(core);
    require("./dist/app.js");
    const out = [];
    for (const fn of core.functions.values()) {
      if (fn.trigger.type.toLowerCase() !== "httptrigger") continue;
      for (const m of fn.trigger.methods) out.push(m.toUpperCase() + " /" + fn.trigger.route);
    }
    process.stdout.write(JSON.stringify(out));`;
  return JSON.parse(execFileSync(process.execPath, ["-e", script], { cwd: ROOT, encoding: "utf8", env: { ...process.env, FUNCTIONS_WORKER_RUNTIME: "node" } })) as string[];
}

function documentedRoutes(): string[] {
  const doc = buildOpenApiDocument() as { paths: Record<string, Record<string, unknown>> };
  return Object.entries(doc.paths).flatMap(([p, item]) => Object.keys(item).filter((k) => k !== "parameters").map((m) => `${m.toUpperCase()} ${p}`));
}

/** `{*path}` and `{name:regex}` templates written as OpenAPI writes them. */
const asOpenApi = (route: string) => route.replace(/\{\*?([A-Za-z0-9_]+)(:[^}]*)?\??\}/g, "{$1}");

describe("route table ↔ OpenAPI document", () => {
  it("documents every registered HTTP route and nothing else", () => {
    const registered = registeredRoutes().map(asOpenApi).sort();
    expect(registered.length).toBeGreaterThan(10);
    expect(documentedRoutes().sort()).toEqual(registered);
  });
});
