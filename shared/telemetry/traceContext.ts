// W3C trace context as plain strings (`traceparent`), with no OpenTelemetry import and no Node
// built-in: orchestrators use it, and they must stay deterministic. The orchestration's own span
// id is derived from its instance id and its parent, so every replay (and the episode that
// finally reports the span) names the same span.

export type TraceParent = string;

const TRACEPARENT = /^00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$/;

export function parseTraceParent(value: string | null | undefined): { traceId: string; spanId: string; flags: string } | undefined {
  const m = TRACEPARENT.exec(value?.trim() ?? "");
  if (!m || /^0+$/.test(m[1]!) || /^0+$/.test(m[2]!)) return undefined;
  return { traceId: m[1]!, spanId: m[2]!, flags: m[3]! };
}

/** FNV-1a, 64 bits, as 16 hex digits (never all zeros): a stable span id from text. */
export function stableSpanId(text: string): string {
  let h = 0xcbf29ce484222325n;
  for (let i = 0; i < text.length; i++) {
    h ^= BigInt(text.charCodeAt(i));
    h = (h * 0x100000001b3n) & 0xffffffffffffffffn;
  }
  return (h === 0n ? 1n : h).toString(16).padStart(16, "0");
}

/**
 * Recent orchestration span ids: every replay of an orchestration asks again for each activity and
 * entity call it has made so far, and the 64-bit hash (BigInt arithmetic) is the costly part.
 */
const recentSpanIds = new Map<string, string>();
const RECENT_SPAN_IDS = 1000;

/** The span id of an orchestration run started under `parent` (the same on every replay). */
export function orchestrationSpanId(instanceId: string, parent: TraceParent): string {
  const key = `orchestration\n${instanceId}\n${parent}`;
  let id = recentSpanIds.get(key);
  if (id === undefined) {
    id = stableSpanId(key);
    recentSpanIds.set(key, id);
    if (recentSpanIds.size > RECENT_SPAN_IDS) recentSpanIds.delete(recentSpanIds.keys().next().value!);
  }
  return id;
}

/** The traceparent activities of that orchestration run get: children of its span. */
export function orchestrationTraceParent(instanceId: string, parent: TraceParent | undefined): TraceParent | undefined {
  const p = parseTraceParent(parent);
  return p ? `00-${p.traceId}-${orchestrationSpanId(instanceId, parent!)}-${p.flags}` : undefined;
}

/**
 * The span id an entity operation gets from the replay-safe GUID its caller chose: the GUID's
 * first 64 bits (name-based GUIDs are SHA-1 hashes, so these are as good as random).
 */
export function entityOperationSpanId(guid: string): string {
  const hex = guid.replace(/-/g, "").slice(0, 16).toLowerCase();
  return /^[0-9a-f]{16}$/.test(hex) && !/^0+$/.test(hex) ? hex : stableSpanId(`entity\n${guid}`);
}
