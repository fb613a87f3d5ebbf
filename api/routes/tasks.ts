// Async tasks (spec §4.5): a task is a Temporal workflow and its id is the workflow id.
import Router from '@koa/router';
import type { AppDeps, AppState } from '../context.js';
import { requireToken } from '../auth.js';
import { HttpError, badRequest, notFound } from '../errors.js';
import { TaskCreateBody, TaskListQuery, parseOr400, inputSchemaOf } from '../schemas.js';
import { baseBody, httpStatusOf, isCapability, statusUrl } from '../task-service.js';
import { CAPABILITIES } from '../../workflows/shared.js';

export function taskRoutes(deps: AppDeps): Router<AppState> {
  const r = new Router<AppState>({ prefix: '/api/v1/tasks' });
  r.use(requireToken(deps));

  r.post('/', async (ctx) => {
    const body = parseOr400(TaskCreateBody, ctx.request.body);
    if (!isCapability(body.capability)) {
      throw badRequest(`invalid request body: capability: unknown capability ${JSON.stringify(body.capability)} (known: ${CAPABILITIES.join(', ')})`);
    }
    // The capability's own input is checked here, before a workflow exists, so bad input costs nothing.
    const input = parseOr400(inputSchemaOf(body.capability), { timeout_ms: body.timeout_ms, ...body.input }, 'input');
    const accountId = ctx.state.account!.id;
    const { handle, createdAt } = await deps.tasks.start({
      accountId, capability: body.capability, input, timeoutMs: body.timeout_ms, requestId: body.request_id,
    });
    const base = baseBody(handle.workflowId, body.capability, { request_id: body.request_id ?? null, timeout_ms: body.timeout_ms }, createdAt);
    const waitMs = body.mode === 'async' ? 0 : body.mode === 'auto' ? body.wait_ms : undefined;
    const task = waitMs === 0
      ? (await deps.tasks.get(handle.workflowId, accountId))!
      : await deps.tasks.await(handle, accountId, base, waitMs);
    ctx.status = httpStatusOf(task);
    ctx.body = ctx.status === 202 ? { ...task, status_url: statusUrl(task.task_id) } : task;
  });

  r.get('/', async (ctx) => {
    const q = parseOr400(TaskListQuery, ctx.query, 'query');
    ctx.body = await deps.tasks.list(ctx.state.account!.id, q);
  });

  r.get('/:id', async (ctx) => {
    const task = await deps.tasks.get(ctx.params.id, ctx.state.account!.id);
    if (!task) throw notFound('task not found');
    ctx.body = task;
  });

  r.post('/:id/cancel', async (ctx) => {
    const res = await deps.tasks.cancel(ctx.params.id, ctx.state.account!.id);
    if (!res) throw notFound('task not found');
    if (!res.accepted) throw new HttpError(409, 'task already finished', { error: 'task already finished', ...res.task });
    ctx.status = 200;
    ctx.body = res.task;
  });

  return r;
}
