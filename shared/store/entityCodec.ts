// Records ↔ Azure Table entities. Top-level scalars become typed columns (queryable with
// $filter, readable in Storage Explorer); nested values, nulls and long strings are stored as
// JSON, split over several columns when a value passes the 64 KiB property limit.
import { ValidationError } from "../errors";

type EntityValue = string | number | boolean | { value: string; type: "Double" };
export type EntityProps = Record<string, EntityValue>;

const JSON_SUFFIX = "__json";
// 64 KiB per property = 32 Ki UTF-16 code units; stay under it with room for escapes.
const CHUNK_CHARS = 30_000;
// Azure Tables: 1 MiB per entity and 252 custom properties.
const MAX_ENTITY_BYTES = 1024 * 1024 - 16 * 1024;
const MAX_PROPERTIES = 252;
const RESERVED = new Set(["partitionKey", "rowKey", "etag", "timestamp", "PartitionKey", "RowKey", "Timestamp"]);
const NAME_RE = /^[A-Za-z_][A-Za-z0-9_]{0,200}$/;
const JSON_PROP_RE = new RegExp(`^(.+)${JSON_SUFFIX}(\\d*)$`);

function isInt32(n: number): boolean {
  return Number.isInteger(n) && n >= -2147483648 && n <= 2147483647;
}

function approxBytes(name: string, value: EntityValue): number {
  const v = typeof value === "object" ? 8 : typeof value === "string" ? 4 + value.length * 2 : 8;
  return 8 + name.length * 2 + v;
}

/** Encodes a record; `kind` names it in errors ("instance"). Throws ValidationError when too large. */
export function encodeRecord(record: object, kind: string): EntityProps {
  const out: EntityProps = {};
  for (const [key, value] of Object.entries(record)) {
    if (value === undefined) continue;
    if (!NAME_RE.test(key) || RESERVED.has(key) || JSON_PROP_RE.test(key)) {
      throw new Error(`${kind} field name ${JSON.stringify(key)} cannot be stored in a table`);
    }
    if (typeof value === "boolean") out[key] = value;
    else if (typeof value === "number" && Number.isFinite(value)) {
      // Untyped numbers are taken as Int32 by the service; anything else must say Double.
      out[key] = isInt32(value) ? value : { value: String(value), type: "Double" };
    } else if (typeof value === "string" && value.length <= CHUNK_CHARS) out[key] = value;
    else {
      const text = JSON.stringify(value);
      if (text === undefined) continue; // functions, symbols: not data
      for (let i = 0, part = 0; i < text.length || part === 0; i += CHUNK_CHARS, part++) {
        out[`${key}${JSON_SUFFIX}${part === 0 ? "" : part}`] = text.slice(i, i + CHUNK_CHARS);
      }
    }
  }
  const names = Object.keys(out);
  const bytes = names.reduce((sum, n) => sum + approxBytes(n, out[n] as EntityValue), 0);
  if (names.length > MAX_PROPERTIES || bytes > MAX_ENTITY_BYTES) {
    throw ValidationError.field(kind, `the ${kind} record is too large to store (${Math.ceil(bytes / 1024)} KiB, ${names.length} fields)`, "RecordTooLarge");
  }
  return out;
}

/** Decodes an entity read back from the table (system properties are ignored). */
export function decodeRecord<T>(entity: Record<string, unknown>): T {
  const out: Record<string, unknown> = {};
  const chunks = new Map<string, string[]>();
  for (const [key, value] of Object.entries(entity)) {
    if (RESERVED.has(key) || key.startsWith("odata.")) continue;
    const m = JSON_PROP_RE.exec(key);
    if (m && typeof value === "string") {
      const parts = chunks.get(m[1] as string) ?? [];
      parts[m[2] ? Number(m[2]) : 0] = value;
      chunks.set(m[1] as string, parts);
    } else if (typeof value === "object" && value !== null && "value" in value) {
      // Typed values the SDK did not convert (Int64): keep numbers as numbers.
      const v = (value as { value: unknown }).value;
      out[key] = typeof v === "string" && /^-?\d+(\.\d+)?$/.test(v) ? Number(v) : v;
    } else out[key] = value;
  }
  for (const [key, parts] of chunks) out[key] = JSON.parse(parts.join(""));
  return out as T;
}
