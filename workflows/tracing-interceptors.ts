// The OpenTelemetry workflow interceptors of the traced bundle (temporal/bundle.ts), not a workflow.
// The SDK's interceptors make span ids with Math.random, which in a workflow is the workflow's own
// random stream: a span would shift every later uuid4() of the workflow (a session's context ids), and
// spans of update validators and queries, which replay never runs again, would make a replay draw other
// ids than the original run did. So each of their calls draws from a named stream of its own instead
// (Temporal's workflow random streams exist for this); the workflow's stream stays as without tracing.
import { interceptors as openTelemetryInterceptors } from '@temporalio/interceptors-opentelemetry/lib/workflow-interceptors.js';
import { getRandomStream, type WorkflowInterceptors } from '@temporalio/workflow';

/** Spans of what replay runs again: their stream replays with them. */
const REPLAYED = 'durabox.opentelemetry';
/** Spans of validators and queries, never replayed: their draws must not shift the stream above either. */
const NOT_REPLAYED = 'durabox.opentelemetry.unreplayed';
const NOT_REPLAYED_METHODS = new Set(['validateUpdate', 'handleQuery']);

/** The interceptor with each method run on its own random stream; `next` still runs the workflow's code on the workflow's stream. */
function onOwnStream<T extends object>(interceptor: T): T {
  const wrapped: Record<string, unknown> = {};
  let proto: object | null = interceptor;
  while (proto && proto !== Object.prototype) {
    for (const name of Object.getOwnPropertyNames(proto)) {
      const method = (interceptor as Record<string, unknown>)[name];
      if (name === 'constructor' || name in wrapped || typeof method !== 'function') continue;
      const stream = NOT_REPLAYED_METHODS.has(name) ? NOT_REPLAYED : REPLAYED;
      wrapped[name] = (...args: unknown[]) => getRandomStream(stream).with(() => (method as (...a: unknown[]) => unknown).apply(interceptor, args));
    }
    proto = Object.getPrototypeOf(proto);
  }
  return wrapped as T;
}

export const interceptors = (): WorkflowInterceptors => {
  const otel = openTelemetryInterceptors();
  return {
    inbound: otel.inbound?.map(onOwnStream),
    outbound: otel.outbound?.map(onOwnStream),
    internals: otel.internals?.map(onOwnStream),
  };
};
