// Structured logs: one JSON line per event — timestamp, level, message and the ids an operator
// searches by (instance, operation, job, user, trace) — written through the invocation's
// context, so the Functions host applies host.json `logging.logLevel` (category
// `Function.<name>.User`) and, in Azure, ships it to Application Insights. Everything passes
// through `redact` (./redact.ts) first: no caller can put a secret on a line.
import { redact } from "./redact";

export type LogLevel = "trace" | "debug" | "information" | "warning" | "error";

/** The ids that matter; all optional, absent ones are left out of the line. */
export type LogIds = {
  instance?: string;
  operation?: string;
  job?: string;
  user?: string;
  trace?: string;
};

/** What writes a line: an InvocationContext fits (its trace/debug/info/warn/error). */
export type LogSink = {
  trace(...args: unknown[]): void;
  debug(...args: unknown[]): void;
  info(...args: unknown[]): void;
  warn(...args: unknown[]): void;
  error(...args: unknown[]): void;
  /** W3C trace context the host gave the invocation (InvocationContext.traceContext). */
  traceContext?: { traceParent?: string | null | undefined } | undefined;
};

export type LogEvent = LogIds & { timestamp: string; level: LogLevel; message: string } & Record<string, unknown>;

/** The trace id in a W3C traceparent (`00-<trace id>-<span id>-<flags>`), if there is one. */
export function traceIdOf(traceParent: string | null | undefined): string | undefined {
  const m = /^[0-9a-f]{2}-([0-9a-f]{32})-[0-9a-f]{16}-[0-9a-f]{2}$/.exec(traceParent ?? "");
  return m && !/^0+$/.test(m[1]!) ? m[1] : undefined;
}

/** Where the current trace id comes from when the line does not name one (set by the tracing module). */
let currentTraceId: () => string | undefined = () => undefined;
export function useTraceIdSource(source: () => string | undefined): void {
  currentTraceId = source;
}

/** The JSON line for an event (exported for tests and for sinks without a context). */
export function formatEvent(level: LogLevel, message: string, ids: LogIds = {}, fields: Record<string, unknown> = {}, traceParent?: string | null): string {
  const trace = ids.trace ?? currentTraceId() ?? traceIdOf(traceParent);
  const event: Record<string, unknown> = { timestamp: new Date().toISOString(), level, message };
  for (const [k, v] of Object.entries({ ...ids, trace })) if (v !== undefined && v !== "") event[k] = v;
  for (const [k, v] of Object.entries(fields)) if (v !== undefined && !(k in event)) event[k] = v;
  return JSON.stringify(redact(event));
}

export type Logger = {
  trace(message: string, fields?: Record<string, unknown>): void;
  debug(message: string, fields?: Record<string, unknown>): void;
  info(message: string, fields?: Record<string, unknown>): void;
  warn(message: string, fields?: Record<string, unknown>): void;
  error(message: string, fields?: Record<string, unknown>): void;
  /** A logger whose lines also carry these ids. */
  with(ids: LogIds): Logger;
};

/** A logger writing through `sink` (an InvocationContext) with `ids` on every line. */
export function logger(sink: LogSink, ids: LogIds = {}): Logger {
  const write = (level: LogLevel, message: string, fields?: Record<string, unknown>) => {
    const line = formatEvent(level, message, ids, fields, sink.traceContext?.traceParent);
    if (level === "trace") sink.trace(line);
    else if (level === "debug") sink.debug(line);
    else if (level === "information") sink.info(line);
    else if (level === "warning") sink.warn(line);
    else sink.error(line);
  };
  return {
    trace: (m, f) => write("trace", m, f),
    debug: (m, f) => write("debug", m, f),
    info: (m, f) => write("information", m, f),
    warn: (m, f) => write("warning", m, f),
    error: (m, f) => write("error", m, f),
    with: (more) => logger(sink, { ...ids, ...more }),
  };
}
