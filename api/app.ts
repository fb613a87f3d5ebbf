// The HTTP app in one place: traces, metrics, error mapping, body limits, the operations' routes, the dashboard.
import Koa from 'koa';
import { bodyParser } from '@koa/bodyparser';
import { componentLog, errorFields } from '../config/log.js';
import { DuraboxError } from '../contract/errors.js';
import { ForkBody, leaseWithin, SessionLeaseBody, TerminalCommandBody } from '../contract/schemas.js';
import { leaseBounds, type AppDeps, type AppState } from './context.js';
import { dashboardMiddleware } from './dashboard-files.js';
import { errorMiddleware } from './errors.js';
import { accountHandlers } from './handlers/accounts.js';
import { codeHandlers } from './handlers/code.js';
import { codecCors, codecHandlers } from './handlers/codec.js';
import { commandHandlers } from './handlers/commands.js';
import { consoleHandlers } from './handlers/console.js';
import { healthHandlers, httpMetrics } from './handlers/health.js';
import { sessionHandlers } from './handlers/sessions.js';
import { snapshotHandlers } from './handlers/snapshots.js';
import { templateHandlers } from './handlers/templates.js';
import { taskHandlers } from './handlers/tasks.js';
import { workerHandlers } from './handlers/workers.js';
import { workbenchHandlers } from './handlers/workbench.js';
import { mcpHandlers } from './mcp.js';
import { peerApis } from '../peer/index.js';
import { browserHandlers } from './workbench/browser-routes.js';
import { JSON_BODY_LIMIT } from './raw-body.js';
import { requestLog } from './request-log.js';
import { portProxy } from './streams.js';
import { operationsRouter, responseCheck, type Handlers } from './routes.js';
import { tracingMiddleware } from './tracing.js';

const log = componentLog('api');

/** One handler per operation record; the compiler refuses a record without one. */
export function handlersOf(deps: AppDeps): Handlers {
  return {
    ...healthHandlers(deps), ...consoleHandlers(deps), ...accountHandlers(deps), ...workerHandlers(deps),
    ...taskHandlers(deps), ...commandHandlers(deps), ...sessionHandlers(deps), ...codeHandlers(deps), ...codecHandlers(deps), ...mcpHandlers(deps), ...templateHandlers(deps),
    ...snapshotHandlers(deps), ...workbenchHandlers(deps),
    // Browser (workbench): the session's headless Chromium over the platform's CDP endpoint.
    ...browserHandlers(deps),
  };
}

export interface AppOptions {
  /** Check every answer against its operation's response schema (the test platform turns it on). */
  checkResponses?: boolean;
}

export function createApp(deps: AppDeps, opts: AppOptions = {}): Koa<AppState> {
  // Behind a trusted proxy the client is the address that proxy saw (the last X-Forwarded-For entry):
  // entries before it were written by the client and prove nothing.
  const app = new Koa<AppState>({ proxy: deps.api.trustProxy, maxIpsCount: 1 });
  // Failures Koa itself meets outside the middleware (a broken socket while it answers); those within are
  // on their request's log line.
  app.on('error', (err: { status?: number; code?: string }, ctx?: { state?: AppState; method?: string; path?: string }) => {
    if (err.status && err.status < 500) return;
    // The client broke its own request off (a host that stopped an upload midway): not this process's failure.
    const clientLeft = err.code?.startsWith('HPE_') || err.code === 'ECONNRESET';
    (ctx?.state?.log ?? log)[clientLeft ? 'info' : 'error']({ method: ctx?.method, path: ctx?.path, ...errorFields(err) }, clientLeft ? 'the client broke its request off' : 'answering failed');
  });
  // Outermost, so the span holds the whole request and sees the status the error middleware chose.
  if (deps.tracing) app.use(tracingMiddleware(deps.tracing.tracer));
  app.use(requestLog);
  app.use(httpMetrics);
  if (opts.checkResponses) app.use(responseCheck);
  app.use(errorMiddleware);
  app.use(codecCors(deps.temporal.uiUrl));
  // The peer SDKs' APIs (OpenSandbox, E2B) speak their own protocols, bodies and errors.
  app.use(peerApis(deps));
  // Before the body parser: a request to a session's port passes through with its body untouched.
  app.use(portProxy(deps));
  app.use(bodyParser({ enableTypes: ['json'], jsonLimit: JSON_BODY_LIMIT, encoding: 'utf-8' }));
  const lease = leaseBounds(deps.api);
  const router = operationsRouter(deps, handlersOf(deps), {
    terminalCommand: leaseWithin(TerminalCommandBody, lease), forkSession: leaseWithin(ForkBody, lease), setSessionLease: leaseWithin(SessionLeaseBody, lease, 'ttl_sec'),
  });
  app.use(router.routes());
  app.use(router.allowedMethods());
  app.use(dashboardMiddleware());
  app.use((ctx) => {
    throw new DuraboxError('not_found', `no route for ${ctx.method} ${ctx.path}`);
  });
  return app;
}
