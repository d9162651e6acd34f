// Entity identity: EntityId { name, key } and its instance id "@<name lower-cased>@<key>"
// (the extension's EntityId.GetSchedulerIdFromEntityId). Entity instance ids are partition
// keys of the task hub table like orchestration instance ids, so the same characters are refused.
import { EngineError } from "../client/errors";
import type { EntityIdWire } from "./types";

export function schedulerId(e: EntityIdWire): string {
  return `@${e.name.toLowerCase()}@${e.key}`;
}

export function isEntityInstanceId(instanceId: string): boolean {
  return instanceId.startsWith("@");
}

export function parseSchedulerId(id: string): EntityIdWire {
  const at = id.indexOf("@", 1);
  if (!id.startsWith("@") || at < 0) throw new EngineError(400, "InvalidEntityId", `"${id}" is not an entity instance id (@name@key)`);
  return { name: id.slice(1, at), key: id.slice(at + 1) };
}

// Azure Table keys refuse these characters (the Azure Storage provider keys instances by id).
const INVALID = /[/\\#?\u0000-\u001f\u007f-\u009f]/;

/** Refuses what the task hub cannot store: empty names, and characters Table keys do not allow. */
export function validateEntityId(e: EntityIdWire): void {
  if (!e.name) throw new EngineError(400, "InvalidEntityId", "entity name: must not be empty");
  if (INVALID.test(e.name) || e.name.includes("@")) throw new EngineError(400, "InvalidEntityId", `entity name "${e.name}": none of / \\ # ? @ or control characters`);
  if (INVALID.test(e.key)) throw new EngineError(400, "InvalidEntityId", `entity key "${e.key}": none of / \\ # ? or control characters`);
  if (schedulerId(e).length > 256) throw new EngineError(400, "InvalidEntityId", `entity id "${schedulerId(e)}": at most 256 characters`);
}

/** The extension's message when a name is not a registered entity function. */
export function unknownEntityMessage(name: string): string {
  return `The function '${name}' doesn't exist, is disabled, or is not an entity function.`;
}
