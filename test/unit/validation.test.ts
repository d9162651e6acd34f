import { describe, expect, it } from "vitest";
import { z } from "zod";
import { jsonPath, parseWith } from "../../shared/validation";

// How zod's findings become api.md's field errors: target path, stable code, readable message.
const errorsOf = (schema: z.ZodType, input: unknown, root?: string) => {
  const r = parseWith(schema, input, root);
  return r.ok ? [] : r.error.details;
};

describe("field errors from schemas", () => {
  it.each<[string, z.ZodType, unknown, { code: string; target: string; message: string }]>([
    ["missing", z.object({ a: z.string() }), {}, { code: "MissingProperty", target: "a", message: "is required" }],
    ["wrong type", z.object({ a: z.string() }), { a: 5 }, { code: "InvalidValue", target: "a", message: "must be a string, not a number" }],
    ["wrong type, article 'an'", z.object({ a: z.object({}) }), { a: "x" }, { code: "InvalidValue", target: "a", message: "must be an object, not a string" }],
    ["null", z.object({ a: z.string() }), { a: null }, { code: "InvalidValue", target: "a", message: "must be a string, not null" }],
    ["array", z.object({ a: z.string() }), { a: [] }, { code: "InvalidValue", target: "a", message: "must be a string, not an array" }],
    ["object", z.object({ a: z.number() }), { a: {} }, { code: "InvalidValue", target: "a", message: "must be a number, not an object" }],
    ["not finite", z.object({ a: z.string() }), { a: Number.POSITIVE_INFINITY }, { code: "InvalidValue", target: "a", message: "must be a string, not Infinity" }],
    ["not an integer", z.object({ a: z.int() }), { a: 1.5 }, { code: "InvalidValue", target: "a", message: "must be an integer" }],
    ["empty string", z.object({ a: z.string().min(1) }), { a: "" }, { code: "InvalidValue", target: "a", message: "must not be empty" }],
    ["short string", z.object({ a: z.string().min(3) }), { a: "ab" }, { code: "InvalidValue", target: "a", message: "must be at least 3 characters" }],
    ["long string", z.object({ a: z.string().max(3) }), { a: "abcd" }, { code: "InvalidValue", target: "a", message: "must be at most 3 characters" }],
    ["short array", z.object({ a: z.array(z.number()).min(2) }), { a: [1] }, { code: "InvalidValue", target: "a", message: "must have at least 2 items" }],
    ["long array", z.object({ a: z.array(z.number()).max(1) }), { a: [1, 2] }, { code: "InvalidValue", target: "a", message: "must have at most 1 items" }],
    ["small number", z.object({ a: z.number().min(1) }), { a: 0 }, { code: "InvalidValue", target: "a", message: "must be at least 1" }],
    ["big number", z.object({ a: z.number().max(9) }), { a: 10 }, { code: "InvalidValue", target: "a", message: "must be at most 9" }],
    ["enum", z.object({ a: z.enum(["On", "Off"]) }), { a: "x" }, { code: "InvalidValue", target: "a", message: 'must be one of "On", "Off"' }],
    ["format", z.object({ a: z.email() }), { a: "x" }, { code: "InvalidValue", target: "a", message: "must be a valid email" }],
    ["multiple of", z.object({ a: z.number().multipleOf(5) }), { a: 7 }, { code: "InvalidValue", target: "a", message: "must be a multiple of 5" }],
    ["schema's own message", z.object({ a: z.string().refine((v) => v === "x", "must be x") }), { a: "y" }, { code: "InvalidValue", target: "a", message: "must be x" }],
    ["union", z.object({ a: z.union([z.string(), z.number()]) }), { a: true }, { code: "InvalidValue", target: "a", message: "Invalid input" }],
    ["record key", z.object({ t: z.record(z.string().max(2), z.string()) }), { t: { abc: "v" } }, { code: "InvalidValue", target: "t.abc", message: "invalid key: must be at most 2 characters" }],
  ])("%s", (_case, schema, input, detail) => {
    expect(errorsOf(schema, input)).toEqual([detail]);
  });

  it("names each unknown property, nested paths included", () => {
    const schema = z.strictObject({ a: z.array(z.strictObject({ b: z.string() })) });
    expect(errorsOf(schema, { a: [{ b: "x", c: 1, "d e": 2 }], z: 0 })).toEqual([
      { code: "UnknownProperty", target: 'a[0].c', message: "is not a known property" },
      { code: "UnknownProperty", target: 'a[0]["d e"]', message: "is not a known property" },
      { code: "UnknownProperty", target: "z", message: "is not a known property" },
    ]);
  });

  it("reports the same finding once", () => {
    const schema = z.object({ a: z.string().refine(() => false, "bad").refine(() => false, "bad") });
    expect(errorsOf(schema, { a: "x" })).toEqual([{ code: "InvalidValue", target: "a", message: "bad" }]);
  });

  it("a root names top-level values; without one, the whole body is 'body'", () => {
    expect(errorsOf(z.string(), 5, "name")).toEqual([{ code: "InvalidValue", target: "name", message: "must be a string, not a number" }]);
    expect(errorsOf(z.string(), 5)).toEqual([{ code: "InvalidValue", target: "body", message: "must be a string, not a number" }]);
  });

  it("a refinement that throws is a 400 on the value, not a 500", () => {
    const schema = z.string().refine(() => {
      throw new Error("exploded");
    });
    const r = parseWith(schema, "x", "name");
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.error.details).toEqual([{ code: "InvalidValue", target: "name", message: "exploded" }]);
    const thrown = z.string().refine(() => {
      throw "not an Error";
    });
    expect(errorsOf(thrown, "x")).toEqual([{ code: "InvalidValue", target: "body", message: "could not be validated" }]);
  });

  it("returns the parsed value", () => {
    expect(parseWith(z.object({ a: z.string().default("d") }), {})).toEqual({ ok: true, value: { a: "d" } });
  });
});

describe("JSON paths", () => {
  it.each<[(string | number)[], string | undefined, string]>([
    [["schedules", 0, "cron"], undefined, "schedules[0].cron"],
    [["tags", "a b"], undefined, 'tags["a b"]'],
    [["$x", "_y", "z9"], undefined, "$x._y.z9"],
    [["9z"], undefined, '["9z"]'],
    [[0], "schedules", "schedules[0]"],
    [["cron"], "schedules[1]", "schedules[1].cron"],
    [[], undefined, "body"],
    [[], "name", "name"],
  ])("%j (root %s) → %s", (path, root, expected) => {
    expect(jsonPath(path, root)).toBe(expected);
  });
});
