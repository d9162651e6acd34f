// Reads what the emulator honours from cloud-init user data: the `mounts` entries that name an
// Azure Files share (SMB `//<account>.file.core.windows.net/<share>` or NFS
// `<account>.file.core.windows.net:/<account>/<share>`).
import zlib from "node:zlib";

export type ShareMount = { account: string; share: string; subPath: string; target: string };

/** customData is base64; cloud-init also accepts gzip-compressed user data. */
export function decodeCustomData(b64: string): string {
  const raw = Buffer.from(b64, "base64");
  return raw[0] === 0x1f && raw[1] === 0x8b ? zlib.gunzipSync(raw).toString("utf8") : raw.toString("utf8");
}

export const isBase64 = (s: string) => s.length % 4 === 0 && /^[A-Za-z0-9+/]*={0,2}$/.test(s);

const unquote = (s: string) => s.trim().replace(/^(['"])(.*)\1$/, "$2");

function splitFlow(s: string): string[] {
  const out: string[] = [];
  let cur = "";
  let quote = "";
  for (const ch of s) {
    if (quote) {
      if (ch === quote) quote = "";
      cur += ch;
    } else if (ch === '"' || ch === "'") {
      quote = ch;
      cur += ch;
    } else if (ch === ",") {
      out.push(unquote(cur));
      cur = "";
    } else cur += ch;
  }
  if (cur.trim()) out.push(unquote(cur));
  return out;
}

/** The `mounts:` list of a #cloud-config document, flow (`- [a, b]`) or block (`- - a`) style. */
export function parseMountEntries(text: string): string[][] {
  const lines = text.split(/\r?\n/);
  const start = lines.findIndex((l) => /^mounts:\s*(#.*)?$/.test(l));
  if (start < 0) return [];
  const entries: string[][] = [];
  let current: string[] | undefined;
  for (const line of lines.slice(start + 1)) {
    const t = line.trim();
    if (!t || t.startsWith("#")) continue;
    if (!/^\s/.test(line) && !t.startsWith("-")) break; // next top-level key
    let m: RegExpExecArray | null;
    if ((m = /^-\s*\[(.*)\]\s*$/.exec(t))) {
      entries.push(splitFlow(m[1]));
      current = undefined;
    } else if ((m = /^-\s+-\s+(.*)$/.exec(t))) {
      current = [unquote(m[1])];
      entries.push(current);
    } else if ((m = /^-\s+(.*)$/.exec(t)) && current) {
      current.push(unquote(m[1]));
    }
  }
  return entries;
}

export function parseShareSource(source: string): { account: string; share: string; subPath: string } | undefined {
  let m = /^\/\/([a-z0-9]+)\.file\.core\.windows\.net\/([^/]+)(\/.*)?$/i.exec(source);
  if (m) return { account: m[1].toLowerCase(), share: m[2].toLowerCase(), subPath: m[3] ?? "" };
  m = /^([a-z0-9]+)\.file\.core\.windows\.net:\/([a-z0-9]+)\/([^/]+)(\/.*)?$/i.exec(source);
  if (m) return { account: m[2].toLowerCase(), share: m[3].toLowerCase(), subPath: m[4] ?? "" };
  return undefined;
}

export function shareMounts(cloudInit: string | undefined): ShareMount[] {
  if (!cloudInit) return [];
  const out: ShareMount[] = [];
  for (const entry of parseMountEntries(cloudInit)) {
    if (entry.length < 2) continue;
    const src = parseShareSource(entry[0]);
    if (src && entry[1].startsWith("/")) out.push({ ...src, target: entry[1] });
  }
  return out;
}
