import { afterAll, beforeAll, expect, test } from "vitest";
import { startStack, type Stack } from "../support/stack";

let stack: Stack;
beforeAll(async () => {
  stack = await startStack();
});
afterAll(() => stack?.stop());

test("the whole stack starts: host answers health, emulator has the allowed subnet", async () => {
  const res = await stack.api("GET", "/api/health");
  expect(res.status).toBe(200);
  expect(stack.cloudState().subnets).toContain(stack.settings.ALLOWED_SUBNET_IDS!.split(",")[0]);
});
