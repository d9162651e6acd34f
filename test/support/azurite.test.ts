import { afterAll, beforeAll, expect, test } from "vitest";
import { QueueServiceClient } from "@azure/storage-queue";
import { startTestAzurite, type AzuriteProcess } from "./azurite";

let azurite: AzuriteProcess;
beforeAll(async () => {
  azurite = await startTestAzurite();
});
afterAll(() => azurite?.stop());

test("Azurite starts on free ports and answers the Queue API", async () => {
  const svc = QueueServiceClient.fromConnectionString(azurite.connectionString);
  const q = svc.getQueueClient("smoke");
  await q.createIfNotExists();
  await q.sendMessage("hello");
  const got = await q.receiveMessages();
  expect(got.receivedMessageItems[0]?.messageText).toBe("hello");
});
