// Blob paths of bindings: "container/name pattern". A trigger path may hold `{capture}`s that
// match parts of a blob name and become trigger metadata (e.g. "images/{name}.png" gives
// `name`), as in the Blob Storage extension; `{name}` alone matches the rest of the name,
// slashes included.
export type BlobPath = { container: string; blob: string };

export function splitBlobPath(path: string, what: string): BlobPath {
  const i = path.indexOf("/");
  const container = i < 0 ? path : path.slice(0, i);
  const blob = i < 0 ? "" : path.slice(i + 1);
  if (!/^[a-z0-9](?:[a-z0-9]|-(?!-)){1,61}[a-z0-9]$/.test(container)) {
    throw new Error(`${what}: "${container}" is not a valid container name (3-63 lower-case letters, digits and single hyphens)`);
  }
  return { container, blob };
}

export type BlobNamePattern = { source: string; match(name: string): Record<string, string> | undefined };

export function blobNamePattern(pattern: string): BlobNamePattern {
  const names: string[] = [];
  let re = "";
  let last = 0;
  for (const m of pattern.matchAll(/\{([^{}]+)\}/g)) {
    re += escape(pattern.slice(last, m.index));
    names.push(m[1]!);
    re += "(.+?)";
    last = m.index! + m[0].length;
  }
  re += escape(pattern.slice(last));
  const regex = new RegExp(`^${re}$`);
  return {
    source: pattern,
    match(name) {
      if (pattern === "") return {}; // a bare container: every blob in it
      const m = regex.exec(name);
      if (!m) return undefined;
      return Object.fromEntries(names.map((n, i) => [n, m[i + 1]!]));
    },
  };
}

const escape = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
