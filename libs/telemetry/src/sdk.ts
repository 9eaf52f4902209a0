import { context, diag, DiagLogLevel, metrics, propagation, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { CompositePropagator, W3CBaggagePropagator, W3CTraceContextPropagator } from '@opentelemetry/core';
import type { IMetricReader } from '@opentelemetry/sdk-metrics';
import type { NodeSDK } from '@opentelemetry/sdk-node';
import { NoopSpanProcessor, TracerProvider, type SpanProcessor } from '@opentelemetry/sdk-trace';

export interface TelemetryOptions {
  serviceName: string;
  /**
   * Span processors to use instead of the environment's exporter (tests pass an in-memory one).
   * When omitted, spans are exported only if the standard OTEL_* variables ask for it.
   */
  spanProcessors?: SpanProcessor[];
  /**
   * Metric readers to use instead of the environment's exporter (tests pass a
   * `CollectingMetricReader`). When omitted, metrics are exported only if the standard OTEL_*
   * variables ask for it: a periodic reader every `OTEL_METRIC_EXPORT_INTERVAL` ms (default
   * 60,000) to the OTLP exporter of `OTEL_EXPORTER_OTLP_(METRICS_)PROTOCOL` (`http/protobuf`,
   * `http/json` or `grpc`) at `OTEL_EXPORTER_OTLP_(METRICS_)ENDPOINT`.
   */
  metricReaders?: IMetricReader[];
  /** Environment to read OTEL_* from (defaults to process.env). */
  env?: NodeJS.ProcessEnv;
}

export interface Telemetry {
  /** True when spans leave the process (an exporter is configured). */
  readonly exporting: boolean;
  /** True when metrics are collected (an exporter is configured or readers were given). */
  readonly metricsExporting: boolean;
  shutdown(): Promise<void>;
}

let active: { sdk: object; service: string } | undefined;

/** Whether the standard OTEL_* variables ask for trace export. */
export function tracesExportRequested(env: NodeJS.ProcessEnv = process.env): boolean {
  const exporters = (env['OTEL_TRACES_EXPORTER'] ?? '').split(',').map((s) => s.trim()).filter(Boolean);
  if (exporters.includes('none')) return false;
  if (env['OTEL_SDK_DISABLED'] === 'true') return false;
  return exporters.length > 0 || Boolean(env['OTEL_EXPORTER_OTLP_ENDPOINT'] || env['OTEL_EXPORTER_OTLP_TRACES_ENDPOINT']);
}

/** Whether the standard OTEL_* variables ask for metric export. */
export function metricsExportRequested(env: NodeJS.ProcessEnv = process.env): boolean {
  if (env['OTEL_SDK_DISABLED'] === 'true') return false;
  const exporters = (env['OTEL_METRICS_EXPORTER'] ?? '').split(',').map((s) => s.trim()).filter(Boolean);
  if (exporters.includes('none')) return false;
  return exporters.length > 0 || Boolean(env['OTEL_EXPORTER_OTLP_ENDPOINT'] || env['OTEL_EXPORTER_OTLP_METRICS_ENDPOINT']);
}

/**
 * Starts the OpenTelemetry SDK for one process. A tracer provider is always registered, so every
 * command and event carries a real W3C trace context (and logs a trace id) even when nothing is
 * exported; export is off by default and switched on by the standard OTEL_* variables
 * (e.g. `OTEL_EXPORTER_OTLP_ENDPOINT=http://collector:4318`). Calling it twice in one process
 * (several services in `--single-process` mode) keeps the first set-up.
 */
export function startTelemetry(options: TelemetryOptions): Telemetry {
  const env = options.env ?? process.env;
  if (active) return { exporting: false, metricsExporting: false, shutdown: async () => undefined };
  diag.setLogger({ error: () => undefined, warn: () => undefined, info: () => undefined, debug: () => undefined, verbose: () => undefined }, DiagLogLevel.NONE);
  const exporting = !options.spanProcessors && tracesExportRequested(env);
  const spanProcessors = options.spanProcessors ?? (exporting ? undefined : [new NoopSpanProcessor()]);
  const metricsExporting = options.metricReaders ? options.metricReaders.length > 0 : metricsExportRequested(env);
  if (!exporting && !metricsExporting) return startWithoutExport(options.serviceName, spanProcessors ?? []);
  // The full SDK (and its exporters: gRPC, protobuf, Zipkin, Prometheus, ~25 MB per process) is
  // loaded only when something is exported.
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { NodeSDK: Sdk } = require('@opentelemetry/sdk-node') as { NodeSDK: typeof NodeSDK };
  const sdk = new Sdk({
    serviceName: options.serviceName,
    ...(spanProcessors ? { spanProcessors } : {}),
    // Without `metricReaders` the SDK builds the periodic OTLP reader from the environment.
    ...(options.metricReaders ? { metricReaders: options.metricReaders } : metricsExporting ? {} : { metricReaders: [] }),
    logRecordProcessors: [],
    resourceDetectors: [],
  });
  sdk.start();
  active = { sdk, service: options.serviceName };
  return {
    exporting,
    metricsExporting,
    shutdown: async () => {
      const ours = active?.sdk === sdk;
      if (ours) active = undefined;
      // Shutdown flushes the last metrics; then the global provider is released so a later start
      // in the same process registers its own.
      await sdk.shutdown();
      if (ours && metricsExporting) metrics.disable();
    },
  };
}

/**
 * Nothing is exported: what the SDK would register for traces (a tracer provider, so trace ids
 * are real and propagate; the async-hooks context manager; W3C trace-context and baggage
 * propagation) and nothing else. Metrics stay with the API's no-op meter.
 */
function startWithoutExport(serviceName: string, spanProcessors: SpanProcessor[]): Telemetry {
  const provider = new TracerProvider({ spanProcessors });
  const contextManager = new AsyncLocalStorageContextManager().enable();
  context.setGlobalContextManager(contextManager);
  propagation.setGlobalPropagator(new CompositePropagator({ propagators: [new W3CTraceContextPropagator(), new W3CBaggagePropagator()] }));
  trace.setGlobalTracerProvider(provider);
  const mine = { sdk: provider, service: serviceName };
  active = mine;
  return {
    exporting: false,
    metricsExporting: false,
    shutdown: async () => {
      if (active !== mine) return;
      active = undefined;
      await provider.shutdown();
      trace.disable();
      propagation.disable();
      context.disable();
    },
  };
}
