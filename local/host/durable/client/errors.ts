// Errors the task hub's client side answers with (the management API maps them to HTTP).
export class EngineError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

const INVALID_ID = /[/\\#?\u0000-\u001f\u007f-\u009f]/;

export function validateInstanceId(id: string): void {
  if (!id || id.length > 256 || INVALID_ID.test(id)) {
    throw new EngineError(400, "InvalidInstanceId", `instanceId "${id}" is invalid: 1-256 characters, none of / \\ # ? or control characters`);
  }
  // Entity instance ids are "@name@key"; the extension's DurableClient refuses orchestrations that look like one.
  if (id.startsWith("@")) throw new EngineError(400, "InvalidInstanceId", `instanceId "${id}" is invalid: orchestration instance ids must not start with @.`);
}
