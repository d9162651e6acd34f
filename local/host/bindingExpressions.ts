// Binding expressions in binding options (a blob path, a table filter), resolved as the
// Functions host resolves them: `%Setting%` from app settings, `{name}` from the trigger's
// metadata (route parameters, blob-path captures, queue message properties; a dotted name
// walks into JSON such as `{query.id}`), `{rand-guid}` and `{DateTime}`. An expression the
// trigger cannot supply is an error naming it, not an empty string.
import { randomUUID } from "node:crypto";
import type { RpcTypedData } from "./functionsCore";
import { resolveSettingExpression } from "./settings";

export type ExpressionSource = {
  triggerMetadata?: Record<string, RpcTypedData>;
  /** The trigger payload; a JSON object's properties are bindable too (e.g. a queue message's). */
  data?: RpcTypedData;
};

function typedValue(d: RpcTypedData | undefined): unknown {
  if (!d) return undefined;
  if (typeof d.string === "string") return d.string;
  if (typeof d.json === "string") {
    try {
      return JSON.parse(d.json) as unknown;
    } catch {
      return d.json;
    }
  }
  if (typeof d.int === "number") return d.int;
  if (typeof d.double === "number") return d.double;
  return undefined;
}

function lookup(obj: unknown, key: string): unknown {
  if (!obj || typeof obj !== "object") return undefined;
  const k = Object.keys(obj).find((x) => x.toLowerCase() === key.toLowerCase());
  return k === undefined ? undefined : (obj as Record<string, unknown>)[k];
}

function resolveName(expr: string, src: ExpressionSource): string {
  const name = expr.trim();
  if (name.toLowerCase() === "rand-guid") return randomUUID();
  if (name.toLowerCase() === "datetime") return new Date().toISOString();
  const [head, ...rest] = name.split(".");
  const metaKey = Object.keys(src.triggerMetadata ?? {}).find((k) => k.toLowerCase() === head!.toLowerCase());
  let value: unknown = metaKey !== undefined ? typedValue(src.triggerMetadata![metaKey]) : lookup(typedValue(src.data), head!);
  for (const seg of rest) value = lookup(value, seg);
  if (value === undefined || value === null) throw new Error(`binding expression {${name}} has no value for this trigger`);
  return typeof value === "string" ? value : JSON.stringify(value);
}

/** Resolves every `%Setting%` and `{expression}` in `template`. */
export function resolveBindingExpression(template: string, env: NodeJS.ProcessEnv, src: ExpressionSource): string {
  return resolveSettingExpression(template, env).replace(/\{([^{}]+)\}/g, (_m, expr: string) => resolveName(expr, src));
}
