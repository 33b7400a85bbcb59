import { createRequire } from 'node:module';
import { CompositePropagator, W3CBaggagePropagator, W3CTraceContextPropagator } from '@opentelemetry/core';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { HttpInstrumentation } from '@opentelemetry/instrumentation-http';
import { PgInstrumentation } from '@opentelemetry/instrumentation-pg';
import { NodeSDK } from '@opentelemetry/sdk-node';
import { BatchSpanProcessor, NoopSpanProcessor, type SpanProcessor } from '@opentelemetry/sdk-trace';

/** Options for {@link startTelemetry}. */
export interface TelemetryOptions {
  serviceName: string;
  /** OTLP/HTTP base URL (`http://collector:4318`); spans are exported only when set. */
  otlpEndpoint?: string;
  /** Extra processors, e.g. a SimpleSpanProcessor over an InMemorySpanExporter in tests. */
  spanProcessors?: SpanProcessor[];
  /** Turn off the http and pg auto-instrumentations (tests that only want messaging spans). */
  autoInstrument?: boolean;
  /**
   * `false`: no server span from the http instrumentation; the app makes its own (the inference
   * proxy does, for less work per request). Outgoing http calls are still traced. Default true.
   */
  instrumentIncomingHttp?: boolean;
}

/** Flushes and stops telemetry; safe to call more than once. */
export type TelemetryShutdown = () => Promise<void>;

/**
 * Starts the OpenTelemetry SDK: W3C trace-context propagation, http and pg instrumentation, and an
 * OTLP/HTTP exporter when an endpoint is configured.
 *
 * Call it before Nest, `pg` or `http` are imported: instrumentations patch modules as they load,
 * so anything loaded earlier is not traced. `bootstrapService` (from `@tessera/platform/bootstrap`)
 * does this for apps by importing the app module only after this returns.
 */
export function startTelemetry(options: TelemetryOptions): TelemetryShutdown {
  const spanProcessors: SpanProcessor[] = [...(options.spanProcessors ?? [])];
  if (options.otlpEndpoint !== undefined) {
    spanProcessors.push(
      new BatchSpanProcessor({ exporter: new OTLPTraceExporter({ url: tracesUrl(options.otlpEndpoint) }) }),
    );
  }
  // With no processor at all the SDK would fall back to OTEL_* environment defaults (an OTLP
  // exporter to localhost) or register no tracer: a no-op processor keeps real trace ids for log
  // correlation and propagation without exporting anything.
  if (spanProcessors.length === 0) spanProcessors.push(new NoopSpanProcessor());

  const sdk = new NodeSDK({
    serviceName: options.serviceName,
    spanProcessors,
    // Explicitly empty: otherwise the SDK configures OTLP log and metric exporters from defaults.
    logRecordProcessors: [],
    metricReaders: [],
    textMapPropagator: new CompositePropagator({
      propagators: [new W3CTraceContextPropagator(), new W3CBaggagePropagator()],
    }),
    instrumentations:
      options.autoInstrument === false
        ? []
        : [
            new HttpInstrumentation({
              disableIncomingRequestInstrumentation: options.instrumentIncomingHttp === false,
              // Probes would drown real traffic in traces.
              ignoreIncomingRequestHook: (request) => request.url?.startsWith('/health/') ?? false,
            }),
            new PgInstrumentation(),
          ],
  });
  sdk.start();
  // The http instrumentation patches the module when it is first `require`d. Nest 12 is ESM and
  // imports node:http without `require`, so load it once through require here: the patch is made
  // in place on the shared module object, and ESM importers see it too.
  if (options.autoInstrument !== false) createRequire(import.meta.url)('http');

  let stopped: Promise<void> | undefined;
  return () => {
    stopped ??= sdk.shutdown();
    return stopped;
  };
}

/** The OTLP/HTTP exporter wants the full traces URL; the standard variable holds the base URL. */
function tracesUrl(endpoint: string): string {
  const trimmed = endpoint.replace(/\/+$/, '');
  return trimmed.endsWith('/v1/traces') ? trimmed : `${trimmed}/v1/traces`;
}
