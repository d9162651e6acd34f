// Where telemetry goes, decided once at app start from the app settings:
// - APPLICATIONINSIGHTS_CONNECTION_STRING (Azure, set by infra/): Application Insights through
//   @azure/monitor-opentelemetry, authenticated with the app's managed identity (local auth is
//   off on the component; the identity has Monitoring Metrics Publisher on it);
// - else OTEL_EXPORTER_OTLP_ENDPOINT: OTLP over HTTP (traces and metrics), e.g. a local collector;
// - else nowhere: the OpenTelemetry API stays a no-op (log lines still carry the host's trace id).
// Azure SDK clients report their calls as spans in both cases (ARM, Storage, Files): one span per
// HTTP request, and only inside a trace of ours (./azureSdkSpans.ts).
import { metrics, type Tracer } from "@opentelemetry/api";
import type { IdGenerator } from "@opentelemetry/sdk-trace-node";
import { RequestSpansInstrumenter } from "./azureSdkSpans";
import { TRACER_NAME } from "./tracing";

// The SDKs load only when telemetry goes somewhere: with it off, the app starts without them.
/* eslint-disable @typescript-eslint/no-require-imports */
const sdk = {
  azureMonitor: () => require("@azure/monitor-opentelemetry") as typeof import("@azure/monitor-opentelemetry"),
  azureExporter: () => require("@azure/monitor-opentelemetry-exporter") as typeof import("@azure/monitor-opentelemetry-exporter"),
  identity: () => require("@azure/identity") as typeof import("@azure/identity"),
  coreTracing: () => require("@azure/core-tracing") as typeof import("@azure/core-tracing"),
  traceNode: () => require("@opentelemetry/sdk-trace-node") as typeof import("@opentelemetry/sdk-trace-node"),
  metrics: () => require("@opentelemetry/sdk-metrics") as typeof import("@opentelemetry/sdk-metrics"),
  resources: () => require("@opentelemetry/resources") as typeof import("@opentelemetry/resources"),
  otlpTraces: () => require("@opentelemetry/exporter-trace-otlp-http") as typeof import("@opentelemetry/exporter-trace-otlp-http"),
  otlpMetrics: () => require("@opentelemetry/exporter-metrics-otlp-http") as typeof import("@opentelemetry/exporter-metrics-otlp-http"),
};
/* eslint-enable @typescript-eslint/no-require-imports */

export type TelemetryMode = "azureMonitor" | "otlp" | "off";

/**
 * Span ids are random, except for an orchestration's span: its id is derived from the
 * orchestration (shared/telemetry/traceContext.ts) so that activities, which run before the
 * span is reported at the orchestration's end, can name it as their parent.
 */
class SteerableIds implements IdGenerator {
  private readonly random = new (sdk.traceNode().RandomIdGenerator)();
  next: string | undefined;
  generateTraceId(): string {
    return this.random.generateTraceId();
  }
  generateSpanId(): string {
    const id = this.next;
    this.next = undefined;
    return id ?? this.random.generateSpanId();
  }
}

type Installed = { mode: TelemetryMode; orchestrationTracer?: Tracer; ids?: SteerableIds; shutdown: () => Promise<void> };
let installed: Installed | undefined;

export function setupTelemetry(env: NodeJS.ProcessEnv = process.env): TelemetryMode {
  if (installed) return installed.mode;
  const connectionString = env.APPLICATIONINSIGHTS_CONNECTION_STRING?.trim();
  const otlp = env.OTEL_EXPORTER_OTLP_ENDPOINT?.trim();
  if (!connectionString && !otlp) {
    installed = { mode: "off", shutdown: async () => undefined };
    return installed.mode;
  }
  const { AlwaysOffSampler, BasicTracerProvider, BatchSpanProcessor, NodeTracerProvider, ParentBasedSampler } = sdk.traceNode();
  const resource = sdk.resources().resourceFromAttributes({ "service.name": env.OTEL_SERVICE_NAME ?? env.WEBSITE_SITE_NAME ?? TRACER_NAME });
  const ids = new SteerableIds();
  if (connectionString) {
    const credential = env.AZURE_CLIENT_ID ? new (sdk.identity().ManagedIdentityCredential)({ clientId: env.AZURE_CLIENT_ID }) : undefined;
    const exporterOptions = { connectionString, ...(credential ? { credential } : {}) };
    sdk.azureMonitor().useAzureMonitor({
      azureMonitorExporterOptions: exporterOptions,
      resource,
      // Outgoing calls are reported by our instrumenter below (one span per request); the
      // distro's Azure SDK and http instrumentations would report each two or three times.
      instrumentationOptions: { azureSdk: { enabled: false }, http: { enabled: false } },
    });
    sdk.coreTracing().useInstrumenter(new RequestSpansInstrumenter());
    // The distro builds its own provider (no id generator option): orchestration spans go
    // through a second one with the same exporter.
    const exporter = new (sdk.azureExporter().AzureMonitorTraceExporter)(exporterOptions);
    const orchestrations = new BasicTracerProvider({ resource, idGenerator: ids, spanProcessors: [new BatchSpanProcessor(exporter)] });
    installed = { mode: "azureMonitor", orchestrationTracer: orchestrations.getTracer(TRACER_NAME), ids, shutdown: () => orchestrations.shutdown() };
  } else {
    // The exporters read OTEL_EXPORTER_OTLP_* (endpoint, headers) themselves.
    // Every span of ours has a parent (the host's invocation context, or the orchestration's);
    // a root span is an Azure SDK call made outside any unit of work — locally, the durable
    // engine's own storage traffic in the same process — and is not part of any trace worth keeping.
    const sampler = new ParentBasedSampler({ root: new AlwaysOffSampler() });
    const provider = new NodeTracerProvider({ resource, idGenerator: ids, sampler, spanProcessors: [new BatchSpanProcessor(new (sdk.otlpTraces().OTLPTraceExporter)())] });
    provider.register();
    sdk.coreTracing().useInstrumenter(new RequestSpansInstrumenter());
    const { MeterProvider, PeriodicExportingMetricReader } = sdk.metrics();
    const meters = new MeterProvider({
      resource,
      readers: [new PeriodicExportingMetricReader({ exporter: new (sdk.otlpMetrics().OTLPMetricExporter)(), exportIntervalMillis: Number(env.OTEL_METRIC_EXPORT_INTERVAL ?? 60_000) })],
    });
    metrics.setGlobalMeterProvider(meters);
    installed = { mode: "otlp", orchestrationTracer: provider.getTracer(TRACER_NAME), ids, shutdown: async () => void (await Promise.all([provider.shutdown(), meters.shutdown()])) };
  }
  return installed.mode;
}

/** Flushes what is buffered (app terminate). */
export async function shutdownTelemetry(): Promise<void> {
  await installed?.shutdown();
}

/** The tracer for orchestration spans, and a way to give the next span a chosen id. */
export function orchestrationTracer(): { tracer: Tracer; withSpanId<T>(spanId: string, start: () => T): T } | undefined {
  const i = installed;
  if (!i?.orchestrationTracer || !i.ids) return undefined;
  const ids = i.ids;
  return {
    tracer: i.orchestrationTracer,
    withSpanId: (spanId, start) => {
      ids.next = spanId;
      try {
        return start();
      } finally {
        ids.next = undefined;
      }
    },
  };
}
