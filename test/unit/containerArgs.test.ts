import { describe, expect, it } from "vitest";
import { containerName, runArgs } from "../../agent/container";

describe("the agent's docker run arguments", () => {
  const spec = {
    runtime: "/usr/bin/docker",
    image: "myacr.azurecr.io/train:v1",
    name: containerName("AbC123"),
    hostDir: "/home/azureuser/cloudfiles/code/Users/alice",
    workingDirectory: "/work",
    command: "python train.py",
    gpuIndices: [1, 2],
    env: { JOB_ID: "AbC123", MY_TOKEN: "s3cr3t", CUDA_VISIBLE_DEVICES: "0,1" },
  };

  it("mounts the user's folder as the working directory, passes the GPUs as Docker reads a device list, and names variables without their values", () => {
    const args = runArgs(spec);
    expect(args).toEqual([
      "run", "--rm", "--name", "ci-job-abc123",
      "-v", "/home/azureuser/cloudfiles/code/Users/alice:/work", "-w", "/work",
      // Docker parses --gpus as CSV: a list needs the quotes inside the value.
      "--gpus", '"device=1,2"',
      "-e", "CUDA_VISIBLE_DEVICES", "-e", "JOB_ID", "-e", "MY_TOKEN",
      "myacr.azurecr.io/train:v1", "/bin/sh", "-c", "python train.py",
    ]);
    expect(args.join(" ")).not.toContain("s3cr3t");
  });

  it("passes no --gpus for a CPU job", () => {
    expect(runArgs({ ...spec, gpuIndices: [] })).not.toContain("--gpus");
  });
});
