// The Azure Files REST surface the app uses, path-style: /files/<account>/<share>[/<path>],
// backed by DATA_DIR/cloud/shares/<account>/<share>/. Token auth requires
// x-ms-file-request-intent: backup, as Azure does for OAuth on Files.
import fs from "node:fs";
import path from "node:path";
import type { IncomingMessage, ServerResponse } from "node:http";
import { randomUUID } from "node:crypto";
import type { Ctx } from "./context";
import { readBody } from "./http";
import { key, type ShareRecord } from "./store";

const API_VERSION = "2025-11-05";
const DEFAULT_QUOTA_GIB = 102400;
const MAX_RANGE = 4 * 1024 * 1024;

class FilesError extends Error {
  constructor(readonly status: number, readonly code: string, message: string) {
    super(message);
  }
}

function headers(extra: Record<string, string> = {}): Record<string, string> {
  return { "x-ms-request-id": randomUUID(), "x-ms-version": API_VERSION, date: new Date().toUTCString(), ...extra };
}

function sendError(req: IncomingMessage, res: ServerResponse, e: FilesError): void {
  const xml = `<?xml version="1.0" encoding="utf-8"?><Error><Code>${e.code}</Code><Message>${esc(e.message)}\nRequestId:${randomUUID()}\nTime:${new Date().toISOString()}</Message></Error>`;
  const body = req.method === "HEAD" ? "" : xml;
  res.writeHead(e.status, headers({ "x-ms-error-code": e.code, "content-type": "application/xml", "content-length": String(Buffer.byteLength(body)) }));
  res.end(body);
}

const esc = (s: string) => s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");
const etagOf = (st: fs.Stats) => `"0x${Math.floor(st.mtimeMs * 1000).toString(16).toUpperCase()}${st.size.toString(16)}"`;
const iso7 = (d: Date) => d.toISOString().replace("Z", "0000Z");

/**
 * REST on NFS shares (learn.microsoft.com/rest/api/storageservices/create-directory and
 * create-file, "NFS only" headers): supported from x-ms-version 2025-05-05; files and directories
 * have an owner, group and mode (x-ms-owner, x-ms-group, x-ms-mode, default root:root, 0755 for a
 * directory and 0644 for a file), which is what decides who may write there from the VM.
 */
const NFS_MIN_VERSION = "2025-05-05";
function nfsAttributes(req: IncomingMessage, share: ShareRecord) {
  const version = String(req.headers["x-ms-version"] ?? "");
  if (!(version >= NFS_MIN_VERSION)) {
    throw new FilesError(400, "FileShareProtocolMismatch", `REST on an NFS share needs x-ms-version ${NFS_MIN_VERSION} or later (got '${version || "none"}').`);
  }
  const header = (name: string) => req.headers[name]?.toString();
  const mode = header("x-ms-mode");
  if (mode !== undefined && !/^[0-7]{4}$/.test(mode)) throw new FilesError(400, "InvalidHeaderValue", `The value for one of the HTTP headers is not in the correct format: x-ms-mode '${mode}'.`);
  for (const h of ["x-ms-owner", "x-ms-group"]) {
    const v = header(h);
    if (v !== undefined && !/^\d{1,10}$/.test(v)) throw new FilesError(400, "InvalidHeaderValue", `The value for one of the HTTP headers is not in the correct format: ${h} '${v}'.`);
  }
  const posix = (share.posix ??= {});
  return {
    set(rel: string, isDir: boolean): void {
      posix[rel] = { owner: header("x-ms-owner") ?? "0", group: header("x-ms-group") ?? "0", mode: mode ?? (isDir ? "0755" : "0644") };
    },
    headers(rel: string, isDir: boolean): Record<string, string> {
      const p = posix[rel] ?? { owner: "0", group: "0", mode: isDir ? "0755" : "0644" };
      return { "x-ms-owner": p.owner, "x-ms-group": p.group, "x-ms-mode": p.mode, "x-ms-file-file-type": isDir ? "Directory" : "Regular" };
    },
  };
}

function statHeaders(st: fs.Stats, isDir: boolean): Record<string, string> {
  return {
    etag: etagOf(st),
    "last-modified": st.mtime.toUTCString(),
    "x-ms-file-attributes": isDir ? "Directory" : "Archive",
    "x-ms-file-creation-time": iso7(st.birthtime.getTime() ? st.birthtime : st.ctime),
    "x-ms-file-last-write-time": iso7(st.mtime),
    "x-ms-file-change-time": iso7(st.ctime),
    "x-ms-file-permission-key": "4066528134148476695*1",
    "x-ms-file-id": String(st.ino),
    "x-ms-file-parent-id": "0",
    "x-ms-server-encrypted": "true",
    "x-ms-request-server-encrypted": "true",
  };
}

function send(res: ServerResponse, status: number, h: Record<string, string>, body?: Buffer | string): void {
  res.writeHead(status, headers({ "content-length": String(body ? Buffer.byteLength(body) : 0), ...h }));
  res.end(body ?? "");
}

/** Resolves a share-relative path, refusing anything that would leave the share. */
function resolveIn(root: string, rel: string): string {
  const segments = rel.split("/").filter(Boolean);
  if (segments.some((s) => s === ".." || s === "." || s.includes("\\") || s.includes("\0"))) {
    throw new FilesError(400, "InvalidResourceName", `The specifed resource name contains invalid characters: '${rel}'.`);
  }
  return path.join(root, ...segments);
}

function parseRange(h: string | undefined): { start: number; end?: number } | undefined {
  if (!h) return undefined;
  const m = /^bytes=(\d+)-(\d*)$/.exec(h.trim());
  if (!m) throw new FilesError(400, "InvalidRange", `The range specified is invalid: '${h}'.`);
  return { start: Number(m[1]), end: m[2] === "" ? undefined : Number(m[2]) };
}

export async function handleFiles(ctx: Ctx, req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
  try {
    await route(ctx, req, res, url);
  } catch (err) {
    if (err instanceof FilesError) return sendError(req, res, err);
    throw err;
  }
}

async function route(ctx: Ctx, req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
  const parts = url.pathname.split("/").slice(2).map(decodeURIComponent); // ["<account>", "<share>", ...path]
  const [account, shareName, ...rest] = parts;
  if (!account) throw new FilesError(400, "InvalidUri", "The request URI must name an account: /files/<account>/<share>.");
  const method = req.method ?? "GET";
  const q = url.searchParams;
  const restype = q.get("restype");
  const comp = q.get("comp");
  if (!shareName) {
    if (method === "GET" && comp === "list") return listShares(ctx, res, account);
    throw new FilesError(400, "UnsupportedHttpVerb", `${method} on the account is not supported by the emulator (only ?comp=list).`);
  }
  if (!/^[a-z0-9](?:[a-z0-9]|-(?=[a-z0-9])){2,62}$/.test(shareName)) throw new FilesError(400, "InvalidResourceName", `The specifed resource name contains invalid characters: share '${shareName}'.`);
  const shareKey = key(`${account}/${shareName}`);
  const share = ctx.store.state.shares[shareKey];
  const root = ctx.sandbox.shareDir(account, shareName);
  const rel = rest.join("/");

  if (restype === "share" && rel === "") {
    if (method === "PUT" && !comp) {
      if (share) throw new FilesError(409, "ShareAlreadyExists", "The specified share already exists.");
      const quota = Number(req.headers["x-ms-share-quota"] ?? DEFAULT_QUOTA_GIB);
      if (!Number.isInteger(quota) || quota < 1 || quota > DEFAULT_QUOTA_GIB) throw new FilesError(400, "InvalidHeaderValue", `The value for one of the HTTP headers is not in the correct format: x-ms-share-quota '${req.headers["x-ms-share-quota"]}'.`);
      const protocol = String(req.headers["x-ms-enabled-protocols"] ?? "SMB").toUpperCase() === "NFS" ? "NFS" : "SMB";
      ctx.store.state.shares[shareKey] = {
        account: account.toLowerCase(), name: shareName, quotaGiB: quota, created: new Date().toISOString(), metadata: metadataOf(req),
        protocol, ...(protocol === "NFS" ? { posix: { "": { owner: "0", group: "0", mode: "0755" } } } : {}),
      };
      fs.mkdirSync(root, { recursive: true });
      ctx.store.save();
      return send(res, 201, { etag: etagOf(fs.statSync(root)), "last-modified": fs.statSync(root).mtime.toUTCString() });
    }
    if (!share) throw new FilesError(404, "ShareNotFound", "The specified share does not exist.");
    if ((method === "GET" || method === "HEAD") && !comp) {
      const st = fs.statSync(root, { throwIfNoEntry: false }) ?? fs.statSync(ctx.opts.cloudDir);
      const meta = Object.fromEntries(Object.entries(share.metadata).map(([k, v]) => [`x-ms-meta-${k}`, v]));
      return send(res, 200, {
        etag: etagOf(st), "last-modified": st.mtime.toUTCString(), "x-ms-share-quota": String(share.quotaGiB),
        "x-ms-access-tier": share.protocol === "NFS" ? "Premium" : "TransactionOptimized", "x-ms-enabled-protocols": share.protocol ?? "SMB", ...meta,
      });
    }
    if (method === "PUT" && comp === "properties") {
      const quota = req.headers["x-ms-share-quota"];
      if (quota !== undefined) share.quotaGiB = Number(quota);
      ctx.store.save();
      return send(res, 200, {});
    }
    if (method === "PUT" && comp === "metadata") {
      share.metadata = metadataOf(req);
      ctx.store.save();
      return send(res, 200, {});
    }
    if (method === "DELETE" && !comp) {
      delete ctx.store.state.shares[shareKey];
      fs.rmSync(root, { recursive: true, force: true });
      ctx.store.save();
      return send(res, 202, {});
    }
    throw new FilesError(400, "UnsupportedQueryParameter", `restype=share with comp=${comp ?? "(none)"} and ${method} is not supported by the emulator.`);
  }
  // Azure requires the intent header for token-authorized file and directory operations
  // (share-level operations do not all carry it).
  if (req.headers["x-ms-file-request-intent"] !== "backup") {
    throw new FilesError(400, "MissingRequiredHeader", "An HTTP header that's mandatory for this request is not specified: x-ms-file-request-intent (must be 'backup' for token authentication).");
  }
  if (!share) throw new FilesError(404, "ShareNotFound", "The specified share does not exist.");
  const nfs = share.protocol === "NFS" ? nfsAttributes(req, share) : undefined;
  const target = resolveIn(root, rel);
  const parentExists = () => fs.statSync(path.dirname(target), { throwIfNoEntry: false })?.isDirectory() ?? false;
  const st = fs.statSync(target, { throwIfNoEntry: false });

  if (restype === "directory") {
    if (method === "PUT" && !comp) {
      if (!parentExists()) throw new FilesError(404, "ParentNotFound", "The specified parent path does not exist.");
      if (st) throw new FilesError(409, "ResourceAlreadyExists", "The specified resource already exists.");
      fs.mkdirSync(target);
      nfs?.set(rel, true);
      if (nfs) ctx.store.save();
      return send(res, 201, { ...statHeaders(fs.statSync(target), true), ...nfs?.headers(rel, true) });
    }
    if (!st || !st.isDirectory()) throw new FilesError(404, "ResourceNotFound", "The specified resource does not exist.");
    if ((method === "GET" || method === "HEAD") && !comp) return send(res, 200, { ...statHeaders(st, true), ...nfs?.headers(rel, true) });
    if (method === "GET" && comp === "list") return listDir(res, url, account, shareName, rel, target);
    if (method === "DELETE" && !comp) {
      if (rel === "") throw new FilesError(400, "InvalidResourceName", "The root directory cannot be deleted.");
      if (fs.readdirSync(target).length) throw new FilesError(409, "DirectoryNotEmpty", "The specified directory is not empty.");
      fs.rmdirSync(target);
      return send(res, 202, {});
    }
    throw new FilesError(400, "UnsupportedQueryParameter", `restype=directory with comp=${comp ?? "(none)"} and ${method} is not supported by the emulator.`);
  }

  // files
  if (method === "PUT" && !comp) {
    if (req.headers["x-ms-type"]?.toString().toLowerCase() !== "file") throw new FilesError(400, "MissingRequiredHeader", "An HTTP header that's mandatory for this request is not specified: x-ms-type.");
    const size = Number(req.headers["x-ms-content-length"]);
    if (!Number.isInteger(size) || size < 0) throw new FilesError(400, "InvalidHeaderValue", "The value for one of the HTTP headers is not in the correct format: x-ms-content-length.");
    if (!parentExists()) throw new FilesError(404, "ParentNotFound", "The specified parent path does not exist.");
    if (st?.isDirectory()) throw new FilesError(409, "ResourceTypeMismatch", "The specified resource type does not match the type of the existing resource.");
    fs.writeFileSync(target, "");
    nfs?.set(rel, false);
    if (nfs) ctx.store.save();
    fs.truncateSync(target, size);
    return send(res, 201, statHeaders(fs.statSync(target), false));
  }
  if (!st || st.isDirectory()) throw new FilesError(404, "ResourceNotFound", "The specified resource does not exist.");
  if (method === "PUT" && comp === "range") {
    const range = parseRange((req.headers["x-ms-range"] ?? req.headers.range) as string | undefined);
    if (!range || range.end === undefined) throw new FilesError(400, "MissingRequiredHeader", "An HTTP header that's mandatory for this request is not specified: x-ms-range.");
    const len = range.end - range.start + 1;
    if (len > MAX_RANGE) throw new FilesError(413, "RequestBodyTooLarge", "The request body is too large and exceeds the maximum permissible limit (4 MiB).");
    if (range.end >= st.size) throw new FilesError(416, "InvalidRange", "The range specified is invalid for the current size of the resource.");
    const fd = fs.openSync(target, "r+");
    try {
      if (req.headers["x-ms-write"] === "clear") fs.writeSync(fd, Buffer.alloc(len), 0, len, range.start);
      else {
        const body = await readBody(req, MAX_RANGE);
        if (body.length !== len) throw new FilesError(400, "InvalidHeaderValue", `Content-Length ${body.length} does not match the range length ${len}.`);
        fs.writeSync(fd, body, 0, len, range.start);
      }
    } finally {
      fs.closeSync(fd);
    }
    return send(res, 201, { ...statHeaders(fs.statSync(target), false) });
  }
  if (method === "PUT" && comp === "properties") {
    const size = req.headers["x-ms-content-length"];
    if (size !== undefined) fs.truncateSync(target, Number(size));
    return send(res, 200, statHeaders(fs.statSync(target), false));
  }
  if ((method === "GET" || method === "HEAD") && !comp) {
    const range = parseRange((req.headers["x-ms-range"] ?? req.headers.range) as string | undefined);
    const base = { ...statHeaders(st, false), "x-ms-type": "File", "content-type": "application/octet-stream", "accept-ranges": "bytes" };
    if (!range) {
      if (method === "HEAD") return send(res, 200, { ...base, "content-length": String(st.size) });
      return send(res, 200, base, fs.readFileSync(target));
    }
    if (range.start >= st.size && st.size > 0) throw new FilesError(416, "InvalidRange", "The range specified is invalid for the current size of the resource.");
    const end = Math.min(range.end ?? st.size - 1, st.size - 1);
    const data = Buffer.alloc(Math.max(0, end - range.start + 1));
    const fd = fs.openSync(target, "r");
    try {
      fs.readSync(fd, data, 0, data.length, range.start);
    } finally {
      fs.closeSync(fd);
    }
    return send(res, 206, { ...base, "content-range": `bytes ${range.start}-${end}/${st.size}` }, method === "HEAD" ? undefined : data);
  }
  if (method === "DELETE" && !comp) {
    fs.unlinkSync(target);
    return send(res, 202, {});
  }
  throw new FilesError(400, "UnsupportedQueryParameter", `${method} on a file with comp=${comp ?? "(none)"} is not supported by the emulator.`);
}

function metadataOf(req: IncomingMessage): Record<string, string> {
  return Object.fromEntries(Object.entries(req.headers).filter(([k]) => k.startsWith("x-ms-meta-")).map(([k, v]) => [k.slice(10), String(v)]));
}

function listShares(ctx: Ctx, res: ServerResponse, account: string): void {
  const shares = Object.values(ctx.store.state.shares).filter((s) => s.account === account.toLowerCase());
  const items = shares.map((s) => `<Share><Name>${esc(s.name)}</Name><Properties><Last-Modified>${new Date(s.created).toUTCString()}</Last-Modified><Etag>"0x1"</Etag><Quota>${s.quotaGiB}</Quota></Properties></Share>`).join("");
  const xml = `<?xml version="1.0" encoding="utf-8"?><EnumerationResults ServiceEndpoint="/files/${esc(account)}"><Shares>${items}</Shares><NextMarker /></EnumerationResults>`;
  send(res, 200, { "content-type": "application/xml" }, xml);
}

function listDir(res: ServerResponse, url: URL, account: string, share: string, rel: string, dir: string): void {
  const prefix = url.searchParams.get("prefix") ?? "";
  const marker = url.searchParams.get("marker") ?? "";
  const max = Math.min(Number(url.searchParams.get("maxresults") ?? 5000) || 5000, 5000);
  const names = fs.readdirSync(dir).filter((n) => n.startsWith(prefix) && (!marker || n >= marker)).sort();
  const page = names.slice(0, max);
  const next = names.length > max ? names[max] : "";
  const entries = page.map((n) => {
    const st = fs.statSync(path.join(dir, n), { throwIfNoEntry: false });
    if (!st) return "";
    const name = `<Name>${esc(n)}</Name><FileId>${st.ino}</FileId>`;
    return st.isDirectory()
      ? `<Directory>${name}<Properties /></Directory>`
      : `<File>${name}<Properties><Content-Length>${st.size}</Content-Length></Properties></File>`;
  }).join("");
  const xml = `<?xml version="1.0" encoding="utf-8"?><EnumerationResults ServiceEndpoint="${esc(url.origin)}/files/${esc(account)}/" ShareName="${esc(share)}" DirectoryPath="${esc(rel)}">` +
    `${prefix ? `<Prefix>${esc(prefix)}</Prefix>` : ""}${marker ? `<Marker>${esc(marker)}</Marker>` : ""}<MaxResults>${max}</MaxResults><Entries>${entries}</Entries><NextMarker>${esc(next)}</NextMarker></EnumerationResults>`;
  send(res, 200, { "content-type": "application/xml" }, xml);
}
