// host.json `logging.logLevel`, applied as the Functions host applies it (Microsoft.Extensions.Logging
// filter rules): a log's category is matched against the configured categories, the longest one
// that prefixes it wins, else "default"; lines below that level are dropped. The worker's user
// logs (context.log/info/warn/...) have category `Function.<name>.User`, its system logs
// `Function.<name>`; the host's own lines `Host.*`.
// Source: https://learn.microsoft.com/azure/azure-functions/configure-monitoring#configure-categories

const ORDER = ["trace", "debug", "information", "warning", "error", "critical", "none"] as const;
export type HostLogLevel = (typeof ORDER)[number];

function rank(level: string): number {
  const i = ORDER.indexOf(level.toLowerCase() as HostLogLevel);
  return i < 0 ? ORDER.indexOf("information") : i;
}

/** The category the Functions host gives a worker log line. */
export function workerLogCategory(functionName: string | undefined, libraryCategory: string): string {
  if (!functionName) return libraryCategory === "user" ? "Function.User" : "Host.Function.Console";
  return libraryCategory === "user" ? `Function.${functionName}.User` : `Function.${functionName}`;
}

/** A predicate: is a line of this level in this category written? */
export function logLevelFilter(logLevel: Record<string, unknown> | undefined): (level: string, category: string) => boolean {
  const rules = Object.entries(logLevel ?? {})
    .filter((e): e is [string, string] => typeof e[1] === "string")
    .map(([category, level]) => ({ category: category.toLowerCase(), min: rank(level) }));
  const fallback = rules.find((r) => r.category === "default")?.min ?? rank("information");
  return (level, category) => {
    const c = category.toLowerCase();
    let best: { category: string; min: number } | undefined;
    for (const r of rules) {
      if (r.category === "default") continue;
      if ((c === r.category || c.startsWith(`${r.category}.`)) && (!best || r.category.length > best.category.length)) best = r;
    }
    const min = best?.min ?? fallback;
    return min < rank("none") && rank(level) >= min;
  };
}
