// DurableTask.Core's version comparison and match strategies (VersioningSettings).
import { describe, expect, it } from "vitest";
import { compareVersions, versioningFrom, versionMatches } from "../../local/host/durable/versioning";

describe("compareVersions", () => {
  it("orders empty first, then .NET versions part by part, else case-insensitive text", () => {
    expect(compareVersions("", undefined)).toBe(0);
    expect(compareVersions("", "1.0")).toBe(-1);
    expect(compareVersions("1.0", " ")).toBe(1);
    expect(compareVersions("1.10", "1.9")).toBe(1);
    expect(compareVersions("2.0", "2.0.0")).toBe(-1); // System.Version: a missing build part is lower
    expect(compareVersions("2.0.1", "2.0.1")).toBe(0);
    expect(compareVersions("v2", "V2")).toBe(0);
    expect(compareVersions("2", "10")).toBe(1); // not a .NET version (one part): text order
  });
});

describe("versionMatches", () => {
  const v = (match: "None" | "Strict" | "CurrentOrOlder") => ({ defaultVersion: "2.0", match, failure: "Fail" as const });
  it("None takes every version; Strict only its own; CurrentOrOlder its own and older ones", () => {
    expect(versionMatches(v("None"), "9.0")).toBe(true);
    expect(versionMatches(v("Strict"), "2.0")).toBe(true);
    expect(versionMatches(v("Strict"), "1.0")).toBe(false);
    expect(versionMatches(v("CurrentOrOlder"), "1.0")).toBe(true);
    expect(versionMatches(v("CurrentOrOlder"), undefined)).toBe(true);
    expect(versionMatches(v("CurrentOrOlder"), "2.1")).toBe(false);
  });
});

describe("versioningFrom", () => {
  it("reads host.json's settings, case-insensitively, with the extension's defaults", () => {
    expect(versioningFrom({})).toEqual({ match: "None", failure: "Reject" });
    expect(versioningFrom({ defaultVersion: 2, versionMatchStrategy: "currentorolder", versionFailureStrategy: "FAIL" })).toEqual({ defaultVersion: "2", match: "CurrentOrOlder", failure: "Fail" });
  });
  it("names a setting it cannot take", () => {
    expect(() => versioningFrom({ versionMatchStrategy: "Newest" })).toThrow(/durableTask\.versionMatchStrategy must be one of None, Strict, CurrentOrOlder/);
  });
});
