// Blob helpers against Azurite: containers, account-key SAS URLs usable by a plain HTTP
// client (what a run command on the VM does with its output URL), reading text back.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { connectionStringStorage } from "../../shared/azure/storageConnection";
import { createStorageClients, type StorageClients } from "../../shared/azure/clients";
import { blobSasUrl, deleteBlob, ensureContainer, readBlobText, writeBlobText } from "../../shared/azure/blobs";
import { startTestAzurite, type AzuriteProcess } from "../support/azurite";
import { testAzureConfig } from "./support";

let azurite: AzuriteProcess;
let storage: StorageClients;

beforeAll(async () => {
  azurite = await startTestAzurite();
  storage = createStorageClients(testAzureConfig({ storage: connectionStringStorage(azurite.connectionString) }));
});
afterAll(async () => {
  await azurite?.stop();
});

describe("blobs", () => {
  it("creates containers idempotently and reads missing blobs as undefined", async () => {
    await ensureContainer(storage, "job-logs");
    await ensureContainer(storage, "job-logs");
    expect(await readBlobText(storage, "job-logs", "nope.txt")).toBeUndefined();
    expect(await readBlobText(storage, "no-such-container", "x")).toBeUndefined();
    await writeBlobText(storage, "job-logs", "a/b.txt", "hello ✓");
    expect(await readBlobText(storage, "job-logs", "a/b.txt")).toBe("hello ✓");
    await deleteBlob(storage, "job-logs", "a/b.txt");
    await deleteBlob(storage, "job-logs", "a/b.txt");
    expect(await readBlobText(storage, "job-logs", "a/b.txt")).toBeUndefined();
  });

  it("issues a SAS URL that lets a keyless client create an append blob and append output, and nothing else", async () => {
    await ensureContainer(storage, "job-logs");
    const url = await blobSasUrl(storage, "job-logs", "job1/stdout.txt", { permissions: "racw", expiresInMinutes: 10 });
    expect(url).toContain("sig=");
    // The run-command handler creates the blob itself (the app no longer does).
    const created = await fetch(url, { method: "PUT", headers: { "x-ms-version": "2021-12-02", "x-ms-blob-type": "AppendBlob", "content-length": "0" } });
    expect(created.status).toBe(201);
    for (const chunk of ["line 1\n", "line 2\n"]) {
      const res = await fetch(`${url}&comp=appendblock`, {
        method: "PUT",
        headers: { "x-ms-version": "2021-12-02", "content-length": String(Buffer.byteLength(chunk)) },
        body: chunk,
      });
      expect(res.status).toBe(201);
    }
    expect(await readBlobText(storage, "job-logs", "job1/stdout.txt")).toBe("line 1\nline 2\n");
    // A read-only SAS cannot write; a tampered signature is refused.
    const ro = await blobSasUrl(storage, "job-logs", "job1/stdout.txt", { permissions: "r", expiresInMinutes: 10 });
    const denied = await fetch(`${ro}&comp=appendblock`, { method: "PUT", headers: { "x-ms-version": "2021-12-02" }, body: "x" });
    expect(denied.status).toBe(403);
    const tampered = url.replace(/sig=[^&]+/, "sig=AAAA");
    expect((await fetch(tampered)).status).toBe(403);
    expect((await fetch(ro)).status).toBe(200);
  });
});
