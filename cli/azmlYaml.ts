// `cix instance create -f instance.yaml` reads the YAML users already write for
// `az ml compute create -f` (the CLI v2 compute instance schema) and maps what this service
// supports onto the create body. Anything else is refused by its YAML name, so nobody believes
// a setting took effect when it did not.
import fs from "node:fs";
import path from "node:path";
import YAML from "yaml";
import { findIana } from "windows-iana";
import type { CreateInstanceBody } from "../client/api";
import { usage } from "./context";

type Yaml = Record<string, unknown>;
type Schedule = NonNullable<CreateInstanceBody["schedules"]>[number];

/** Top-level keys of the az ml schema this service has no counterpart for. */
const UNSUPPORTED = new Set([
  "location", "identity", "custom_applications", "enable_sso", "enable_root_access", "enable_os_patching",
  "release_quota_on_stop", "os_image_metadata", "resource_id", "id", "provisioning_state", "state",
  "services", "last_operation", "created_on", "os_image", "image_metadata",
]);
const KNOWN = new Set([
  "$schema", "type", "name", "description", "size", "create_on_behalf_of", "ssh_public_access_enabled", "ssh_settings",
  "network_settings", "enable_node_public_ip", "idle_time_before_shutdown", "idle_time_before_shutdown_minutes",
  "schedules", "setup_scripts", "tags",
]);

const isObj = (v: unknown): v is Yaml => typeof v === "object" && v !== null && !Array.isArray(v);

function only(obj: Yaml, where: string, allowed: string[]): void {
  for (const k of Object.keys(obj)) {
    if (!allowed.includes(k)) throw usage(`${where}.${k} is not supported by this service (supported: ${allowed.join(", ")})`);
  }
}

function str(v: unknown, where: string): string {
  if (typeof v !== "string" || v.trim() === "") throw usage(`${where} must be a non-empty string`);
  return v;
}

/** ISO 8601 durations as az ml writes them (PT30M, PT1H30M, P1D) → whole minutes. */
export function isoMinutes(v: string, where: string): number {
  const m = /^P(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?)?$/.exec(v);
  if (!m || v === "P" || v === "PT") throw usage(`${where} must be an ISO 8601 duration such as PT30M`);
  return Number(m[1] ?? 0) * 1440 + Number(m[2] ?? 0) * 60 + Number(m[3] ?? 0);
}

/** IANA names pass through; Windows names (what az ml examples use) map to their IANA zone. */
export function ianaZone(zone: string, where: string): string {
  try {
    new Intl.DateTimeFormat("en", { timeZone: zone });
    return zone;
  } catch {
    const mapped = findIana(zone)?.[0];
    if (mapped) return mapped;
    throw usage(`${where}: unknown time zone '${zone}' (use an IANA name such as Europe/Stockholm)`);
  }
}

const DAYS: Record<string, number> = { sunday: 0, monday: 1, tuesday: 2, wednesday: 3, thursday: 4, friday: 5, saturday: 6 };

function recurrenceCron(t: Yaml, where: string): string {
  only(t, where, ["type", "frequency", "interval", "schedule", "time_zone", "start_time", "end_time"]);
  const freq = String(t.frequency ?? "").toLowerCase();
  if (t.interval !== undefined && t.interval !== 1) throw usage(`${where}.interval: only 1 is supported (a cron expression cannot say 'every ${String(t.interval)}')`);
  const s = isObj(t.schedule) ? t.schedule : {};
  only(s, `${where}.schedule`, ["hours", "minutes", "week_days", "month_days"]);
  const list = (v: unknown, name: string): number[] => {
    const xs = (Array.isArray(v) ? v : v === undefined ? [] : [v]).map(Number);
    if (xs.some((x) => !Number.isInteger(x) || x < 0)) throw usage(`${where}.schedule.${name} must be whole numbers`);
    return xs;
  };
  const hours = list(s.hours, "hours");
  const minutes = list(s.minutes, "minutes");
  if (!hours.length || !minutes.length) throw usage(`${where}.schedule needs hours and minutes`);
  let days = "*";
  if (freq === "week") {
    const wd = (Array.isArray(s.week_days) ? s.week_days : [s.week_days]).map((d) => DAYS[String(d).toLowerCase()]);
    if (!wd.length || wd.some((d) => d === undefined)) throw usage(`${where}.schedule.week_days must be day names such as monday`);
    days = wd.join(",");
  } else if (freq !== "day") {
    throw usage(`${where}.frequency must be day or week`);
  }
  return `${minutes.join(",")} ${hours.join(",")} * * ${days}`;
}

function schedules(v: unknown): Schedule[] {
  if (!isObj(v)) throw usage("schedules must be a mapping with compute_start_stop");
  only(v, "schedules", ["compute_start_stop"]);
  const list = v.compute_start_stop ?? [];
  if (!Array.isArray(list)) throw usage("schedules.compute_start_stop must be a list");
  return list.map((item, i) => {
    const where = `schedules.compute_start_stop[${i}]`;
    if (!isObj(item)) throw usage(`${where} must be a mapping`);
    only(item, where, ["action", "trigger", "state", "status"]);
    const action = String(item.action ?? "").toLowerCase();
    if (action !== "start" && action !== "stop") throw usage(`${where}.action must be start or stop`);
    if (!isObj(item.trigger)) throw usage(`${where}.trigger is required`);
    const t = item.trigger;
    const type = String(t.type ?? "cron").toLowerCase();
    let cron: string;
    if (type === "cron") {
      only(t, `${where}.trigger`, ["type", "expression", "time_zone", "start_time", "end_time"]);
      cron = str(t.expression, `${where}.trigger.expression`);
    } else if (type === "recurrence") {
      cron = recurrenceCron(t, `${where}.trigger`);
    } else {
      throw usage(`${where}.trigger.type must be cron or recurrence`);
    }
    if (t.end_time !== undefined) throw usage(`${where}.trigger.end_time is not supported by this service`);
    const state = String(item.state ?? item.status ?? "enabled").toLowerCase();
    if (state !== "enabled" && state !== "disabled") throw usage(`${where}.state must be enabled or disabled`);
    const timeZone = ianaZone(t.time_zone === undefined ? "UTC" : str(t.time_zone, `${where}.trigger.time_zone`), `${where}.trigger.time_zone`);
    return { action: action === "start" ? "Start" : "Stop", cron, timeZone, enabled: state === "enabled" };
  });
}

function script(v: unknown, where: string, baseDir: string): { inline: string; timeoutMinutes?: number } {
  if (!isObj(v)) throw usage(`${where} must be a mapping with path`);
  only(v, where, ["path", "timeout_minutes"]);
  const file = path.resolve(baseDir, str(v.path, `${where}.path`));
  let inline: string;
  try {
    inline = fs.readFileSync(file, "utf8");
  } catch {
    throw usage(`${where}.path: cannot read ${file}`);
  }
  const out: { inline: string; timeoutMinutes?: number } = { inline };
  if (v.timeout_minutes !== undefined) out.timeoutMinutes = Number(v.timeout_minutes);
  return out;
}

/** The create body, and the name, from the text of an az ml compute instance YAML file. */
export function fromAzMlYaml(text: string, baseDir: string): { name?: string; body: CreateInstanceBody } {
  let doc: unknown;
  try {
    doc = YAML.parse(text);
  } catch (err) {
    throw usage(`the YAML file does not parse: ${(err as Error).message}`);
  }
  if (!isObj(doc)) throw usage("the YAML file must be a mapping");
  for (const k of Object.keys(doc)) {
    if (UNSUPPORTED.has(k) || !KNOWN.has(k)) throw usage(`${k} is not supported by this service`);
  }
  if (doc.type !== undefined && String(doc.type).toLowerCase() !== "computeinstance") throw usage(`type must be computeinstance (got ${String(doc.type)})`);
  if (doc.size === undefined) throw usage("size is required");
  const body: CreateInstanceBody = { vmSize: str(doc.size, "size") };
  if (doc.description !== undefined) body.description = String(doc.description);
  if (isObj(doc.create_on_behalf_of)) {
    only(doc.create_on_behalf_of, "create_on_behalf_of", ["user_object_id", "user_tenant_id"]);
    body.assignedUser = str(doc.create_on_behalf_of.user_object_id, "create_on_behalf_of.user_object_id");
  }
  if (doc.ssh_public_access_enabled !== undefined) body.sshPublicAccess = doc.ssh_public_access_enabled === true ? "Enabled" : "Disabled";
  if (isObj(doc.ssh_settings)) {
    only(doc.ssh_settings, "ssh_settings", ["ssh_key_value", "admin_username"]);
    if (doc.ssh_settings.admin_username !== undefined && doc.ssh_settings.admin_username !== "azureuser") {
      throw usage("ssh_settings.admin_username: only azureuser is supported");
    }
    if (doc.ssh_settings.ssh_key_value !== undefined) body.sshPublicKey = str(doc.ssh_settings.ssh_key_value, "ssh_settings.ssh_key_value").trim();
  }
  if (isObj(doc.network_settings)) {
    only(doc.network_settings, "network_settings", ["subnet", "vnet_name"]);
    if (doc.network_settings.vnet_name !== undefined) throw usage("network_settings.vnet_name is not supported: give network_settings.subnet as the subnet's full resource id");
    if (doc.network_settings.subnet !== undefined) body.subnetId = str(doc.network_settings.subnet, "network_settings.subnet");
  }
  if (doc.enable_node_public_ip !== undefined) body.enablePublicIp = doc.enable_node_public_ip === true;
  if (doc.idle_time_before_shutdown_minutes !== undefined) body.idleShutdownMinutes = Number(doc.idle_time_before_shutdown_minutes);
  else if (doc.idle_time_before_shutdown !== undefined) body.idleShutdownMinutes = isoMinutes(String(doc.idle_time_before_shutdown), "idle_time_before_shutdown");
  if (doc.schedules !== undefined) body.schedules = schedules(doc.schedules);
  if (isObj(doc.setup_scripts)) {
    only(doc.setup_scripts, "setup_scripts", ["creation_script", "startup_script"]);
    const s: NonNullable<CreateInstanceBody["setupScripts"]> = {};
    if (doc.setup_scripts.creation_script !== undefined) s.creation = script(doc.setup_scripts.creation_script, "setup_scripts.creation_script", baseDir);
    if (doc.setup_scripts.startup_script !== undefined) s.startup = script(doc.setup_scripts.startup_script, "setup_scripts.startup_script", baseDir);
    body.setupScripts = s;
  }
  if (doc.tags !== undefined) {
    if (!isObj(doc.tags)) throw usage("tags must be a mapping");
    body.tags = Object.fromEntries(Object.entries(doc.tags).map(([k, v]) => [k, String(v)]));
  }
  return { ...(doc.name !== undefined ? { name: str(doc.name, "name") } : {}), body };
}
