// Async tasks (spec §4.5): a task is a Temporal workflow and its id is the workflow id.
import { CAPABILITIES, capabilityNamed } from '../../contract/capabilities.js';
import { DuraboxError, errorSpec } from '../../contract/errors.js';
import { inputSchemaOf, parseOr400, type TaskBody } from '../../contract/schemas.js';
import { baseBody, statusUrl } from '../../control/task-service.js';
import { leaseBounds, type AppDeps } from '../context.js';
import { ErrorAnswer } from '../errors.js';
import { streamTask, wantsEvents } from '../events.js';
import type { Handlers } from '../routes.js';

/** How long past its deadline a task may take to be recorded as timed out (timer, cancel, history write). */
const TIMEOUT_RECORDING_MS = 3000;

/** HTTP status of a task answer: running 202, succeeded 200, otherwise its error code's. */
export function taskHttpStatus(task: TaskBody): number {
  switch (task.status) {
    case 'queued':
    case 'running': return 202;
    case 'succeeded': return 200;
    case 'canceled': return errorSpec('canceled').status;
    case 'timeout': return errorSpec('timeout').status;
    case 'failed': return errorSpec(task.error?.code).status;
  }
}

export function taskHandlers(deps: AppDeps): Pick<Handlers, 'createTask' | 'listTasks' | 'getTask' | 'taskEvents' | 'cancelTask'> {
  return {
    async createTask(ctx, { body }) {
      const capability = capabilityNamed(body.capability);
      if (!capability) {
        throw new DuraboxError('invalid_input', `invalid request body: capability: unknown capability ${JSON.stringify(body.capability)} (known: ${CAPABILITIES.join(', ')}, in any case)`);
      }
      // The capability's own input is checked here, before a workflow exists, so bad input costs nothing.
      const input = parseOr400(inputSchemaOf(capability, leaseBounds(deps.api)), { timeout_ms: body.timeout_ms, ...body.input }, 'input');
      const accountId = ctx.state.account!.id;
      const { handle, createdAt } = await deps.tasks.start({
        accountId, capability, input, timeoutMs: body.timeout_ms, requestId: body.request_id,
      });
      ctx.state.taskId = handle.workflowId;
      // Asked for events: the task as a stream, whatever the mode.
      if (wantsEvents(ctx)) return streamTask(deps, ctx, (await deps.tasks.get(handle.workflowId, accountId))!, accountId);
      const base = baseBody(handle.workflowId, capability, { request_id: body.request_id ?? null, timeout_ms: body.timeout_ms }, createdAt);
      // Auto mode never waits much past the task's own deadline, as the reference caps wait_ms at
      // timeout_ms; the allowance lets the workflow record the timeout, so the answer says `timeout`.
      const waitMs = body.mode === 'async' ? 0 : body.mode === 'auto' ? Math.min(body.wait_ms, body.timeout_ms + TIMEOUT_RECORDING_MS) : undefined;
      const task = waitMs === 0
        ? (await deps.tasks.get(handle.workflowId, accountId))!
        : await deps.tasks.await(handle, accountId, base, waitMs);
      ctx.status = taskHttpStatus(task);
      ctx.state.errorCode = task.error?.code;
      ctx.body = ctx.status === 202 ? { ...task, status_url: statusUrl(task.task_id) } : task;
    },

    async listTasks(ctx, { query }) {
      // The filter names a capability as POST /tasks does: in any case.
      const capability = query.capability === undefined ? undefined : capabilityNamed(query.capability) ?? query.capability;
      ctx.body = await deps.tasks.list(ctx.state.account!.id, { ...query, capability });
    },

    async getTask(ctx) {
      const task = await deps.tasks.get(ctx.params.id, ctx.state.account!.id);
      if (!task) throw new DuraboxError('not_found', 'task not found');
      ctx.body = task;
    },

    async taskEvents(ctx) {
      const task = await deps.tasks.get(ctx.params.id, ctx.state.account!.id);
      if (!task) throw new DuraboxError('not_found', 'task not found');
      await streamTask(deps, ctx, task, ctx.state.account!.id);
    },

    async cancelTask(ctx) {
      const res = await deps.tasks.cancel(ctx.params.id, ctx.state.account!.id);
      if (!res) throw new DuraboxError('not_found', 'task not found');
      // As the reference answers: 409 with the bare snapshot, whose status says how it finished.
      if (!res.accepted) throw new ErrorAnswer('conflict', res.task);
      ctx.status = 200;
      ctx.body = res.task;
    },
  };
}
