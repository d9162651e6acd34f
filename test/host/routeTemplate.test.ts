// Route template parsing and matching (unit level; the host tests cover it end to end).
import { describe, expect, it } from "vitest";
import { compareRoutes, matchRoute, parseRouteTemplate, RouteTemplateError } from "../../local/host/http/routeTemplate";

const match = (template: string, path: string) => matchRoute(parseRouteTemplate(template), path);

describe("route templates", () => {
  it("matches literals case-insensitively and binds parameters", () => {
    expect(match("Instances/{name}", "instances/ci-1")).toEqual({ name: "ci-1" });
    expect(match("instances/{name}", "instances")).toBeUndefined();
    expect(match("instances/{name}", "instances/a/b")).toBeUndefined();
  });

  it("checks constraints", () => {
    expect(match("n/{id:int}", "n/-12")).toEqual({ id: "-12" });
    expect(match("n/{id:int}", "n/1.5")).toBeUndefined();
    expect(match("n/{id:min(3):max(5)}", "n/4")).toEqual({ id: "4" });
    expect(match("n/{id:min(3):max(5)}", "n/6")).toBeUndefined();
    expect(match("n/{s:length(2,3)}", "n/abcd")).toBeUndefined();
    expect(match("n/{g:guid}", "n/9b2f0d8e-1c4a-4b7e-9f00-0123456789ab")).toBeTruthy();
    expect(match("n/{x:regex(^a:b\\d+$)}", "n/A:B12")).toEqual({ x: "A:B12" });
  });

  it("handles optional, catch-all and complex segments", () => {
    expect(match("a/{x?}", "a")).toEqual({});
    expect(match("a/{*rest}", "a")).toEqual({});
    expect(match("a/{*rest}", "a/b/c")).toEqual({ rest: "b/c" });
    expect(match("f/{name}.{ext}", "f/a.b.c")).toEqual({ name: "a.b", ext: "c" });
  });

  it("orders literal before constrained before plain before catch-all", () => {
    const routes = ["x/{*all}", "x/{id}", "x/{id:int}", "x/new"].map(parseRouteTemplate).sort(compareRoutes);
    expect(routes.map((r) => r.template)).toEqual(["x/new", "x/{id:int}", "x/{id}", "x/{*all}"]);
  });

  it("rejects bad templates at start-up", () => {
    expect(() => parseRouteTemplate("a/{id:nope}")).toThrow(RouteTemplateError);
    expect(() => parseRouteTemplate("a/{*rest}/b")).toThrow(/catch-all/);
    expect(() => parseRouteTemplate("a/{id")).toThrow(/unclosed/);
  });
});
