// Traces through Temporal, with the SDK's own OpenTelemetry interceptors: the client's start, update and
// signal calls carry the caller's span in their headers, the workflows' spans (run, handlers, scheduled
// activities) come out of the workflow sandbox through a sink, and each activity runs in a span whose
// parent is the one that scheduled it. Wired only when the process has tracing (telemetry/tracing.ts).
import type { ClientInterceptors } from '@temporalio/client';
import {
  makeWorkflowExporter, OpenTelemetryActivityInboundInterceptor, OpenTelemetryActivityOutboundInterceptor, OpenTelemetryWorkflowClientInterceptor,
} from '@temporalio/interceptors-opentelemetry';
import type { WorkerOptions } from '@temporalio/worker';
import type { Tracing } from '../telemetry/tracing.js';

/** The client's interceptors: each start, update and signal becomes a span the workflow continues. */
export function tracedClientInterceptors(tracing: Tracing | undefined): ClientInterceptors | undefined {
  return tracing ? { workflow: [new OpenTelemetryWorkflowClientInterceptor()] } : undefined;
}

/**
 * A worker's activity interceptors and, for a worker that runs workflows (from the traced bundle), the
 * sink its workflows export their spans through.
 */
export function tracedWorkerOptions(tracing: Tracing | undefined, opts: { workflows: boolean }): Pick<WorkerOptions, 'interceptors' | 'sinks'> {
  if (!tracing) return {};
  return {
    interceptors: {
      activity: [(ctx) => ({ inbound: new OpenTelemetryActivityInboundInterceptor(ctx), outbound: new OpenTelemetryActivityOutboundInterceptor(ctx) })],
    },
    ...(opts.workflows ? { sinks: { exporter: makeWorkflowExporter(tracing.spanProcessor, tracing.resource) } } : {}),
  };
}
