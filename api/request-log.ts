// One JSON line per request: its id (the client's X-Request-Id, else a new one, echoed in the answer),
// method, path (never the query: values there are the caller's), status, duration, operation, and the
// account, worker and task when known. A failure the API did not expect is logged at error with its
// stack; an answer with an error code (a refusal, a user's timeout) is an ordinary line at info.
import { randomUUID } from 'node:crypto';
import type { Context, Next } from 'koa';
import { componentLog, errorFields } from '../config/log.js';
import { isOrdinaryOutcome } from '../contract/errors.js';
import type { OperationId } from '../contract/operations.js';
import type { AppState } from './context.js';

const apiLog = componentLog('api');

/** A client's request id is kept when it is a short plain token; anything else gets a fresh id. */
const USABLE_REQUEST_ID = /^[\w.:@-]{1,128}$/;

/** Calls a healthy platform makes all the time (heartbeats, output forwarding, probes): at debug unless they fail. */
const ROUTINE: ReadonlySet<OperationId> = new Set(['registryHeartbeat', 'registryOutput', 'registrySessions', 'registryPutSnapshot', 'registryClaimSnapshot', 'registryGetSnapshot', 'health', 'ready', 'metrics']);

export async function requestLog(ctx: Context & { state: AppState }, next: Next): Promise<void> {
  const given = ctx.get('x-request-id');
  const requestId = USABLE_REQUEST_ID.test(given) ? given : randomUUID();
  const log = apiLog.child({ request_id: requestId });
  ctx.state.requestId = requestId;
  ctx.state.log = log;
  ctx.set('X-Request-Id', requestId);
  const started = performance.now();
  try {
    await next();
  } finally {
    const s = ctx.state;
    // An event stream wrote its status itself.
    const status = ctx.respond === false ? ctx.res.statusCode : ctx.status;
    const line = {
      method: ctx.method,
      path: ctx.path,
      status,
      duration_ms: Math.round((performance.now() - started) * 10) / 10,
      operation: s.operation,
      account_id: s.account?.id,
      worker_id: s.workerId,
      task_id: s.taskId,
      error_code: s.errorCode,
    };
    if (s.failure !== undefined) log.error({ ...line, ...errorFields(s.failure) }, 'request failed');
    else if (status >= 500 && !isOrdinaryOutcome(s.errorCode)) log.warn(line, 'request');
    else if (status < 400 && ROUTINE.has(s.operation as OperationId)) log.debug(line, 'request');
    else log.info(line, 'request');
  }
}
