// infra/ compiles and lints clean with the Bicep CLI, and the template's app settings match the
// settings the code reads: every one is set or has a documented default (infra/README.md), and
// the template sets nothing that neither the code nor the Functions host reads.
// The Bicep CLI comes from NuGet (infra/install-bicep.sh, run by .ci/run); where none is found
// the build/lint tests say so and skip — except in CI, where they must run.
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";

const ROOT = path.resolve(__dirname, "../..");
const INFRA = path.join(ROOT, "infra");

function findBicep(): string | undefined {
  const candidates = [process.env.BICEP_PATH, path.join(ROOT, ".tools", "bicep", "bicep"), path.join(process.env.HOME ?? "", ".bicep", "bicep")];
  for (const c of candidates) if (c && fs.existsSync(c)) return c;
  const which = spawnSync("sh", ["-c", "command -v bicep"], { encoding: "utf8" });
  return which.status === 0 && which.stdout.trim() ? which.stdout.trim() : undefined;
}

const bicep = findBicep();
if (!bicep) {
  const msg = "no Bicep CLI found (BICEP_PATH, .tools/bicep/bicep, ~/.bicep/bicep or PATH): run infra/install-bicep.sh; skipping bicep build/lint";
  if (process.env.CI === "true") throw new Error(`${msg} — CI must run them`);
  console.warn(msg);
}

describe.skipIf(!bicep)("bicep", () => {
  it("builds infra/main.bicep with no errors and no warnings", () => {
    const r = spawnSync(bicep!, ["build", path.join(INFRA, "main.bicep"), "--stdout"], { encoding: "utf8", maxBuffer: 64 * 1024 * 1024 });
    expect(r.stderr.trim(), r.stderr).toBe("");
    expect(r.status).toBe(0);
    const template = JSON.parse(r.stdout) as { resources: unknown };
    expect(template.resources).toBeDefined();
  });

  it("lints infra/ clean (every module through main.bicep)", () => {
    const r = spawnSync(bicep!, ["lint", path.join(INFRA, "main.bicep")], { encoding: "utf8" });
    expect(`${r.stdout}${r.stderr}`.trim()).toBe("");
    expect(r.status).toBe(0);
  });
});

// --- app settings: template vs code -------------------------------------------------------

const read = (rel: string) => fs.readFileSync(path.join(ROOT, rel), "utf8");

function productionSources(): string[] {
  const out: string[] = [path.join(ROOT, "app.ts")];
  const walk = (dir: string) => {
    for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
      const p = path.join(dir, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.name.endsWith(".ts")) out.push(p);
    }
  };
  for (const d of ["functions", "services", "orchestrations", "shared"]) walk(path.join(ROOT, d));
  return out;
}

/** Settings the app's code reads: the settings parser's accessors, env.X, %X% binding expressions, envInt("X"). */
function settingsReadByCode(): Set<string> {
  const names = new Set<string>();
  const patterns = [
    /\b(?:raw|required|list|bool|int|envInt)\("([A-Z][A-Z0-9_]+)"/g,
    /\benv\.([A-Z][A-Z0-9_]+)\b/g,
    /%([A-Z][A-Z0-9_]+)%/g,
  ];
  for (const file of productionSources()) {
    const text = fs.readFileSync(file, "utf8");
    for (const re of patterns) for (const m of text.matchAll(re)) names.add(m[1]!);
  }
  // The storage connection is read by prefix (shared/azure/storageConnection.ts).
  const conn = read("shared/azure/storageConnection.ts");
  for (const m of conn.matchAll(/\$\{prefix\}([a-zA-Z]+)/g)) names.add(`AzureWebJobsStorage__${m[1]}`);
  for (const svc of ["blob", "queue", "table"]) names.add(`AzureWebJobsStorage__${svc}ServiceUri`);
  names.add("AzureWebJobsStorage");
  return names;
}

/** App settings the template sets: the literal names in functionApp.bicep and the keys of main.bicep's `settings` object. */
function settingsSetByTemplate(): Set<string> {
  const names = new Set<string>();
  for (const m of read("infra/modules/functionApp.bicep").matchAll(/\{ name: '([A-Za-z0-9_]+)', value:/g)) names.add(m[1]!);
  const main = read("infra/main.bicep");
  const block = /\n    settings: \{\n([\s\S]*?)\n    \}/.exec(main)?.[1] ?? "";
  for (const m of block.matchAll(/^\s*([A-Za-z0-9_]+):/gm)) names.add(m[1]!);
  return names;
}

/** Backticked names in the first column of a section of infra/README.md. */
function documented(heading: string): Set<string> {
  const text = read("infra/README.md");
  const start = text.indexOf(heading);
  if (start < 0) throw new Error(`infra/README.md has no section "${heading}"`);
  const rest = text.slice(start + heading.length);
  const section = rest.slice(0, rest.search(/\n##/) < 0 ? undefined : rest.search(/\n##/));
  const names = new Set<string>();
  for (const line of section.split("\n")) {
    const cell = line.startsWith("|") ? line.split("|")[1] ?? "" : line;
    for (const m of cell.matchAll(/`([A-Za-z][A-Za-z0-9_]*(?:__[A-Za-z*]+)?)`/g)) names.add(m[1]!);
  }
  return names;
}

describe("app settings", () => {
  const code = settingsReadByCode();
  const template = settingsSetByTemplate();
  const defaults = documented("### Not set by the template");
  const hostOnly = documented("### Read by the Functions host, not by the app's code");

  it("finds the settings on both sides (the scan itself works)", () => {
    expect(code).toContain("WORKSPACE_NAME");
    expect(code).toContain("AZURE_CLIENT_ID");
    expect(code).toContain("AUTOSTOP_SCHEDULE");
    expect(template).toContain("WORKSPACE_NAME");
    expect(template).toContain("AzureWebJobsStorage__clientId");
    expect(defaults).toContain("ARM_ENDPOINT");
  });

  it("sets every setting the code reads, or documents its default", () => {
    const identityStorage = [...template].some((n) => n.startsWith("AzureWebJobsStorage__"));
    const missing = [...code].filter((n) => !template.has(n) && !defaults.has(n))
      // The identity-based form stands in for the connection string; __accountName/__serviceUri are alternatives to the URIs set.
      .filter((n) => !(identityStorage && ["AzureWebJobsStorage", "AzureWebJobsStorage__accountName", "AzureWebJobsStorage__serviceUri"].includes(n)));
    expect(missing).toEqual([]);
  });

  it("sets nothing that neither the code nor the Functions host reads", () => {
    const unread = [...template].filter((n) => !code.has(n) && !hostOnly.has(n));
    expect(unread).toEqual([]);
  });

  it("sets every setting a binding names as %SETTING%: the Functions host resolves those itself, with no code default (a missing one stops the function from loading)", () => {
    const bound = new Set<string>();
    for (const file of productionSources()) for (const m of fs.readFileSync(file, "utf8").matchAll(/%([A-Z][A-Z0-9_]+)%/g)) bound.add(m[1]!);
    expect(bound.size).toBeGreaterThan(0);
    expect([...bound].filter((n) => !template.has(n))).toEqual([]);
  });

  it("documents no default for a setting the code does not read, nor for one the template sets", () => {
    expect([...defaults].filter((n) => !code.has(n) && !["IDENTITY_ENDPOINT", "IDENTITY_HEADER"].includes(n))).toEqual([]);
    expect([...defaults].filter((n) => template.has(n))).toEqual([]);
  });
});

describe("roles.json", () => {
  it("is one file for both: Bicep loads it and the emulator imports it", () => {
    expect(read("infra/main.bicep")).toContain("loadJsonContent('roles.json')");
    expect(read("infra/modules/roleAssignments.bicep")).toContain("loadJsonContent('../roles.json')");
    expect(read("local/cloud/rbac.ts")).toContain('from "../../infra/roles.json"');
    // No Owner, Contributor or User Access Administrator for the app, anywhere.
    const roles = JSON.parse(read("infra/roles.json")) as { assignments: Array<{ builtInRoleId?: string }> };
    const forbidden = ["8e3af657-a8ff-443c-a75c-2fe8c4bcb635", "b24988ac-6180-42a0-ab88-20f7382dd24c", "18d7d88d-d35e-4fb5-a5c3-7773c20a72d9"];
    expect(roles.assignments.filter((a) => a.builtInRoleId && forbidden.includes(a.builtInRoleId))).toEqual([]);
  });
});

