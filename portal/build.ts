// Builds the portal (portal/src) into dist/portal/www: one minified ES module and one CSS file,
// named by content hash so they can be cached for a year, and index.html pointing at them
// (served with no-cache, so a deploy is picked up at once). Run by `npm run build`.
import fs from "node:fs";
import path from "node:path";
import { build } from "esbuild";

const ROOT = path.resolve(__dirname, "..", "..");
export const WWW_DIR = path.join(ROOT, "dist", "portal", "www");

export async function buildPortal(): Promise<{ js: string; css: string }> {
  fs.rmSync(WWW_DIR, { recursive: true, force: true });
  const result = await build({
    entryPoints: { app: path.join(ROOT, "portal", "src", "main.tsx") },
    bundle: true,
    minify: true,
    format: "esm",
    target: "es2020",
    jsx: "automatic",
    jsxImportSource: "preact",
    outdir: path.join(WWW_DIR, "assets"),
    entryNames: "[name]-[hash]",
    metafile: true,
    legalComments: "none",
    logLevel: "warning",
    define: { "process.env.NODE_ENV": '"production"' },
  });
  const outputs = Object.keys(result.metafile.outputs).map((f) => path.basename(f));
  const js = outputs.find((f) => f.endsWith(".js"))!;
  const css = outputs.find((f) => f.endsWith(".css"))!;
  const html = fs.readFileSync(path.join(ROOT, "portal", "index.html"), "utf8").replace("%JS%", `/assets/${js}`).replace("%CSS%", `/assets/${css}`);
  fs.writeFileSync(path.join(WWW_DIR, "index.html"), html);
  return { js, css };
}

if (require.main === module) {
  buildPortal().catch((err: unknown) => {
    console.error(err);
    process.exit(1);
  });
}
