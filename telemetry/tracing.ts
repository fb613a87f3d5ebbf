// OpenTelemetry traces of one process: a tracer provider that batches spans and posts them over OTLP/HTTP,
// registered as the process's global provider with W3C trace-context propagation. Installed only when an
// OTLP endpoint is set; without one nothing is registered, no interceptor is wired, and the OTel API
// calls left in the code are its built-in no-ops.
import { context, propagation, trace, type Tracer } from '@opentelemetry/api';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { envDetectorSync, Resource } from '@opentelemetry/resources';
import { BatchSpanProcessor, type SpanProcessor } from '@opentelemetry/sdk-trace-base';
import { NodeTracerProvider } from '@opentelemetry/sdk-trace-node';
import { ATTR_SERVICE_NAME, ATTR_SERVICE_VERSION } from '@opentelemetry/semantic-conventions';
import type { TracingSettings } from '../config/index.js';
import { PRODUCT_VERSION } from '../config/paths.js';

let installed = false;

/** Names of this process's own spans' instrumentation scope. */
export const TRACER_NAME = 'durabox';

export interface Tracing {
  serviceName: string;
  tracer: Tracer;
  /** Also given the workflows' spans, which the Temporal SDK hands over from its sandbox. */
  spanProcessor: SpanProcessor;
  resource: Resource;
  /** Sends what is batched now (tests; a process exports on its own every OTEL_BSP_SCHEDULE_DELAY ms). */
  flush(): Promise<void>;
  /** Sends what is left and unregisters the provider; called last at shutdown. */
  shutdown(): Promise<void>;
}

/**
 * Installs tracing for this process when `settings` name an endpoint; answers undefined (and installs
 * nothing) when they do not. `defaultServiceName` is this process's name unless OTEL_SERVICE_NAME is set;
 * `instanceId` tells processes of one service apart (a worker's DURABOX_WORKER_ID).
 */
export function startTracing(settings: TracingSettings, defaultServiceName: string, instanceId?: string): Tracing | undefined {
  if (!settings.tracesUrl) return undefined;
  // The OTel API keeps one global provider, propagator and context manager per process.
  if (installed) throw new Error('tracing is already installed in this process: start it once and share it');
  installed = true;
  // OTEL_RESOURCE_ATTRIBUTES adds what an operator wants on every span (deployment.environment, say).
  const fromEnv = envDetectorSync.detect();
  const serviceName = settings.serviceName ?? (fromEnv.attributes[ATTR_SERVICE_NAME] as string | undefined) ?? defaultServiceName;
  const resource = Resource.default().merge(fromEnv).merge(new Resource({
    [ATTR_SERVICE_NAME]: serviceName,
    [ATTR_SERVICE_VERSION]: PRODUCT_VERSION,
    // A worker's id, so a span says which execution host ran it.
    ...(instanceId ? { 'service.instance.id': instanceId } : {}),
  }));
  const spanProcessor = new BatchSpanProcessor(new OTLPTraceExporter({ url: settings.tracesUrl }));
  const provider = new NodeTracerProvider({ resource, spanProcessors: [spanProcessor] });
  provider.register({ propagator: new W3CTraceContextPropagator() });
  let stopped: Promise<void> | undefined;
  return {
    serviceName,
    tracer: provider.getTracer(TRACER_NAME, PRODUCT_VERSION),
    spanProcessor,
    resource,
    flush: () => provider.forceFlush(),
    shutdown() {
      stopped ??= provider.shutdown().finally(() => {
        // A later provider in the same process (a test's second platform) may register again.
        trace.disable();
        propagation.disable();
        context.disable();
        installed = false;
      });
      return stopped;
    },
  };
}
