// The image setting end to end: with VM_IMAGE=ubuntu (no GPU drivers), a GPU instance gets the
// NVIDIA driver extension before its setup scripts; a CPU instance does not. The emulator
// checks both the image and the extension as ARM does.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { eventually, startStack, type Stack } from "../support/stack";

let stack: Stack;
beforeAll(async () => {
  stack = await startStack({ env: { VM_IMAGE: "ubuntu" } });
}, 120_000);
afterAll(() => stack?.stop());

type Op = { status: string; steps: { name: string; status: string }[] };

async function create(name: string, vmSize: string): Promise<Op> {
  const put = await stack.api("PUT", `/api/instances/${name}`, { as: "alice", body: { vmSize } });
  expect(put.status, put.text).toBe(201);
  const url = put.headers.get("operation-location")!;
  return eventually(async () => (await stack.api<Op>("GET", url, { as: "alice" })).body, (o) => o.status !== "Running" && o.status !== "NotStarted", 120_000, 500);
}

describe("image and GPU drivers", () => {
  it("a GPU size on an image without drivers gets the NVIDIA driver extension before setup; a CPU size does not", async () => {
    const [gpu, cpu] = await Promise.all([create("gpu-a", "Standard_NC4as_T4_v3"), create("cpu-b", "Standard_D2s_v5")]);
    expect(gpu.status).toBe("Succeeded");
    expect(gpu.steps.map((s) => s.name)).toEqual(["network", "share", "vm", "gpuDriver", "setup"]);
    expect(cpu.status).toBe("Succeeded");
    expect(cpu.steps.map((s) => s.name)).toEqual(["network", "share", "vm", "setup"]);
  });
});
