// Synchronous commands (spec §4.4): the same task workflows, answered when they finish.
import type { Capability } from '../../contract/capabilities.js';
import { DuraboxError, isErrorCode } from '../../contract/errors.js';
import { baseBody } from '../../control/task-service.js';
import type { AppDeps } from '../context.js';
import type { Handlers } from '../routes.js';

export function commandHandlers(deps: AppDeps): Pick<Handlers, 'echo'> {
  return {
    async echo(ctx, { body }) {
      ctx.body = await runCommand(deps, ctx.state.account!.id, 'echo', body, body.timeout_ms);
    },
  };
}

/** Runs a capability to its end and returns its result, or throws the failure with its code. */
export async function runCommand(deps: AppDeps, accountId: string, capability: Capability, input: unknown, timeoutMs: number, requestId?: string): Promise<unknown> {
  return (await startCommand(deps, accountId, capability, input, timeoutMs, requestId)).outcome();
}

/** Starts a capability's task; `outcome()` waits for its result, or throws the failure with its code. */
export async function startCommand(deps: AppDeps, accountId: string, capability: Capability, input: unknown, timeoutMs: number, requestId?: string): Promise<{ taskId: string; outcome(): Promise<unknown> }> {
  const { handle, createdAt } = await deps.tasks.start({ accountId, capability, input, timeoutMs, requestId });
  return {
    taskId: handle.workflowId,
    async outcome() {
      const task = await deps.tasks.await(handle, accountId, baseBody(handle.workflowId, capability, { timeout_ms: timeoutMs }, createdAt));
      if (task.status === 'succeeded') return task.result;
      if (task.status === 'canceled') throw new DuraboxError('canceled', 'canceled');
      const code = task.error?.code;
      throw new DuraboxError(isErrorCode(code) ? code : 'execution_failed', task.error?.message ?? code);
    },
  };
}
