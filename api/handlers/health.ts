// Liveness, readiness, Prometheus metrics and the OpenAPI document (spec §4.7).
import { Histogram } from 'prom-client';
import type { Context, Next } from 'koa';
import { PRODUCT_VERSION } from '../../config/paths.js';
import { OPERATIONS, openApiDocument, type OperationId } from '../../contract/operations.js';
import { DuraboxError } from '../../contract/errors.js';
import { metrics } from '../../control/metrics.js';
import { sameSecret } from '../../control/security.js';
import { dbReachable } from '../../db/index.js';
import type { AppDeps } from '../context.js';
import type { Handlers } from '../routes.js';

const httpDuration = new Histogram({
  name: 'durabox_http_request_duration_seconds',
  help: 'HTTP requests by route and status',
  labelNames: ['method', 'route', 'status'],
  buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10, 60],
  registers: [metrics],
});

/** Times every request under its operation's path pattern (not its raw path, so ids do not explode the labels). */
export async function httpMetrics(ctx: Context, next: Next): Promise<void> {
  const end = httpDuration.startTimer();
  try {
    await next();
  } finally {
    const id = (ctx.state as { operation?: OperationId }).operation;
    end({ method: ctx.method, route: id ? OPERATIONS[id].path : 'unmatched', status: String(ctx.status) });
  }
}

export function healthHandlers(deps: AppDeps): Pick<Handlers, 'health' | 'ready' | 'metrics' | 'openapi'> {
  const document = openApiDocument(PRODUCT_VERSION);
  return {
    health(ctx) {
      ctx.body = { status: 'ok' };
    },
    async ready(ctx) {
      const [database, temporal] = await Promise.all([
        dbReachable(deps.db),
        deps.connection.healthService.check({}).then(() => true, () => false),
      ]);
      ctx.status = database && temporal ? 200 : 503;
      ctx.body = { status: ctx.status === 200 ? 'ready' : 'not ready', database, temporal };
    },
    openapi(ctx) {
      ctx.body = document;
    },
    async metrics(ctx) {
      const want = deps.api.metricsToken;
      if (want !== undefined && !sameSecret(ctx.get('authorization'), `Bearer ${want}`)) {
        throw new DuraboxError('unauthenticated', 'metrics need Authorization: Bearer <DURABOX_METRICS_TOKEN>');
      }
      ctx.type = metrics.contentType;
      ctx.body = await metrics.metrics();
    },
  };
}
