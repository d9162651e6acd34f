import { describe, expect, it } from "vitest";
import { jobQueueMessage, jobSubmissionBody } from "../../shared/schemas/job";
import { parseWith } from "../../shared/validation";

const base = { name: "train-1", command: "python train.py --epochs 3" };

describe("job submission body", () => {
  it("accepts the api.md example and fills defaults", () => {
    const r = parseWith(jobSubmissionBody, {
      ...base,
      environment: { image: "img", variables: { SEED: "1", _X: "" } },
      gpus: 0,
      timeoutMinutes: 60,
      distribution: { type: "pytorch", processCount: 2 },
    });
    expect(r.ok).toBe(true);
    const d = parseWith(jobSubmissionBody, { command: "echo" });
    expect(d.ok && d.value).toMatchObject({ gpus: 0, timeoutMinutes: 1440 });
  });

  it.each<[string, unknown, string, RegExp]>([
    ["command missing", { name: "x" }, "command", /required/],
    ["command blank", { command: "   " }, "command", /must not be empty/],
    ["command too long", { command: "x".repeat(32769) }, "command", /at most 32768/],
    ["name chars", { ...base, name: "a b" }, "name", /letters, digits/],
    ["variable name", { ...base, environment: { variables: { "1BAD": "x" } } }, 'environment.variables["1BAD"]', /\[A-Za-z_\]/],
    ["reserved JOB_ID", { ...base, environment: { variables: { JOB_ID: "x" } } }, "environment.variables.JOB_ID", /cannot be overridden/],
    ["reserved CUDA_VISIBLE_DEVICES", { ...base, environment: { variables: { CUDA_VISIBLE_DEVICES: "0" } } }, "environment.variables.CUDA_VISIBLE_DEVICES", /cannot be overridden/],
    ["variable value type", { ...base, environment: { variables: { SEED: 1 } } }, "environment.variables.SEED", /string/],
    ["gpus negative", { ...base, gpus: -1 }, "gpus", /at least 0/],
    ["gpus fractional", { ...base, gpus: 1.5 }, "gpus", /integer/],
    ["timeout 0", { ...base, timeoutMinutes: 0 }, "timeoutMinutes", /at least 1/],
    ["timeout > 7 days", { ...base, timeoutMinutes: 10081 }, "timeoutMinutes", /at most 10080/],
    ["distribution type", { ...base, distribution: { type: "horovod", processCount: 2 } }, "distribution.type", /"pytorch", "mpi", "tensorflow"/],
    ["processCount 0", { ...base, distribution: { type: "mpi", processCount: 0 } }, "distribution.processCount", /at least 1/],
    ["unknown property", { ...base, priority: 1 }, "priority", /not a known property/],
    ["unknown environment property", { ...base, environment: { vars: {} } }, "environment.vars", /not a known property/],
    ["working directory relative", { ...base, environment: { image: "img", workingDirectory: "work" } }, "environment.workingDirectory", /absolute path/],
    ["working directory with ..", { ...base, environment: { image: "img", workingDirectory: "/work/../etc" } }, "environment.workingDirectory", /'\.\.'/],
    ["working directory without image", { ...base, environment: { workingDirectory: "/work" } }, "environment.workingDirectory", /needs an image/],
  ])("%s", (_case, body, target, message) => {
    const r = parseWith(jobSubmissionBody, body);
    expect(r.ok).toBe(false);
    if (r.ok) return;
    const detail = r.error.details.find((d) => d.target === target);
    expect(detail, JSON.stringify(r.error.details)).toBeDefined();
    expect(detail?.message).toMatch(message);
  });
});

describe("job queue message", () => {
  it("accepts a valid message", () => {
    expect(parseWith(jobQueueMessage, { instance: "alice-1", submittedBy: "alice", idempotencyKey: "k1", job: base }).ok).toBe(true);
  });

  it.each<[unknown, string]>([
    [{ submittedBy: "alice", job: base }, "instance"],
    [{ instance: "alice-1", job: base }, "submittedBy"],
    [{ instance: "alice-1", submittedBy: "alice", job: { name: "x" } }, "job.command"],
    [{ instance: "alice-1", submittedBy: "alice", job: base, extra: 1 }, "extra"],
    [{ instance: "a", submittedBy: "alice", job: base }, "instance"],
  ])("%j names %s", (message, target) => {
    const r = parseWith(jobQueueMessage, message);
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.error.details.map((d) => d.target)).toContain(target);
  });
});
