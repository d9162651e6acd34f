// Printing results: `-o table` (the default on a terminal), `json` (the default when piped: the
// API's objects as they are, stable for scripts) or `yaml`. Tables are plain aligned columns.
import YAML from "yaml";

export const FORMATS = ["table", "json", "yaml"] as const;
export type Format = (typeof FORMATS)[number];

export function defaultFormat(stream: NodeJS.WriteStream = process.stdout): Format {
  return stream.isTTY ? "table" : "json";
}

export type Column<T> = { header: string; value: (row: T) => string | number | undefined | null };

export function table<T>(rows: readonly T[], columns: Column<T>[]): string {
  const cells = rows.map((r) => columns.map((c) => {
    const v = c.value(r);
    return v === undefined || v === null || v === "" ? "-" : String(v);
  }));
  const widths = columns.map((c, i) => Math.max(c.header.length, ...cells.map((row) => row[i]!.length)));
  const line = (vals: string[]) => vals.map((v, i) => (i === vals.length - 1 ? v : v.padEnd(widths[i]!))).join("  ");
  return [line(columns.map((c) => c.header)), line(widths.map((w) => "-".repeat(w))), ...cells.map(line)].join("\n");
}

/** Key/value lines for one resource in table format; nested objects are flattened a.b: v. */
export function keyValues(obj: Record<string, unknown>): string {
  const out: [string, string][] = [];
  const walk = (prefix: string, v: unknown) => {
    if (v === undefined || v === null) return;
    if (Array.isArray(v)) {
      if (v.length === 0) return;
      if (v.every((x) => typeof x !== "object")) return void out.push([prefix, v.join(", ")]);
      v.forEach((x, i) => walk(`${prefix}[${i}]`, x));
      return;
    }
    if (typeof v === "object") {
      for (const [k, x] of Object.entries(v as Record<string, unknown>)) walk(prefix ? `${prefix}.${k}` : k, x);
      return;
    }
    out.push([prefix, String(v)]);
  };
  walk("", obj);
  const width = Math.max(0, ...out.map(([k]) => k.length));
  return out.map(([k, v]) => `${k.padEnd(width)}  ${v}`).join("\n");
}

export function render(value: unknown, format: Format, asTable: () => string): string {
  if (format === "json") return JSON.stringify(value, null, 2);
  if (format === "yaml") return YAML.stringify(value).trimEnd();
  return asTable();
}

/** Seconds or minutes between two ISO times, for humans. */
export function duration(fromIso: string | undefined, toIso?: string): string {
  if (!fromIso) return "";
  const ms = (toIso ? Date.parse(toIso) : Date.now()) - Date.parse(fromIso);
  if (!Number.isFinite(ms) || ms < 0) return "";
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)}s`;
  return `${Math.floor(ms / 60_000)}m${String(Math.round((ms % 60_000) / 1000)).padStart(2, "0")}s`;
}
