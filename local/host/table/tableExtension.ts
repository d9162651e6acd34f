// Table input and output bindings (`input.table`, `output.table`) against Azurite or the
// account of the binding's `connection` setting, as the Tables extension serves them to
// Node apps: an input with a rowKey is that one entity (or nothing); without one, the
// entities matching partitionKey and `filter` (at most `take`) as an array. Entities carry
// PartitionKey, RowKey and their properties (no Timestamp or ETag). An output value is an
// entity or an array of them, each written (upsert, replace) to a table created on demand;
// the binding's partitionKey/rowKey fill in when an entity has none.
import type { TableEntityResult } from "@azure/data-tables";
import { resolveBindingExpression } from "../bindingExpressions";
import type { HostExtension, InputProvider, OutputHandler, TriggerInvocation } from "../extensions";
import type { RpcBindingInfo, RpcTypedData } from "../functionsCore";
import { tableClient } from "../storageClients";

type Entity = Record<string, unknown>;

const opt = (b: RpcBindingInfo, key: string, env: NodeJS.ProcessEnv, trigger: TriggerInvocation): string | undefined => {
  const v = b[key];
  return typeof v === "string" && v !== "" ? resolveBindingExpression(v, env, trigger) : undefined;
};

/** The SDK's camel-cased keys and OData metadata → what the binding hands to the function. */
function toBindingEntity(e: TableEntityResult<Entity>): Entity {
  const out: Entity = { PartitionKey: e.partitionKey, RowKey: e.rowKey };
  for (const [k, v] of Object.entries(e)) {
    if (k === "partitionKey" || k === "rowKey" || k === "etag" || k === "timestamp" || k.startsWith("odata.")) continue;
    out[k] = v;
  }
  return out;
}

const quote = (s: string) => `'${s.replace(/'/g, "''")}'`;

const isNotFound = (err: unknown) => (err as { statusCode?: number }).statusCode === 404;

export function tableExtension(): HostExtension {
  const created = new Set<string>();

  const read: InputProvider = async (ctx, fn, _name, binding, trigger) => {
    const tableName = opt(binding, "tableName", ctx.env, trigger);
    if (!tableName) throw new Error(`Function "${fn.name}": the table input binding has no tableName.`);
    const client = tableClient(ctx.env, binding.connection, tableName);
    const partitionKey = opt(binding, "partitionKey", ctx.env, trigger);
    const rowKey = opt(binding, "rowKey", ctx.env, trigger);
    if (rowKey !== undefined) {
      if (partitionKey === undefined) throw new Error(`Function "${fn.name}": a table input with rowKey needs partitionKey too.`);
      try {
        return { json: JSON.stringify(toBindingEntity(await client.getEntity<Entity>(partitionKey, rowKey))) };
      } catch (err) {
        if (isNotFound(err)) return {};
        throw err;
      }
    }
    const filter = opt(binding, "filter", ctx.env, trigger);
    const clauses = [partitionKey !== undefined ? `PartitionKey eq ${quote(partitionKey)}` : undefined, filter && `(${filter})`].filter(Boolean);
    const take = typeof binding.take === "number" && binding.take > 0 ? binding.take : undefined;
    const entities: Entity[] = [];
    try {
      const pages = client.listEntities<Entity>({ queryOptions: clauses.length > 0 ? { filter: clauses.join(" and ") } : {} });
      for await (const e of pages) {
        entities.push(toBindingEntity(e));
        if (take !== undefined && entities.length >= take) break;
      }
    } catch (err) {
      if (!isNotFound(err)) throw err; // a table that does not exist yet has no entities
    }
    return { json: JSON.stringify(entities) };
  };

  const write: OutputHandler = async (ctx, fn, _name, binding, data, trigger) => {
    const tableName = opt(binding, "tableName", ctx.env, trigger);
    if (!tableName) throw new Error(`Function "${fn.name}": the table output binding has no tableName.`);
    const value = parse(data);
    const entities = (Array.isArray(value) ? value : [value]) as unknown[];
    const pk = opt(binding, "partitionKey", ctx.env, trigger);
    const rk = opt(binding, "rowKey", ctx.env, trigger);
    const client = tableClient(ctx.env, binding.connection, tableName);
    const key = `${client.url}/${tableName}`;
    if (!created.has(key)) {
      await client.createTable();
      created.add(key);
    }
    for (const raw of entities) {
      if (!raw || typeof raw !== "object" || Array.isArray(raw)) throw new Error(`Function "${fn.name}": a table output value must be an object or an array of objects.`);
      const { PartitionKey, RowKey, partitionKey, rowKey, ...props } = raw as Entity;
      const p = PartitionKey ?? partitionKey ?? pk;
      const r = RowKey ?? rowKey ?? rk;
      if (typeof p !== "string" || typeof r !== "string") {
        throw new Error(`Function "${fn.name}": a table output entity needs string PartitionKey and RowKey.`);
      }
      await client.upsertEntity({ partitionKey: p, rowKey: r, ...props }, "Replace");
    }
  };

  return { name: "table", inputProviders: { table: read }, outputHandlers: { table: write } };
}

function parse(data: RpcTypedData): unknown {
  if (typeof data.json === "string") return JSON.parse(data.json) as unknown;
  if (typeof data.string === "string") return JSON.parse(data.string) as unknown;
  if (data.bytes) return JSON.parse(Buffer.from(data.bytes).toString("utf8")) as unknown;
  throw new Error("unsupported table output value");
}
