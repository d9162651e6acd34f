// Limits every JSON body is held to before anything else looks at it (HTTP bodies and queue
// messages alike): a size cap and a nesting-depth cap. The depth is measured on the text with
// a loop, not by recursion, so a body like [[[[…]]]] 5000 deep is refused (400) before
// JSON.parse, schema validation or any comparison walks it recursively.
import { PayloadTooLargeError, ValidationError } from "./errors";

/** Bodies are commands and settings, not data. */
export const MAX_JSON_BODY_BYTES = 256 * 1024;
/** The deepest legitimate body is 3 levels (environment.variables, setupScripts.creation, schedules[i]). */
export const MAX_JSON_DEPTH = 32;

/** The deepest nesting of arrays/objects in `text`, stopping early once past `limit`. */
export function jsonDepth(text: string, limit = Number.POSITIVE_INFINITY): number {
  let depth = 0;
  let max = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c /* \ */) i++;
      else if (c === 0x22 /* " */) inString = false;
    } else if (c === 0x22) inString = true;
    else if (c === 0x5b /* [ */ || c === 0x7b /* { */) {
      depth++;
      if (depth > max) {
        max = depth;
        if (max > limit) return max;
      }
    } else if (c === 0x5d /* ] */ || c === 0x7d /* } */) depth--;
  }
  return max;
}

/** The declared Content-Length, checked before the body is read at all. */
export function assertDeclaredSize(contentLength: string | null | undefined, maxBytes = MAX_JSON_BODY_BYTES): void {
  if (contentLength && /^\d+$/.test(contentLength) && Number(contentLength) > maxBytes) throw tooLarge(maxBytes);
}

/** JSON.parse with the size and depth limits; every failure is a 400/413 naming the body. */
export function parseJsonBody(text: string, maxBytes = MAX_JSON_BODY_BYTES, maxDepth = MAX_JSON_DEPTH): unknown {
  if (Buffer.byteLength(text) > maxBytes) throw tooLarge(maxBytes);
  if (jsonDepth(text, maxDepth) > maxDepth) {
    throw ValidationError.field("body", `The request body is nested more than ${maxDepth} levels deep.`, "TooDeep");
  }
  try {
    return JSON.parse(text) as unknown;
  } catch (err) {
    throw ValidationError.field("body", `The request body is not valid JSON: ${(err as Error).message}`, "InvalidJson");
  }
}

function tooLarge(maxBytes: number): PayloadTooLargeError {
  return new PayloadTooLargeError(`The request body is larger than ${maxBytes / 1024} KiB.`);
}
