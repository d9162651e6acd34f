// ASP.NET Core route templates as the Functions host understands them: literal segments
// (case-insensitive), `{name}`, constraints `{id:int}` / `{x:alpha}` / `{x:regex(...)}` /
// `{x:min(1)}` ..., optional `{x?}`, catch-all `{*rest}`, and complex segments such as
// `{name}.{ext}`. Routes are tried most specific first, as ASP.NET orders them.

export type RouteParams = Record<string, string>;

type Check = (value: string) => boolean;
type Part = { literal: string } | { param: string; constraints: Check[]; optional: boolean; catchAll: boolean };
type Segment = { parts: Part[]; regex: RegExp };

export type RouteTemplate = {
  template: string;
  segments: Segment[];
  /** Lower sorts first: literal 0, constrained 1, plain 2, optional 3, catch-all 4 per segment. */
  precedence: number[];
};

export class RouteTemplateError extends Error {}

export function parseRouteTemplate(template: string): RouteTemplate {
  const trimmed = template.replace(/^\/+|\/+$/g, "");
  const segments: Segment[] = [];
  const precedence: number[] = [];
  const rawSegments = trimmed === "" ? [] : splitSegments(trimmed);
  rawSegments.forEach((raw, i) => {
    const parts = parseSegment(raw, template);
    for (const p of parts) {
      if ("param" in p && p.catchAll && i !== rawSegments.length - 1) {
        throw new RouteTemplateError(`route "${template}": a catch-all parameter must be the last segment`);
      }
    }
    segments.push({ parts, regex: segmentRegex(parts) });
    precedence.push(segmentPrecedence(parts));
  });
  return { template, segments, precedence };
}

/** Splits on "/" outside braces (a regex constraint may contain "/"). */
function splitSegments(path: string): string[] {
  const out: string[] = [];
  let depth = 0;
  let cur = "";
  for (const ch of path) {
    if (ch === "{") depth++;
    if (ch === "}") depth = Math.max(0, depth - 1);
    if (ch === "/" && depth === 0) {
      out.push(cur);
      cur = "";
    } else cur += ch;
  }
  out.push(cur);
  return out;
}

function parseSegment(raw: string, template: string): Part[] {
  const parts: Part[] = [];
  let i = 0;
  let literal = "";
  while (i < raw.length) {
    const ch = raw[i]!;
    if (ch === "{" && raw[i + 1] === "{") {
      literal += "{";
      i += 2;
      continue;
    }
    if (ch === "}" && raw[i + 1] === "}") {
      literal += "}";
      i += 2;
      continue;
    }
    if (ch !== "{") {
      literal += ch;
      i++;
      continue;
    }
    if (literal) parts.push({ literal });
    literal = "";
    // Find the closing brace, skipping "{{"/"}}" escapes and parentheses of constraint arguments.
    let j = i + 1;
    let parens = 0;
    let body = "";
    for (; j < raw.length; j++) {
      const c = raw[j]!;
      if ((c === "{" || c === "}") && raw[j + 1] === c) {
        body += c;
        j++;
        continue;
      }
      if (c === "(") parens++;
      if (c === ")") parens--;
      if (c === "}" && parens <= 0) break;
      body += c;
    }
    if (j >= raw.length) throw new RouteTemplateError(`route "${template}": unclosed "{" in segment "${raw}"`);
    parts.push(parseParam(body, template));
    i = j + 1;
  }
  if (literal) parts.push({ literal });
  return parts;
}

function parseParam(body: string, template: string): Part {
  let catchAll = false;
  let text = body;
  if (text.startsWith("**")) text = text.slice(2), (catchAll = true);
  else if (text.startsWith("*")) text = text.slice(1), (catchAll = true);
  const constraints: Check[] = [];
  const nameMatch = /^[A-Za-z_][A-Za-z0-9_]*/.exec(text);
  if (!nameMatch) throw new RouteTemplateError(`route "${template}": invalid parameter "{${body}}"`);
  const name = nameMatch[0];
  let rest = text.slice(name.length);
  let optional = false;
  while (rest.startsWith(":")) {
    let k = 1;
    let parens = 0;
    for (; k < rest.length; k++) {
      const c = rest[k]!;
      if (c === "(") parens++;
      if (c === ")") parens--;
      if (parens === 0 && (c === ":" || (c === "?" && k === rest.length - 1))) break;
    }
    constraints.push(constraintCheck(rest.slice(1, k), template));
    rest = rest.slice(k);
  }
  if (rest === "?") optional = true;
  else if (rest !== "") throw new RouteTemplateError(`route "${template}": invalid parameter "{${body}}"`);
  return { param: name, constraints, optional, catchAll };
}

function segmentRegex(parts: Part[]): RegExp {
  let src = "";
  parts.forEach((p) => {
    if ("literal" in p) src += escapeRe(p.literal);
    else {
      // Greedy, so `{name}.{ext}` splits at the last dot, as ASP.NET does.
      src += `(${p.optional ? ".*" : ".+"})`;
    }
  });
  return new RegExp(`^${src}$`, "i");
}

function segmentPrecedence(parts: Part[]): number {
  if (parts.every((p) => "literal" in p)) return 0;
  const params = parts.filter((p): p is Extract<Part, { param: string }> => "param" in p);
  if (params.some((p) => p.catchAll)) return 4;
  if (params.some((p) => p.optional)) return 3;
  if (params.every((p) => p.constraints.length > 0)) return 1;
  return 2;
}

const escapeRe = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");

/** Returns a checker for one constraint; throws for an unknown one so a typo fails at start-up. */
function constraintCheck(constraint: string, template: string): (v: string) => boolean {
  const m = /^([a-zA-Z]+)(?:\((.*)\))?$/s.exec(constraint);
  if (!m) throw new RouteTemplateError(`route "${template}": invalid constraint "${constraint}"`);
  const name = m[1]!.toLowerCase();
  const arg = m[2] ?? "";
  const nums = () => arg.split(",").map((s) => Number(s.trim()));
  switch (name) {
    case "int":
      return (v) => /^-?\d+$/.test(v) && Math.abs(Number(v)) <= 2147483648;
    case "long":
      return (v) => /^-?\d+$/.test(v);
    case "float":
    case "double":
    case "decimal":
      return (v) => /^-?(\d+\.?\d*|\.\d+)$/.test(v);
    case "bool":
      return (v) => /^(true|false)$/i.test(v);
    case "alpha":
      return (v) => /^[a-z]+$/i.test(v);
    case "guid":
      return (v) => /^\{?[0-9a-f]{8}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{12}\}?$/i.test(v);
    case "datetime":
      return (v) => !Number.isNaN(Date.parse(v));
    case "min":
      return (v) => /^-?\d+$/.test(v) && Number(v) >= nums()[0]!;
    case "max":
      return (v) => /^-?\d+$/.test(v) && Number(v) <= nums()[0]!;
    case "range": {
      const [lo, hi] = nums();
      return (v) => /^-?\d+$/.test(v) && Number(v) >= lo! && Number(v) <= hi!;
    }
    case "length": {
      const [a, b] = nums();
      return (v) => (b === undefined ? v.length === a : v.length >= a! && v.length <= b);
    }
    case "minlength":
      return (v) => v.length >= nums()[0]!;
    case "maxlength":
      return (v) => v.length <= nums()[0]!;
    case "regex": {
      let re: RegExp;
      try {
        re = new RegExp(arg, "i");
      } catch (err) {
        throw new RouteTemplateError(`route "${template}": invalid regex constraint: ${(err as Error).message}`);
      }
      return (v) => re.test(v);
    }
    default:
      throw new RouteTemplateError(`route "${template}": unknown constraint "${name}"`);
  }
}

/** Matches a decoded path (without the route prefix); returns the parameters or undefined. */
export function matchRoute(route: RouteTemplate, path: string): RouteParams | undefined {
  const trimmed = path.replace(/^\/+|\/+$/g, "");
  const segs = trimmed === "" ? [] : trimmed.split("/");
  const params: RouteParams = {};
  for (let i = 0; i < route.segments.length; i++) {
    const seg = route.segments[i]!;
    const only = seg.parts.length === 1 ? seg.parts[0] : undefined;
    if (only && "param" in only && only.catchAll) {
      const rest = segs.slice(i).join("/");
      if (rest !== "") {
        if (!checkConstraints(only, rest)) return undefined;
        params[only.param] = rest;
      }
      return params;
    }
    const value = segs[i];
    if (value === undefined) {
      // Missing trailing segments are fine only when every remaining one is optional.
      const allOptional = route.segments
        .slice(i)
        .every((s) => s.parts.length === 1 && "param" in s.parts[0]! && (s.parts[0].optional || s.parts[0].catchAll));
      return allOptional ? params : undefined;
    }
    const m = seg.regex.exec(value);
    if (!m) return undefined;
    let g = 1;
    for (const part of seg.parts) {
      if ("literal" in part) continue;
      const v = m[g++] ?? "";
      if (v === "") {
        if (!part.optional) return undefined;
        continue;
      }
      if (!checkConstraints(part, v)) return undefined;
      params[part.param] = v;
    }
  }
  return segs.length > route.segments.length ? undefined : params;
}

function checkConstraints(part: Extract<Part, { param: string }>, value: string): boolean {
  return part.constraints.every((check) => check(value));
}

/** Most specific first: compare precedence segment by segment, then more segments first. */
export function compareRoutes(a: RouteTemplate, b: RouteTemplate): number {
  const n = Math.max(a.precedence.length, b.precedence.length);
  for (let i = 0; i < n; i++) {
    const pa = a.precedence[i] ?? 5;
    const pb = b.precedence[i] ?? 5;
    if (pa !== pb) return pa - pb;
  }
  return 0;
}
