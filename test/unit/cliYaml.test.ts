// The az ml compute YAML → create body mapping of `cix instance create -f`.
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { fromAzMlYaml, ianaZone, isoMinutes } from "../../cli/azmlYaml";
import { commandLine } from "../../cli/commands/job";

const dir = os.tmpdir();

describe("az ml compute YAML", () => {
  it("maps the supported fields", () => {
    const { name, body } = fromAzMlYaml(
      [
        "name: ws1",
        "type: computeinstance",
        "size: Standard_NC4as_T4_v3",
        "description: gpu box",
        "create_on_behalf_of: {user_object_id: bob, user_tenant_id: t1}",
        "ssh_public_access_enabled: true",
        "ssh_settings: {ssh_key_value: 'ssh-ed25519 AAAAC3 me@x', admin_username: azureuser}",
        "network_settings: {subnet: /subscriptions/s/resourceGroups/r/providers/Microsoft.Network/virtualNetworks/v/subnets/s1}",
        "enable_node_public_ip: false",
        "idle_time_before_shutdown_minutes: 30",
        "tags: {team: vision, cost: 12}",
      ].join("\n"),
      dir,
    );
    expect(name).toBe("ws1");
    expect(body).toEqual({
      vmSize: "Standard_NC4as_T4_v3",
      description: "gpu box",
      assignedUser: "bob",
      sshPublicAccess: "Enabled",
      sshPublicKey: "ssh-ed25519 AAAAC3 me@x",
      subnetId: "/subscriptions/s/resourceGroups/r/providers/Microsoft.Network/virtualNetworks/v/subnets/s1",
      enablePublicIp: false,
      idleShutdownMinutes: 30,
      tags: { team: "vision", cost: "12" },
    });
  });

  it("turns recurrence triggers into cron and Windows zones into IANA ones", () => {
    const { body } = fromAzMlYaml(
      [
        "size: Standard_D2s_v5",
        "schedules:",
        "  compute_start_stop:",
        "    - action: start",
        "      state: disabled",
        "      trigger: {type: recurrence, frequency: week, interval: 1, time_zone: Pacific Standard Time,",
        "                schedule: {hours: [8], minutes: [30], week_days: [monday, friday]}}",
        "    - action: stop",
        "      trigger: {type: recurrence, frequency: day, schedule: {hours: [19, 23], minutes: [0]}}",
      ].join("\n"),
      dir,
    );
    expect(body.schedules).toEqual([
      { action: "Start", cron: "30 8 * * 1,5", timeZone: "America/Los_Angeles", enabled: false },
      { action: "Stop", cron: "0 19,23 * * *", timeZone: "UTC", enabled: true },
    ]);
  });

  it("reads setup scripts from files beside the YAML", () => {
    const d = fs.mkdtempSync(path.join(os.tmpdir(), "yaml-"));
    fs.writeFileSync(path.join(d, "s.sh"), "echo hi\n");
    const { body } = fromAzMlYaml("size: Standard_D2s_v5\nsetup_scripts:\n  startup_script: {path: s.sh, timeout_minutes: 3}\n", d);
    expect(body.setupScripts).toEqual({ startup: { inline: "echo hi\n", timeoutMinutes: 3 } });
    expect(() => fromAzMlYaml("size: Standard_D2s_v5\nsetup_scripts:\n  startup_script: {path: nope.sh}\n", d)).toThrow(/setup_scripts.startup_script.path: cannot read/);
    fs.rmSync(d, { recursive: true, force: true });
  });

  it("refuses what it cannot honour, naming the field", () => {
    const refuse = (yaml: string) => () => fromAzMlYaml(yaml, dir);
    expect(refuse("size: Standard_D2s_v5\nenable_root_access: false\n")).toThrow("enable_root_access is not supported");
    expect(refuse("size: Standard_D2s_v5\nfoo: 1\n")).toThrow("foo is not supported");
    expect(refuse("type: amlcompute\nsize: Standard_D2s_v5\n")).toThrow("type must be computeinstance");
    expect(refuse("description: no size\n")).toThrow("size is required");
    expect(refuse("size: Standard_D2s_v5\nnetwork_settings: {vnet_name: v, subnet: s}\n")).toThrow("network_settings.vnet_name is not supported");
    expect(refuse("size: Standard_D2s_v5\nssh_settings: {admin_username: root}\n")).toThrow("only azureuser");
    expect(refuse("size: Standard_D2s_v5\nschedules: {compute_start_stop: [{action: stop, trigger: {type: recurrence, frequency: day, interval: 2, schedule: {hours: [1], minutes: [0]}}}]}\n")).toThrow("interval: only 1");
    expect(refuse("size: Standard_D2s_v5\nschedules: {compute_start_stop: [{action: pause, trigger: {expression: '* * * * *'}}]}\n")).toThrow("action must be start or stop");
    expect(refuse("size: [unclosed\n")).toThrow("does not parse");
  });

  it("reads ISO 8601 durations and time zones", () => {
    expect(isoMinutes("PT30M", "x")).toBe(30);
    expect(isoMinutes("PT1H30M", "x")).toBe(90);
    expect(isoMinutes("P1D", "x")).toBe(1440);
    expect(() => isoMinutes("30 minutes", "idle")).toThrow("idle must be an ISO 8601 duration");
    expect(() => isoMinutes("PT", "idle")).toThrow();
    expect(ianaZone("Europe/Stockholm", "z")).toBe("Europe/Stockholm");
    expect(ianaZone("W. Europe Standard Time", "z")).toBe("Europe/Berlin");
    expect(() => ianaZone("Mars/Olympus", "tz")).toThrow("tz: unknown time zone 'Mars/Olympus'");
  });

  it("quotes words of a command for the shell, and keeps a single argument as written", () => {
    expect(commandLine(["python train.py && echo done"])).toBe("python train.py && echo done");
    expect(commandLine(["echo", "hello world", "it's"])).toBe(`echo 'hello world' 'it'\\''s'`);
    expect(commandLine(["python", "train.py", "--lr=0.1"])).toBe("python train.py --lr=0.1");
  });
});
