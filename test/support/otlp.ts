// An OTLP/HTTP (JSON) receiver for tests: the app in the host process exports to it as it
// would to a collector, and the spans and metrics stay in memory here for the test to read.
import http from "node:http";
import type { AddressInfo } from "node:net";

export type ReceivedSpan = {
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  name: string;
  kind: number;
  startTimeUnixNano: string;
  endTimeUnixNano: string;
  attributes: Record<string, unknown>;
  status?: { code?: number; message?: string };
};

export type ReceivedMetric = { name: string; unit?: string; data: Record<string, unknown> };

export type MetricPoint = { attributes: Record<string, unknown>; value?: number; count?: number; sum?: number };

export type OtlpReceiver = {
  url: string;
  spans: ReceivedSpan[];
  metrics: ReceivedMetric[];
  /** The data points of a metric in the latest export that had it (cumulative sums and histograms: the totals so far). */
  points(name: string): MetricPoint[];
  stop(): Promise<void>;
};

type AnyValue = { stringValue?: string; intValue?: string | number; doubleValue?: number; boolValue?: boolean };
const value = (v: AnyValue | undefined) => v?.stringValue ?? (v?.intValue !== undefined ? Number(v.intValue) : (v?.doubleValue ?? v?.boolValue));

export async function startOtlpReceiver(): Promise<OtlpReceiver> {
  const spans: ReceivedSpan[] = [];
  const metrics: ReceivedMetric[] = [];
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      try {
        const body = JSON.parse(Buffer.concat(chunks).toString("utf8") || "{}") as Record<string, unknown>;
        if (req.url === "/v1/traces") {
          for (const rs of (body.resourceSpans ?? []) as { scopeSpans?: { spans?: (Omit<ReceivedSpan, "attributes"> & { attributes?: { key: string; value: AnyValue }[] })[] }[] }[]) {
            for (const ss of rs.scopeSpans ?? []) {
              for (const s of ss.spans ?? []) {
                spans.push({ ...s, parentSpanId: s.parentSpanId || undefined, attributes: Object.fromEntries((s.attributes ?? []).map((a) => [a.key, value(a.value)])) });
              }
            }
          }
        } else if (req.url === "/v1/metrics") {
          for (const rm of (body.resourceMetrics ?? []) as { scopeMetrics?: { metrics?: (ReceivedMetric & Record<string, unknown>)[] }[] }[]) {
            for (const sm of rm.scopeMetrics ?? []) {
              for (const m of sm.metrics ?? []) {
                const { name, unit, description: _d, ...data } = m;
                metrics.push({ name, ...(typeof unit === "string" ? { unit } : {}), data });
              }
            }
          }
        }
        res.writeHead(200, { "content-type": "application/json" }).end("{}");
      } catch {
        res.writeHead(400).end();
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  const points = (name: string): MetricPoint[] => {
    const latest = metrics.filter((m) => m.name === name).at(-1);
    if (!latest) return [];
    const data = (latest.data.gauge ?? latest.data.sum ?? latest.data.histogram) as { dataPoints?: Record<string, unknown>[] } | undefined;
    return (data?.dataPoints ?? []).map((p) => ({
      attributes: Object.fromEntries(((p.attributes ?? []) as { key: string; value: AnyValue }[]).map((a) => [a.key, value(a.value)])),
      ...(p.asInt !== undefined ? { value: Number(p.asInt) } : p.asDouble !== undefined ? { value: Number(p.asDouble) } : {}),
      ...(p.count !== undefined ? { count: Number(p.count) } : {}),
      ...(p.sum !== undefined ? { sum: Number(p.sum) } : {}),
    }));
  };
  return { url: `http://127.0.0.1:${port}`, spans, metrics, points, stop: () => new Promise((resolve) => server.close(() => resolve())) };
}
