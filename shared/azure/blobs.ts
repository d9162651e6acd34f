// Blob storage for job output: containers, short-lived SAS URLs that a run command writes
// stdout/stderr to, and reading the text back. With a keyed connection string (Azurite) the
// SAS is signed with the account key; with managed identity it is a user-delegation SAS.
import {
  BlobSASPermissions,
  SASProtocol,
  StorageSharedKeyCredential,
  generateBlobSASQueryParameters,
  type UserDelegationKey,
} from "@azure/storage-blob";
import type { StorageClients } from "./clients";
import { azureCall, azureCallOr404, statusOf } from "./errors";

export async function ensureContainer(storage: StorageClients, container: string): Promise<void> {
  await azureCall(`create blob container ${container}`, () => storage.blobs.getContainerClient(container).createIfNotExists());
}

export type SasOptions = {
  /** Letters of BlobSASPermissions, e.g. "r" to read, "racw" for a run command's output. */
  permissions: string;
  expiresInMinutes: number;
};

let delegation: { key: UserDelegationKey; expiresOn: number; account: string } | undefined;

async function userDelegationKey(storage: StorageClients, until: Date): Promise<UserDelegationKey> {
  const account = storage.blobs.accountName;
  // Reuse one key while it outlives the SAS we sign with it; a key may live up to 7 days.
  if (delegation && delegation.account === account && delegation.expiresOn > until.getTime()) return delegation.key;
  const startsOn = new Date(Date.now() - 5 * 60_000);
  const expiresOn = new Date(Math.max(until.getTime(), Date.now() + 24 * 3600_000));
  const key = await azureCall("get user delegation key", () => storage.blobs.getUserDelegationKey(startsOn, expiresOn));
  delegation = { key, expiresOn: expiresOn.getTime(), account };
  return key;
}

/** A URL granting `permissions` on one blob until the expiry; treat it as a secret. */
export async function blobSasUrl(storage: StorageClients, container: string, blob: string, opts: SasOptions): Promise<string> {
  const blobClient = storage.blobs.getContainerClient(container).getBlobClient(blob);
  const startsOn = new Date(Date.now() - 5 * 60_000); // tolerate clock skew between us and storage
  const expiresOn = new Date(Date.now() + opts.expiresInMinutes * 60_000);
  const values = {
    containerName: container,
    blobName: blob,
    permissions: BlobSASPermissions.parse(opts.permissions),
    startsOn,
    expiresOn,
    ...(blobClient.url.startsWith("https://") ? { protocol: SASProtocol.Https } : {}),
  };
  const query = storage.sharedKey
    ? generateBlobSASQueryParameters(values, new StorageSharedKeyCredential(storage.sharedKey.accountName, storage.sharedKey.accountKey))
    : generateBlobSASQueryParameters(values, await userDelegationKey(storage, expiresOn), storage.blobs.accountName);
  return `${blobClient.url}?${query.toString()}`;
}

export async function writeBlobText(storage: StorageClients, container: string, blob: string, text: string): Promise<void> {
  const data = Buffer.from(text, "utf8");
  await azureCall(`write blob ${container}/${blob}`, () =>
    storage.blobs.getContainerClient(container).getBlockBlobClient(blob).uploadData(data, {
      blobHTTPHeaders: { blobContentType: "text/plain; charset=utf-8" },
    }),
  );
}

/** The blob's text, or undefined when it (or its container) does not exist. */
export async function readBlobText(storage: StorageClients, container: string, blob: string): Promise<string | undefined> {
  const buf = await azureCallOr404(`read blob ${container}/${blob}`, () =>
    storage.blobs.getContainerClient(container).getBlobClient(blob).downloadToBuffer(),
  );
  return buf?.toString("utf8");
}

/**
 * The blob's bytes from `offset` on (a log read while it grows), or an empty buffer when the
 * blob is shorter than that, or absent: a follower polls this without a size check first.
 */
export async function readBlobFrom(storage: StorageClients, container: string, blob: string, offset: number): Promise<Buffer> {
  const client = storage.blobs.getContainerClient(container).getBlobClient(blob);
  try {
    const buf = await azureCallOr404(`read blob ${container}/${blob}`, () => client.downloadToBuffer(offset));
    return buf ?? Buffer.alloc(0);
  } catch (err) {
    // 416 InvalidRange: nothing written past `offset` yet.
    if (statusOf(err) === 416) return Buffer.alloc(0);
    throw err;
  }
}

export async function deleteBlob(storage: StorageClients, container: string, blob: string): Promise<void> {
  await azureCallOr404(`delete blob ${container}/${blob}`, () =>
    storage.blobs.getContainerClient(container).getBlobClient(blob).delete(),
  );
}
