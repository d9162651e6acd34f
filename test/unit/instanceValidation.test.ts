import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { PropertyChangeNotAllowedError, ValidationError } from "../../shared/errors";
import { validateCreateInstance, validatePatchInstance } from "../../shared/instances/validate";
import { keys } from "./keys";
import { settingsWith, SUBNET, SUBNET2 } from "./settingsFixture";

const settings = settingsWith({ ALLOWED_SUBNET_IDS: `${SUBNET},${SUBNET2}` });
const base = { vmSize: "Standard_D4s_v5" };
const schedule = { action: "Stop", cron: "0 19 * * 1-5", timeZone: "Europe/Stockholm", enabled: true };

function errorsOf(name: unknown, body: unknown, s = settings) {
  const r = validateCreateInstance(name, body, s);
  if (r.ok) return [];
  expect(r.error).toBeInstanceOf(ValidationError);
  expect(r.error.status).toBe(400);
  expect(r.error.code).toBe("InvalidRequest");
  return r.error.details;
}

describe("create instance: valid bodies", () => {
  it("fills defaults from policy", () => {
    const r = validateCreateInstance("alice-1", base, settings);
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(r.value).toMatchObject({
      name: "alice-1",
      vmSize: "Standard_D4s_v5",
      sshPublicAccess: "Disabled",
      subnetId: SUBNET,
      enablePublicIp: false,
      idleShutdownMinutes: null,
      schedules: [],
      jobsPerCore: 2,
      tags: {},
    });
  });

  it.each([
    ["ed25519", keys.ed25519.publicKey],
    ["rsa 2048", keys.rsa2048.publicKey],
  ])("accepts SSH Enabled with an %s key", (_label, key) => {
    const r = validateCreateInstance("alice-1", { ...base, sshPublicAccess: "Enabled", sshPublicKey: `  ${key}\n` }, settings);
    expect(r.ok).toBe(true);
    if (r.ok) expect(r.value.sshPublicKey).toBe(key.trim());
  });

  it("accepts the full api.md example (with an allowed subnet, case-insensitive size)", () => {
    const r = validateCreateInstance(
      "Alice-gpu",
      {
        vmSize: "standard_nc4as_t4_v3",
        assignedUser: "alice",
        description: "…",
        sshPublicAccess: "Disabled",
        subnetId: SUBNET2.toUpperCase().replace("/SUBSCRIPTIONS/", "/subscriptions/"),
        enablePublicIp: false,
        idleShutdownMinutes: 60,
        schedules: [schedule],
        setupScripts: { creation: { inline: "echo hi", timeoutMinutes: 15 }, startup: { inline: "echo start" } },
        jobsPerCore: 2,
        tags: { team: "vision" },
      },
      settings,
    );
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(r.value.vmSize).toBe("Standard_NC4as_T4_v3");
    expect(r.value.subnetId).toBe(SUBNET2);
    expect(r.value.setupScripts?.startup?.timeoutMinutes).toBe(15);
  });
});

// [case, name, body, expected target, message fragment]
const invalid: [string, unknown, unknown, string, RegExp][] = [
  ["name too short", "ab", base, "name", /3–24/],
  ["name too long", "a".repeat(25), base, "name", /3–24/],
  ["name starts with digit", "1abc", base, "name", /starting with a letter/],
  ["name with underscore", "ab_c", base, "name", /letters, digits and hyphens/],
  ["name not a string", 42, base, "name", /string/],
  ["body not an object", "abc", [], "body", /object/],
  ["vmSize missing", "abc", {}, "vmSize", /required/],
  ["vmSize wrong type", "abc", { vmSize: 4 }, "vmSize", /string/],
  ["vmSize not allowed", "abc", { vmSize: "Standard_M128" }, "vmSize", /not allowed.*Standard_D2s_v5/],
  ["unknown property", "abc", { ...base, colour: "red" }, "colour", /not a known property/],
  ["nested unknown property", "abc", { ...base, schedules: [{ ...schedule, when: 1 }] }, "schedules[0].when", /not a known property/],
  ["sshPublicAccess bad enum", "abc", { ...base, sshPublicAccess: "On" }, "sshPublicAccess", /"Enabled", "Disabled"/],
  ["ssh Enabled without key", "abc", { ...base, sshPublicAccess: "Enabled" }, "sshPublicKey", /required when sshPublicAccess is Enabled/],
  ["garbage ssh key", "abc", { ...base, sshPublicKey: "ssh-ed25519 AAAAnotakey" }, "sshPublicKey", /not an OpenSSH public key/],
  ["private key (PEM)", "abc", { ...base, sshPublicKey: keys.ed25519.privateKeyPem }, "sshPublicKey", /private key/],
  ["private key (OpenSSH)", "abc", { ...base, sshPublicKey: keys.rsa2048.privateKeyOpenSsh }, "sshPublicKey", /private key/],
  ["RSA 1024", "abc", { ...base, sshPublicKey: keys.rsa1024.publicKey }, "sshPublicKey", /at least 2048 bits.*1024/],
  ["ECDSA (Azure VMs take RSA and ED25519 only)", "abc", { ...base, sshPublicKey: keys.ecdsa.publicKey }, "sshPublicKey", /ecdsa is not supported by Azure VMs/],
  ["subnet id shape", "abc", { ...base, subnetId: "/subscriptions/x/subnets/y" }, "subnetId", /subnet resource id/],
  ["subnet not allowed", "abc", { ...base, subnetId: SUBNET.replace("compute", "other") }, "subnetId", /ALLOWED_SUBNET_IDS/],
  ["public IP not allowed", "abc", { ...base, enablePublicIp: true }, "enablePublicIp", /not allowed/],
  ["idle below policy minimum", "abc", { ...base, idleShutdownMinutes: 14 }, "idleShutdownMinutes", /at least 15 minutes/],
  ["idle above 3 days", "abc", { ...base, idleShutdownMinutes: 4321 }, "idleShutdownMinutes", /at most 4320/],
  ["idle fractional", "abc", { ...base, idleShutdownMinutes: 30.5 }, "idleShutdownMinutes", /whole number/],
  ["idle as string", "abc", { ...base, idleShutdownMinutes: "60" }, "idleShutdownMinutes", /number/],
  ["five schedules", "abc", { ...base, schedules: Array(5).fill(schedule) }, "schedules", /at most 4/],
  ["schedule action", "abc", { ...base, schedules: [{ ...schedule, action: "Pause" }] }, "schedules[0].action", /"Start", "Stop"/],
  ["schedule cron six fields", "abc", { ...base, schedules: [{ ...schedule, cron: "0 0 19 * * 1-5" }] }, "schedules[0].cron", /five fields/],
  ["schedule cron nickname", "abc", { ...base, schedules: [{ ...schedule, cron: "@daily" }] }, "schedules[0].cron", /five fields/],
  ["schedule cron bad minute", "abc", { ...base, schedules: [schedule, { ...schedule, cron: "61 19 * * *" }] }, "schedules[1].cron", /minute/],
  ["schedule windows time zone", "abc", { ...base, schedules: [{ ...schedule, timeZone: "W. Europe Standard Time" }] }, "schedules[0].timeZone", /IANA/],
  ["schedule unknown zone", "abc", { ...base, schedules: [{ ...schedule, timeZone: "Mars/Olympus" }] }, "schedules[0].timeZone", /IANA/],
  ["schedule enabled type", "abc", { ...base, schedules: [{ ...schedule, enabled: "yes" }] }, "schedules[0].enabled", /boolean/],
  ["script empty", "abc", { ...base, setupScripts: { creation: { inline: "" } } }, "setupScripts.creation.inline", /empty/],
  ["script too large", "abc", { ...base, setupScripts: { startup: { inline: "x".repeat(65537) } } }, "setupScripts.startup.inline", /at most 65536/],
  ["script timeout 0", "abc", { ...base, setupScripts: { startup: { inline: "x", timeoutMinutes: 0 } } }, "setupScripts.startup.timeoutMinutes", /at least 1/],
  ["script timeout 121", "abc", { ...base, setupScripts: { startup: { inline: "x", timeoutMinutes: 121 } } }, "setupScripts.startup.timeoutMinutes", /at most 120/],
  ["script kind unknown", "abc", { ...base, setupScripts: { shutdown: { inline: "x" } } }, "setupScripts.shutdown", /not a known property/],
  ["jobsPerCore 0", "abc", { ...base, jobsPerCore: 0 }, "jobsPerCore", /at least 1/],
  ["jobsPerCore 17", "abc", { ...base, jobsPerCore: 17 }, "jobsPerCore", /at most 16/],
  ["too many tags", "abc", { ...base, tags: Object.fromEntries(Array.from({ length: 51 }, (_, i) => [`k${i}`, "v"])) }, "tags", /at most 50/],
  ["tag name chars", "abc", { ...base, tags: { "a/b": "v" } }, 'tags["a/b"]', /must not contain/],
  ["tag value long", "abc", { ...base, tags: { team: "v".repeat(257) } }, "tags.team", /at most 256/],
  ["tag value type", "abc", { ...base, tags: { team: 1 } }, "tags.team", /string/],
  ["description long", "abc", { ...base, description: "d".repeat(1025) }, "description", /at most 1024/],
  ["assignedUser path chars", "abc", { ...base, assignedUser: "../bob" }, "assignedUser", /letters, digits/],
];

describe("create instance: every rule names its field", () => {
  it.each(invalid)("%s", (_case, name, body, target, message) => {
    const details = errorsOf(name, body);
    const detail = details.find((d) => d.target === target);
    expect(detail, JSON.stringify(details)).toBeDefined();
    expect(detail?.message).toMatch(message);
  });

  it("reports several fields at once", () => {
    const details = errorsOf("x", { vmSize: 1, jobsPerCore: 99, bogus: true });
    expect(details.map((d) => d.target).sort()).toEqual(["bogus", "jobsPerCore", "name", "vmSize"]);
  });

  it("SSH Enabled is refused when the workspace does not allow it", () => {
    const s = settingsWith({ ALLOW_SSH_PUBLIC_ACCESS: "false" });
    const details = errorsOf("abc", { ...base, sshPublicAccess: "Enabled", sshPublicKey: keys.ed25519.publicKey }, s);
    expect(details).toEqual([expect.objectContaining({ target: "sshPublicAccess", code: "SshNotAllowed" })]);
  });

  it("SSH Disabled is accepted under a workspace that allows no SSH", () => {
    for (const env of [{ ALLOW_SSH_PUBLIC_ACCESS: "false" }, { ALLOW_SSH_PUBLIC_ACCESS: "true", SSH_ALLOWED_SOURCE_PREFIXES: "" }]) {
      const r = validateCreateInstance("abc", { ...base, sshPublicAccess: "Disabled" }, settingsWith(env));
      expect(r.ok, JSON.stringify(env)).toBe(true);
      if (r.ok) expect(r.value.sshPublicAccess).toBe("Disabled");
    }
  });

  it("the idle minimum follows IDLE_SHUTDOWN_MIN_MINUTES", () => {
    const s = settingsWith({ IDLE_SHUTDOWN_MIN_MINUTES: "1" });
    expect(validateCreateInstance("abc", { ...base, idleShutdownMinutes: 1 }, s).ok).toBe(true);
    expect(errorsOf("abc", { ...base, idleShutdownMinutes: 0 }, s)[0]?.target).toBe("idleShutdownMinutes");
  });
});

describe("patch instance", () => {
  const current = { vmSize: "Standard_D4s_v5", sshPublicAccess: "Disabled", subnetId: SUBNET, enablePublicIp: false, assignedUser: "alice" };

  it("accepts mutable fields", () => {
    const r = validatePatchInstance({ description: "x", idleShutdownMinutes: null, schedules: [schedule], jobsPerCore: 1, tags: {}, sshPublicKey: keys.ed25519.publicKey }, current, settings);
    expect(r.ok).toBe(true);
  });

  it("accepts immutable fields repeated unchanged", () => {
    expect(validatePatchInstance({ vmSize: "standard_d4s_v5", sshPublicAccess: "Disabled", description: "x" }, current, settings).ok).toBe(true);
  });

  it.each([
    [{ vmSize: "Standard_D2s_v5" }, ["vmSize"]],
    [{ sshPublicAccess: "Enabled" }, ["sshPublicAccess"]],
    [{ subnetId: SUBNET2, enablePublicIp: true }, ["subnetId", "enablePublicIp"]],
    [{ assignedUser: "bob" }, ["assignedUser"]],
  ])("changing %j → 409 PropertyChangeNotAllowed", (body, fields) => {
    const r = validatePatchInstance(body, current, settings);
    expect(r.ok).toBe(false);
    if (r.ok) return;
    expect(r.error).toBeInstanceOf(PropertyChangeNotAllowedError);
    expect(r.error.status).toBe(409);
    expect(r.error.details?.map((d) => d.target)).toEqual(fields);
  });

  it.each([
    [{ idleShutdownMinutes: 5 }, "idleShutdownMinutes"],
    [{ schedules: [{ ...schedule, cron: "bad" }] }, "schedules[0].cron"],
    [{ name: "other" }, "name"],
    [{ sshPublicKey: "nope" }, "sshPublicKey"],
  ])("invalid %j names %s", (body, target) => {
    const r = validatePatchInstance(body, current, settings);
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.error.details?.map((d) => d.target)).toContain(target);
  });

  it("rejects a non-object body", () => {
    const r = validatePatchInstance([1], current, settings);
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.error.status).toBe(400);
  });
});

describe("create instance: property test", () => {
  const field = fc.constantFrom(
    "vmSize", "assignedUser", "description", "sshPublicAccess", "sshPublicKey", "subnetId", "enablePublicIp",
    "idleShutdownMinutes", "schedules", "setupScripts", "jobsPerCore", "tags", "bogus", "__proto__", "constructor",
  );
  const value = fc.oneof(
    fc.anything(),
    fc.constantFrom("Standard_D4s_v5", "Enabled", "Disabled", SUBNET, keys.ed25519.publicKey, "0 19 * * 1-5", 15, null, true),
    fc.array(fc.record({ action: fc.constantFrom("Start", "Stop", "x"), cron: fc.string(), timeZone: fc.constantFrom("Europe/Stockholm", "UTC", "nope", ""), enabled: fc.boolean() }), { maxLength: 6 }),
  );
  const body = fc.oneof(fc.anything(), fc.dictionary(field, value, { maxKeys: 8 }));

  it("never throws; returns ok or field-named 400 errors", () => {
    fc.assert(
      fc.property(fc.oneof(fc.string(), fc.constant("alice-1"), fc.anything()), body, (name, b) => {
        const r = validateCreateInstance(name, b, settings);
        if (r.ok) {
          expect(settings.allowedVmSizes).toContain(r.value.vmSize);
          return;
        }
        expect(r.error.status).toBe(400);
        expect(r.error.details.length).toBeGreaterThan(0);
        for (const d of r.error.details) {
          expect(d.target).toMatch(/^[A-Za-z_$"[\]]/);
          expect(d.message.length).toBeGreaterThan(0);
        }
      }),
      { numRuns: 400 },
    );
  });
});

describe("PATCH edges with the answers written out", () => {
  const snapshot = { vmSize: "Standard_D4s_v5", sshPublicAccess: "Disabled", subnetId: SUBNET, enablePublicIp: false } as unknown as Parameters<typeof validatePatchInstance>[1];

  it.each<[string, unknown]>([
    ["null", null],
    ["a list", [{ description: "x" }]],
    ["a string", "description"],
  ])("a body that is %s is a 400 naming the body", (_case, body) => {
    const r = validatePatchInstance(body, snapshot, settings);
    expect(r.ok).toBe(false);
    if (r.ok) return;
    expect(r.error).toBeInstanceOf(ValidationError);
    expect(r.error.details).toEqual([{ code: "InvalidValue", target: "body", message: "must be a JSON object" }]);
  });

  it("the subnet id repeated in other case is no change; another spelling of the size is none either", () => {
    expect(validatePatchInstance({ subnetId: SUBNET.toUpperCase(), vmSize: "STANDARD_D4S_V5" }, snapshot, settings).ok).toBe(true);
  });

  it("an idle timeout under the minimum names the setting", () => {
    const r = validatePatchInstance({ idleShutdownMinutes: 1 }, snapshot, settingsWith({ IDLE_SHUTDOWN_MIN_MINUTES: "15" }));
    expect(r.ok).toBe(false);
    if (!r.ok) {
      expect(r.error.details).toEqual([
        { code: "InvalidValue", target: "idleShutdownMinutes", message: "must be at least 15 minutes (IDLE_SHUTDOWN_MIN_MINUTES), or null to turn idle shutdown off" },
      ]);
    }
  });
});

describe("create and PATCH answers a client shows", () => {
  it("a size outside the workspace's list: VmSizeNotAllowed, listing the allowed sizes comma-separated", () => {
    const s = settingsWith({ ALLOWED_VM_SIZES: "Standard_D2s_v5,Standard_D4s_v5" });
    expect(errorsOf("abc", { vmSize: "Standard_M128" }, s)).toEqual([
      { code: "VmSizeNotAllowed", target: "vmSize", message: "is not allowed in this workspace; allowed sizes: Standard_D2s_v5, Standard_D4s_v5" },
    ]);
  });

  it("the assigned user in other case is another user (owner checks are exact): a 409, unlike the size or subnet", () => {
    const r = validatePatchInstance({ assignedUser: "Alice" }, { assignedUser: "alice" }, settings);
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.error).toBeInstanceOf(PropertyChangeNotAllowedError);
  });
});
