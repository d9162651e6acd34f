// The workspace file share (Azure Files, OAuth with the "backup" file request intent).
// Creating things is idempotent (createIfNotExists). Users' files are never deleted here.
import { parseOctalFileMode, type ShareClient } from "@azure/storage-file-share";
import type { FilesClients } from "./clients";
import { azureCall, azureCallOr404, statusOf, translateAzureError } from "./errors";

export function shareClient(files: FilesClients): ShareClient {
  return files.service.getShareClient(files.shareName);
}

function segments(dirPath: string): string[] {
  const parts = dirPath.split("/").filter((p) => p.length > 0);
  for (const p of parts) {
    if (p === "." || p === "..") throw new Error(`invalid path segment in ${JSON.stringify(dirPath)}`);
  }
  return parts;
}

/**
 * Ensures the share exists. Azure Files rejects share-level calls made with OAuth (they
 * belong to the management plane, and infra/ creates the share), so a 403 is accepted when
 * the share answers a directory listing — it exists and we can use it.
 */
export async function ensureShare(files: FilesClients, quotaGb?: number): Promise<void> {
  const share = shareClient(files);
  try {
    // The workspace share is NFS 4.1 (cloud-init mounts it so): owners and modes decide who writes.
    await share.createIfNotExists({ ...(quotaGb ? { quota: quotaGb } : {}), protocols: { nfsEnabled: true } });
  } catch (err) {
    if (statusOf(err) !== 403) throw translateAzureError(err, `create file share ${files.shareName}`);
    await azureCall(`open file share ${files.shareName}`, async () => {
      await share.getDirectoryClient("").listFilesAndDirectories().byPage({ maxPageSize: 1 }).next();
    });
  }
}

/** Owner, group and octal mode of a directory on the NFS share (e.g. the user's folder for azureuser). */
export type PosixOwner = { owner: string; group: string; mode: string };

/**
 * Creates every missing directory of `dirPath` ("Users/alice/logs"). `leaf` sets the owner and
 * mode of the last one (NFS shares; REST creates root-owned 0755 directories otherwise).
 */
export async function ensureDirectory(files: FilesClients, dirPath: string, leaf?: PosixOwner): Promise<void> {
  const share = shareClient(files);
  const parts = segments(dirPath);
  let current = "";
  for (const [i, part] of parts.entries()) {
    current = current ? `${current}/${part}` : part;
    const dir = current;
    const posix = leaf && i === parts.length - 1 ? { posixProperties: { owner: leaf.owner, group: leaf.group, fileMode: parseOctalFileMode(leaf.mode) } } : {};
    await azureCall(`create directory ${dir}`, () => share.getDirectoryClient(dir).createIfNotExists(posix));
  }
}

function splitPath(filePath: string): { dir: string; name: string } {
  const parts = segments(filePath);
  const name = parts.pop();
  if (!name) throw new Error("file path is empty");
  return { dir: parts.join("/"), name };
}

/** Writes (replaces) a small file; its directory must exist (see ensureDirectory). */
export async function writeFile(files: FilesClients, filePath: string, content: string | Buffer): Promise<void> {
  const { dir, name } = splitPath(filePath);
  const data = typeof content === "string" ? Buffer.from(content, "utf8") : content;
  await azureCall(`write file ${filePath}`, async () => {
    await shareClient(files).getDirectoryClient(dir).getFileClient(name).uploadData(data);
  });
}

/** Reads a file as a Buffer, or undefined when it does not exist. */
export async function readFile(files: FilesClients, filePath: string): Promise<Buffer | undefined> {
  const { dir, name } = splitPath(filePath);
  return azureCallOr404(`read file ${filePath}`, () =>
    shareClient(files).getDirectoryClient(dir).getFileClient(name).downloadToBuffer(),
  );
}

export type DirectoryEntry = { name: string; kind: "file" | "directory"; size?: number };

/** Lists a directory (all pages), or undefined when it does not exist. */
export async function listDirectory(files: FilesClients, dirPath: string): Promise<DirectoryEntry[] | undefined> {
  const dir = segments(dirPath).join("/");
  return azureCallOr404(`list directory ${dir || "/"}`, async () => {
    const out: DirectoryEntry[] = [];
    for await (const item of shareClient(files).getDirectoryClient(dir).listFilesAndDirectories()) {
      out.push(
        item.kind === "file"
          ? { name: item.name, kind: "file", size: item.properties.contentLength }
          : { name: item.name, kind: "directory" },
      );
    }
    return out;
  });
}
