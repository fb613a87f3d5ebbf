// One workflow per task. The work itself is one activity on the runtime's task queue; Temporal gives
// the retry (infrastructure failures only), the wait, cancellation and the record of the result.
import {
  ActivityFailure, ActivityCancellationType, ApplicationFailure, TimeoutFailure, proxyActivities, isCancellation, upsertSearchAttributes, workflowInfo,
} from '@temporalio/workflow';
import type { RuntimeActivities } from '../activities/runtime.js';
import type { ControlActivities } from '../control/activities.js';
import { CAPABILITY_RUNTIME, runtimeFor } from '../contract/capabilities.js';
import { ERROR_TABLE, NON_RETRYABLE_CODES, isErrorCode } from '../contract/errors.js';
import type { EchoInput, PythonExecInput, RunCodeInput, TaskWorkflowInput, TerminalExecInput } from '../contract/messages.js';
import { CONTROL_TASK_QUEUE, runtimeTaskQueue } from '../contract/queues.js';
import { SA_ACCOUNT, SA_ERROR } from '../contract/search-attributes.js';

export async function taskWorkflow(task: TaskWorkflowInput): Promise<unknown> {
  if (task.unavailable) {
    throw failTask(ApplicationFailure.create({ type: task.unavailable, message: `no online worker serves runtime ${runtimeFor(task.capability, task.input)}`, nonRetryable: true }));
  }
  const act = proxyActivities<RuntimeActivities>({
    taskQueue: runtimeTaskQueue(CAPABILITY_RUNTIME[task.capability]),
    // Waiting longer than this for a free worker means the hosts are saturated: fail with no_capacity.
    scheduleToStartTimeout: task.queueTimeoutMs,
    // The user's budget plus room for a cold container start; the sandbox itself kills at timeoutMs.
    startToCloseTimeout: task.timeoutMs + 30_000,
    // A killed or cut-off host stops heartbeating; the next attempt goes to another worker.
    heartbeatTimeout: task.heartbeatTimeoutMs,
    // Cancel reports back only after the container is dead.
    cancellationType: ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
    retry: { initialInterval: '200ms', backoffCoefficient: 2, maximumInterval: '5s', maximumAttempts: 5, nonRetryableErrorTypes: NON_RETRYABLE_CODES },
  });
  try {
    switch (task.capability) {
      case 'pythonExec':
        return await act.pythonExec(task.input as PythonExecInput, task.template, task.outputGrant);
      case 'echo':
        return await act.echo(task.input as EchoInput);
      case 'terminalExec':
        return await control(task).terminalExecInSession({ accountId: accountOf(), input: task.input as TerminalExecInput });
      case 'runCode': {
        const input = task.input as RunCodeInput;
        // In a session the cell goes to the session's workflow; once, it takes a warm sandbox.
        return input.session_id
          ? await control(task).runCodeInSession({ accountId: accountOf(), input })
          : await act.runCode(input, task.template, task.outputGrant);
      }
    }
  } catch (err) {
    throw failTask(asTaskFailure(err));
  }
}

function accountOf(): string {
  return workflowInfo().typedSearchAttributes.get(SA_ACCOUNT)!;
}

/** Steps that run in the control worker: they drive another workflow, not a sandbox. */
function control(task: TaskWorkflowInput) {
  return proxyActivities<ControlActivities>({
    taskQueue: CONTROL_TASK_QUEUE,
    // The command's own budget plus room for a session to start; the session enforces the timeout.
    startToCloseTimeout: task.timeoutMs + 60_000,
    // The API that runs the step heartbeats; one killed mid-step is noticed in seconds, and the retry
    // (the same update id) gets the command's one result.
    heartbeatTimeout: task.heartbeatTimeoutMs,
    retry: { initialInterval: '200ms', maximumAttempts: 3, nonRetryableErrorTypes: NON_RETRYABLE_CODES },
  });
}

/** Records the error code as a search attribute before the workflow fails with it. */
function failTask(err: unknown): unknown {
  if (err instanceof ApplicationFailure && err.type) upsertSearchAttributes([{ key: SA_ERROR, value: err.type }]);
  return err;
}

/** Turns an activity failure into a workflow failure whose type is the task's error code. */
export function asTaskFailure(err: unknown): unknown {
  if (isCancellation(err)) return err;
  if (err instanceof ActivityFailure) {
    const cause = err.cause;
    if (cause instanceof ApplicationFailure && isErrorCode(cause.type)) {
      return ApplicationFailure.create({ type: cause.type, message: cause.message, nonRetryable: true });
    }
    if (cause instanceof TimeoutFailure && cause.timeoutType === 'SCHEDULE_TO_START') {
      return ApplicationFailure.create({ type: 'no_capacity', message: ERROR_TABLE.no_capacity.message, nonRetryable: true });
    }
    return ApplicationFailure.create({ type: 'execution_failed', message: cause?.message ?? err.message, nonRetryable: true });
  }
  return err;
}
