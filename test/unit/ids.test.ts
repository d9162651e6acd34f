import { describe, expect, it } from "vitest";
import { jobIdForIdempotencyKey } from "../../shared/jobs/idempotency";
import { armNames, isValidTableKey, newId, orchestrationIds, utcMinuteStamp } from "../../shared/ids";

describe("deterministic ids", () => {
  it.each([
    [orchestrationIds.provision("ws-local", "Alice-GPU"), "provision-ws-local-alice-gpu"],
    [orchestrationIds.stop("alice-gpu", "op1"), "stop-alice-gpu-op1"],
    [orchestrationIds.start("alice-gpu", "op2"), "start-alice-gpu-op2"],
    [orchestrationIds.autoStop("alice-gpu", "Stop", new Date("2025-03-30T01:00:59.999Z")), "autostop-alice-gpu-stop-202503300100"],
    [orchestrationIds.job("j1"), "job-j1"],
    [armNames.nsg("Alice-GPU"), "ci-alice-gpu-nsg"],
    [armNames.nic("a-"), "ci-a--nic"],
    [armNames.publicIp("abc"), "ci-abc-pip"],
    [armNames.vm("abc-"), "ci-abc--vm"],
    [armNames.computerName("abc--"), "abc"],
  ])("%s", (id, expected) => {
    expect(id).toBe(expected);
  });

  it("ARM names stay valid for the longest instance names", () => {
    const name = "a".repeat(23) + "-";
    for (const n of [armNames.vm(name), armNames.nsg(name), armNames.nic(name), armNames.publicIp(name), armNames.osDisk(name)]) {
      expect(n).toMatch(/^[a-z0-9][a-z0-9-]*[a-z0-9]$/);
      expect(n.length).toBeLessThanOrEqual(64);
    }
  });

  it("ids are valid table keys", () => {
    const id = newId();
    expect(id).toMatch(/^[0-9a-z]{20}$/);
    expect(newId(() => new Uint8Array(20))).toBe("0".repeat(20));
    for (const k of [id, orchestrationIds.autoStop("x-y", "Start", new Date()), "alice"]) expect(isValidTableKey(k)).toBe(true);
    for (const k of ["a/b", "a\\b", "a#b", "a?b", "a\u0001", ""]) expect(isValidTableKey(k)).toBe(false);
  });

  it("minute stamps are UTC", () => {
    expect(utcMinuteStamp(new Date("2024-02-29T23:59:30+01:00"))).toBe("202402292259");
  });
});

describe("idempotent job ids", () => {
  it("are stable per (instance, submitter, key) and valid keys", () => {
    const a = jobIdForIdempotencyKey("Alice-1", "alice", "k1");
    expect(a).toBe(jobIdForIdempotencyKey("alice-1", "alice", "k1"));
    expect(a).toMatch(/^k[0-9a-f]{31}$/);
    expect(isValidTableKey(a)).toBe(true);
    expect(jobIdForIdempotencyKey("alice-1", "bob", "k1")).not.toBe(a);
    expect(jobIdForIdempotencyKey("alice-1", "alice", "k2")).not.toBe(a);
    expect(jobIdForIdempotencyKey("a", "b|c", "d")).not.toBe(jobIdForIdempotencyKey("a", "b", "c|d"));
  });
});
