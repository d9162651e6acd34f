// Orchestration versioning, as DurableTask.Core applies it (Settings/VersioningSettings.cs,
// TaskOrchestrationDispatcher): host.json durableTask.defaultVersion is the version new
// orchestrations get when the client names none (sub-orchestrations too), and the worker's
// version every episode is checked against with versionMatchStrategy; a mismatch fails the
// instance (versionFailureStrategy "Fail") or leaves it waiting for a worker that matches
// ("Reject", the default: DurableTask abandons the work item and retries it later).

export type Versioning = {
  /** The worker's version (defaultVersion); undefined when host.json sets none. */
  defaultVersion?: string;
  match: "None" | "Strict" | "CurrentOrOlder";
  failure: "Reject" | "Fail";
};

export const NO_VERSIONING: Versioning = { match: "None", failure: "Reject" };

const MATCH = ["None", "Strict", "CurrentOrOlder"] as const;
const FAILURE = ["Reject", "Fail"] as const;

/** Reads the three durableTask settings; a value the extension would not take stops the host with its name. */
export function versioningFrom(dt: Record<string, unknown>): Versioning {
  const pick = <T extends string>(key: string, allowed: readonly T[], fallback: T): T => {
    const v = dt[key];
    if (v === undefined) return fallback;
    const hit = allowed.find((a) => a.toLowerCase() === String(v).toLowerCase());
    if (!hit) throw new Error(`host.json durableTask.${key} must be one of ${allowed.join(", ")} (got ${JSON.stringify(v)})`);
    return hit;
  };
  const raw = dt.defaultVersion;
  return {
    ...(raw !== undefined && raw !== null ? { defaultVersion: String(raw) } : {}),
    match: pick("versionMatchStrategy", MATCH, "None"),
    failure: pick("versionFailureStrategy", FAILURE, "Reject"),
  };
}

/** System.Version.TryParse: two to four non-negative integer parts. */
function dotnetVersion(v: string): number[] | undefined {
  const parts = v.trim().split(".");
  if (parts.length < 2 || parts.length > 4 || !parts.every((p) => /^\d+$/.test(p))) return undefined;
  return parts.map(Number);
}

/** VersioningSettings.CompareVersions: empty is lowest, then .NET versions, else case-insensitive ordinal text. */
export function compareVersions(a: string | undefined, b: string | undefined): number {
  const emptyA = !a?.trim();
  const emptyB = !b?.trim();
  if (emptyA && emptyB) return 0;
  if (emptyA) return -1;
  if (emptyB) return 1;
  const va = dotnetVersion(a!);
  const vb = dotnetVersion(b!);
  if (va && vb) {
    // System.Version: a missing build or revision part is lower than any present one.
    for (let i = 0; i < 4; i++) {
      const x = va[i] ?? -1;
      const y = vb[i] ?? -1;
      if (x !== y) return x < y ? -1 : 1;
    }
    return 0;
  }
  const x = a!.toUpperCase();
  const y = b!.toUpperCase();
  return x === y ? 0 : x < y ? -1 : 1;
}

/** Whether this worker may run an orchestration of `version`. */
export function versionMatches(v: Versioning, version: string | undefined): boolean {
  if (v.match === "Strict") return (version ?? "") === (v.defaultVersion ?? "");
  if (v.match === "CurrentOrOlder") return compareVersions(version, v.defaultVersion) <= 0;
  return true;
}

/** The FailureDetails DurableTask gives an instance that versioning fails. */
export const VERSION_MISMATCH = { ErrorType: "VersionMismatch", ErrorMessage: "Orchestration version did not comply with Worker Versioning", IsNonRetriable: true };
