// Orchestrators replay: the same history must give the same decisions. So orchestrator code,
// and everything it imports for real (not `import type`), must not touch the clock, randomness,
// timers, the environment, the network or Node built-ins, nor the Azure clients (all I/O lives
// in activities). This is the lint rule of style.md, enforced on the import graph.
import fs from "node:fs";
import path from "node:path";
import ts from "typescript";
import { describe, expect, it } from "vitest";

const ROOT = path.resolve(__dirname, "../..");

/** Orchestrator entry points: every orchestrations/<workflow>/*rchestrator*.ts file. */
function orchestratorFiles(): string[] {
  const dir = path.join(ROOT, "orchestrations");
  return fs
    .readdirSync(dir)
    .flatMap((w) => {
      const sub = path.join(dir, w);
      return fs.statSync(sub).isDirectory() ? fs.readdirSync(sub).map((f) => path.join(sub, f)) : [];
    })
    .filter((f) => /orchestrator\.ts$/i.test(f));
}

const ALLOWED_PACKAGES = new Set(["durable-functions"]);
const FORBIDDEN_CALLS: [RegExp, string][] = [
  [/^Date\.now$/, "Date.now() (use context.df.currentUtcDateTime)"],
  [/^Math\.random$/, "Math.random() (randomness breaks replay)"],
  [/^(setTimeout|setInterval|setImmediate|queueMicrotask)$/, "a JS timer (use context.df.createTimer)"],
  [/^(fetch|require)$/, "I/O (call an activity)"],
  [/^performance\.now$/, "the clock"],
  [/^crypto\.\w+$/, "randomness"],
];

type Finding = { file: string; what: string };

function scan(file: string, seen: Set<string>, findings: Finding[]): void {
  if (seen.has(file)) return;
  seen.add(file);
  const source = ts.createSourceFile(file, fs.readFileSync(file, "utf8"), ts.ScriptTarget.ES2022, true);
  const rel = path.relative(ROOT, file);
  const visit = (node: ts.Node): void => {
    if (ts.isImportDeclaration(node) && ts.isStringLiteral(node.moduleSpecifier)) {
      const spec = node.moduleSpecifier.text;
      const typeOnly = node.importClause?.isTypeOnly === true ||
        (node.importClause?.namedBindings !== undefined &&
          ts.isNamedImports(node.importClause.namedBindings) &&
          !node.importClause.name &&
          node.importClause.namedBindings.elements.every((e) => e.isTypeOnly));
      if (!typeOnly) {
        if (spec.startsWith(".")) {
          const target = [".ts", "/index.ts"].map((ext) => path.resolve(path.dirname(file), spec) + ext).find((f) => fs.existsSync(f));
          if (target) scan(target, seen, findings);
        } else if (!ALLOWED_PACKAGES.has(spec)) {
          findings.push({ file: rel, what: `imports "${spec}"` });
        }
      }
    }
    if (ts.isCallExpression(node) || ts.isNewExpression(node)) {
      const callee = node.expression.getText(source);
      if (ts.isNewExpression(node) && callee === "Date" && (node.arguments?.length ?? 0) === 0) {
        findings.push({ file: rel, what: "new Date() (use context.df.currentUtcDateTime)" });
      }
      for (const [re, why] of FORBIDDEN_CALLS) if (re.test(callee)) findings.push({ file: rel, what: `calls ${callee}: ${why}` });
    }
    if (ts.isPropertyAccessExpression(node) && node.getText(source).startsWith("process.")) {
      findings.push({ file: rel, what: `reads ${node.getText(source)} (settings belong in activities)` });
    }
    ts.forEachChild(node, visit);
  };
  visit(source);
}

describe("orchestrator determinism", () => {
  const entries = orchestratorFiles();

  it("finds the orchestrators", () => {
    expect(entries.length).toBeGreaterThanOrEqual(2);
  });

  it.each(entries.map((f) => [path.relative(ROOT, f), f]))("%s and what it imports stay deterministic", (_rel, file) => {
    const findings: Finding[] = [];
    scan(file, new Set(), findings);
    expect(findings).toEqual([]);
  });

  it("catches a forbidden call (the check can fail)", () => {
    const tmp = path.join(ROOT, "dist", "determinism-probe.ts");
    fs.mkdirSync(path.dirname(tmp), { recursive: true });
    fs.writeFileSync(tmp, 'import fs from "node:fs";\nexport const t = () => Date.now() + Math.random() + fs.readdirSync(".").length + new Date().getTime();\n');
    try {
      const findings: Finding[] = [];
      scan(tmp, new Set(), findings);
      expect(findings.map((f) => f.what)).toEqual([
        'imports "node:fs"',
        "calls Date.now: Date.now() (use context.df.currentUtcDateTime)",
        "calls Math.random: Math.random() (randomness breaks replay)",
        "new Date() (use context.df.currentUtcDateTime)",
      ]);
    } finally {
      fs.rmSync(tmp, { force: true });
    }
  });
});
