// A server span per HTTP request, continuing the caller's trace when it sends a `traceparent`. The
// handler runs inside the span, so the Temporal client calls it makes (workflow starts, updates) carry
// it on to the workflow, its activities and the sandbox. Only wired when the process has tracing.
import { context, propagation, ROOT_CONTEXT, SpanKind, SpanStatusCode, trace, type Span, type Tracer } from '@opentelemetry/api';
import {
  ATTR_CLIENT_ADDRESS, ATTR_ERROR_TYPE, ATTR_HTTP_REQUEST_METHOD, ATTR_HTTP_RESPONSE_STATUS_CODE, ATTR_HTTP_ROUTE, ATTR_URL_PATH,
  ATTR_URL_SCHEME, ATTR_USER_AGENT_ORIGINAL,
} from '@opentelemetry/semantic-conventions';
import type { Context, Next } from 'koa';
import { OPERATIONS, type OperationId } from '../contract/operations.js';

/** Probes and scrapes, every few seconds each: a trace of them would bury the ones worth reading. */
const UNTRACED = new Set(['/healthz', '/readyz', '/metrics']);

export function tracingMiddleware(tracer: Tracer) {
  return async function traced(ctx: Context, next: Next): Promise<void> {
    if (UNTRACED.has(ctx.path)) return next();
    const parent = propagation.extract(ROOT_CONTEXT, ctx.headers);
    const span = tracer.startSpan(`HTTP ${ctx.method}`, {
      kind: SpanKind.SERVER,
      attributes: {
        [ATTR_HTTP_REQUEST_METHOD]: ctx.method,
        [ATTR_URL_PATH]: ctx.path,
        [ATTR_URL_SCHEME]: ctx.protocol,
        [ATTR_CLIENT_ADDRESS]: ctx.ip,
        ...(ctx.get('user-agent') ? { [ATTR_USER_AGENT_ORIGINAL]: ctx.get('user-agent') } : {}),
      },
    }, parent);
    // Ended when the answer is sent, so a streamed answer (SSE, MCP progress) counts whole.
    ctx.res.once('close', () => endSpan(span, ctx));
    try {
      await context.with(trace.setSpan(parent, span), next);
    } catch (e) {
      span.recordException(e as Error);
      throw e;
    } finally {
      // Named after its operation's path pattern (not the raw path, whose ids would make every name unique).
      const id = (ctx.state as { operation?: OperationId }).operation;
      if (id) {
        span.updateName(`HTTP ${ctx.method} ${OPERATIONS[id].path}`);
        span.setAttributes({ [ATTR_HTTP_ROUTE]: OPERATIONS[id].path, 'durabox.operation': id });
      }
      const account = (ctx.state as { account?: { id: string } }).account;
      if (account) span.setAttribute('durabox.account_id', account.id);
    }
  };
}

function endSpan(span: Span, ctx: Context): void {
  const status = ctx.res.statusCode;
  span.setAttribute(ATTR_HTTP_RESPONSE_STATUS_CODE, status);
  // A server span is an error only for the server's own failures; a 4xx is the client's (semantic conventions).
  if (status >= 500) span.setStatus({ code: SpanStatusCode.ERROR }).setAttribute(ATTR_ERROR_TYPE, String(status));
  if (!ctx.res.writableFinished) span.setAttribute('durabox.response_aborted', true);
  span.end();
}
