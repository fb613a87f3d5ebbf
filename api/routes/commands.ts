// Synchronous commands (spec §4.4): the same task workflows, answered when they finish.
import Router from '@koa/router';
import type { AppDeps, AppState } from '../context.js';
import { requireToken } from '../auth.js';
import { HttpError } from '../errors.js';
import { EchoInput, parseOr400 } from '../schemas.js';
import { baseBody, httpStatusOfError } from '../task-service.js';

export function commandRoutes(deps: AppDeps): Router<AppState> {
  const r = new Router<AppState>({ prefix: '/api/v1/commands' });
  r.use(requireToken(deps));

  r.post('/echo', async (ctx) => {
    const input = parseOr400(EchoInput, ctx.request.body);
    ctx.body = await runCommand(deps, ctx.state.account!.id, 'echo', input, input.timeout_ms);
  });

  return r;
}

/** Runs a capability to its end and returns its result, or throws the HTTP error its failure maps to. */
export async function runCommand(deps: AppDeps, accountId: string, capability: 'echo' | 'pythonExec', input: unknown, timeoutMs: number): Promise<unknown> {
  const { handle, createdAt } = await deps.tasks.start({ accountId, capability, input, timeoutMs });
  const task = await deps.tasks.await(handle, accountId, baseBody(handle.workflowId, capability, { timeout_ms: timeoutMs }, createdAt));
  if (task.status === 'succeeded') return task.result;
  if (task.status === 'canceled') throw new HttpError(409, 'canceled');
  const code = task.error?.code ?? 'execution_failed';
  throw new HttpError(httpStatusOfError(code), task.error?.message ?? code);
}
