// Rules of the local host that are plain functions: Set-Cookie serialization, repeated query
// keys, retry-policy delays, the body size setting, and the start-up check for bindings.
import { describe, expect, it } from "vitest";
import { setCookieHeader } from "../../local/host/http/cookies";
import { joinQuery } from "../../local/host/http/httpExtension";
import { retryPolicy } from "../../local/host/retryPolicy";
import { DEFAULT_REQUEST_BODY_SIZE_LIMIT, requestBodySizeLimit } from "../../local/host/http/bodyLimit";
import { unservedBinding, type HostExtension } from "../../local/host/extensions";
import type { RegisteredFunction, RpcBindingInfo } from "../../local/host/functionsCore";

describe("Set-Cookie as the Functions host writes it", () => {
  it("lower-cases attributes, orders them as ASP.NET Core does and defaults the path to /", () => {
    expect(setCookieHeader({ name: "a", value: "1", maxAge: 200000, sameSite: "none" })).toBe("a=1; max-age=200000; path=/");
    expect(setCookieHeader({ name: "b", value: "x y", path: { value: "/p" }, sameSite: "lax" })).toBe("b=x%20y; path=/p; samesite=lax");
    expect(
      setCookieHeader({
        name: "c",
        value: "v",
        domain: { value: "example.com" },
        expires: { value: { seconds: 0 } },
        secure: { value: true },
        httpOnly: { value: true },
        sameSite: "explicitNone",
      }),
    ).toBe("c=v; expires=Thu, 01 Jan 1970 00:00:00 GMT; domain=example.com; path=/; secure; samesite=none; httponly");
    expect(setCookieHeader({ name: "d", value: "v", sameSite: "strict", maxAge: { value: 0 } })).toBe("d=v; max-age=0; path=/; samesite=strict");
  });
});

describe("query strings", () => {
  it("joins repeated keys with a comma, as the host does", () => {
    expect(joinQuery(new URLSearchParams("a=1&b=x&a=2&a=3"))).toEqual({ a: "1,2,3", b: "x" });
  });
});

describe("retry policies", () => {
  it("fixedDelay waits the same interval before every retry", () => {
    const p = retryPolicy("f", { retryStrategy: "fixedDelay", maxRetryCount: 3, delayInterval: { seconds: 2 } })!;
    expect([1, 2, 3].map((n) => p.delayMs(n))).toEqual([2000, 2000, 2000]);
  });

  it("exponentialBackoff starts at minimumInterval and doubles up to maximumInterval", () => {
    const p = retryPolicy("f", { retryStrategy: "exponentialBackoff", maxRetryCount: -1, minimumInterval: { seconds: 1 }, maximumInterval: { seconds: 5 } })!;
    expect([1, 2, 3, 4, 10].map((n) => p.delayMs(n))).toEqual([1000, 2000, 4000, 5000, 5000]);
  });

  it("refuses incomplete policies, naming the function", () => {
    expect(() => retryPolicy("f", { retryStrategy: "fixedDelay", maxRetryCount: 3 })).toThrow(/function "f": retry .*delayInterval/);
    expect(() => retryPolicy("g", { retryStrategy: "linear", maxRetryCount: 1 })).toThrow(/function "g"/);
    expect(retryPolicy("h", undefined)).toBeUndefined();
  });
});

describe("FUNCTIONS_REQUEST_BODY_SIZE_LIMIT", () => {
  it("defaults to Azure's 104857600 bytes and refuses a value that is not a byte count", () => {
    expect(requestBodySizeLimit({})).toBe(DEFAULT_REQUEST_BODY_SIZE_LIMIT);
    expect(DEFAULT_REQUEST_BODY_SIZE_LIMIT).toBe(104857600);
    expect(requestBodySizeLimit({ FUNCTIONS_REQUEST_BODY_SIZE_LIMIT: "4294967296" })).toBe(4294967296);
    expect(() => requestBodySizeLimit({ FUNCTIONS_REQUEST_BODY_SIZE_LIMIT: "100MB" })).toThrow(/FUNCTIONS_REQUEST_BODY_SIZE_LIMIT/);
  });
});

describe("bindings nobody serves", () => {
  const fn = (name: string, bindings: Record<string, RpcBindingInfo>): RegisteredFunction => {
    const [triggerName, trigger] = Object.entries(bindings).find(([, b]) => /trigger$/i.test(String(b.type)))!;
    return { name, metadata: { name, bindings }, callback: () => undefined, trigger: { ...trigger, name: triggerName, type: String(trigger.type) } };
  };
  const extensions: HostExtension[] = [
    { name: "http", triggerTypes: ["httptrigger"] },
    { name: "queue", triggerTypes: ["queuetrigger"], outputHandlers: { queue: async () => undefined } },
  ];

  it("names the function and the binding type of the first unserved trigger or binding", () => {
    const ok = fn("ok", { req: { type: "httpTrigger", direction: "in" }, $return: { type: "http", direction: "out" }, q: { type: "queue", direction: "out" } });
    expect(unservedBinding([ok], extensions)).toBeUndefined();
    const sb = fn("fromBus", { m: { type: "serviceBusTrigger", direction: "in" } });
    expect(unservedBinding([ok, sb], extensions)).toBe('function "fromBus": the local host does not serve triggers of type "serviceBusTrigger"');
    const cosmos = fn("reads", { req: { type: "httpTrigger", direction: "in" }, doc: { type: "cosmosDB", direction: "in" } });
    expect(unservedBinding([cosmos], extensions)).toBe('function "reads": the local host does not serve input bindings of type "cosmosDB"');
    const hub = fn("sends", { m: { type: "queueTrigger", direction: "in" }, e: { type: "eventHub", direction: "out" } });
    expect(unservedBinding([hub], extensions)).toBe('function "sends": the local host does not serve output bindings of type "eventHub"');
  });
});
