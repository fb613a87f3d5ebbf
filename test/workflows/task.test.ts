// taskWorkflow against a real (local) Temporal server with mocked activities: what a task's caller
// sees for a result, a retried infrastructure failure, a user timeout, no worker, no capacity and a cancel.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { Context } from '@temporalio/activity';
import { WorkflowFailedError, type WorkflowHandle } from '@temporalio/client';
import { ApplicationFailure, CancelledFailure } from '@temporalio/common';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import type { RuntimeActivities } from '../../activities/runtime.js';
import type { ControlActivities } from '../../control/activities.js';
import type { PythonExecInput, PythonExecOutput, RunCodeInput, RunCodeOutput, TaskWorkflowInput, TerminalExecOutput } from '../../contract/messages.js';
import { CONTROL_TASK_QUEUE, runtimeTaskQueue } from '../../contract/queues.js';
import { SA_ACCOUNT, SA_CAPABILITY, SA_ERROR, SA_RUNTIME } from '../../contract/search-attributes.js';
import { taskWorkflow } from '../../workflows/task.js';
import {
  deferred, heartbeatUntil, startTestEnv, startWorker, stopAll, terminateRunning, type RunningWorker,
} from './support/env.js';

const PYTHON_QUEUE = runtimeTaskQueue('python');
const ACCOUNT = 'acct_wf_tests';

const output = (text: string): PythonExecOutput => ({ output: text, stderr: '', exit_code: 0, stdout_truncated: false, stderr_truncated: false });

describe('taskWorkflow', function () {
  this.timeout(30_000);

  let env: TestWorkflowEnvironment;
  let control: RunningWorker | undefined;
  let python: RunningWorker | undefined;
  /** What the control worker's terminalExecInSession does in the current test. */
  let controlMock: ControlActivities['terminalExecInSession'] = async () => { throw new Error('not expected in this test'); };
  let codeInSessionMock: ControlActivities['runCodeInSession'] = async () => { throw new Error('not expected in this test'); };
  /** What the python worker's runCode does in the current test. */
  let runCodeMock: RuntimeActivities['runCode'] = async () => { throw new Error('not expected in this test'); };
  let started: WorkflowHandle[] = [];

  before(async function () {
    this.timeout(120_000);
    env = await startTestEnv();
    const controlActivities: ControlActivities = { terminalExecInSession: (req) => controlMock(req), runCodeInSession: (req) => codeInSessionMock(req), dropSessionSnapshot: async () => undefined,
      signSnapshotGrant: async () => { throw new Error('not expected in this test'); },
      hostSilentMs: async () => { throw new Error('not expected in this test'); },
      templateHosts: async () => { throw new Error('not expected in this test'); },
      recordTemplateHost: async () => { throw new Error('not expected in this test'); },
      finishTemplate: async () => { throw new Error('not expected in this test'); },
    };
    control = await startWorker(env, CONTROL_TASK_QUEUE, controlActivities, { workflows: true });
  });

  after(async function () {
    this.timeout(60_000);
    await stopAll([control]);
    await env?.teardown();
  });

  afterEach(async function () {
    await python?.stop();
    python = undefined;
    await terminateRunning(started);
    started = [];
  });

  /** A python runtime worker whose pythonExec is `exec`. */
  async function pythonWorker(exec: (input: PythonExecInput) => Promise<PythonExecOutput>): Promise<void> {
    const activities: RuntimeActivities = { pythonExec: exec, echo: async (i) => ({ message: i.message }), runCode: (i) => runCodeMock(i) };
    python = await startWorker(env, PYTHON_QUEUE, activities);
  }

  /** Starts a task the way the API does (control queue, account/capability/runtime search attributes). */
  async function startTask(over: Partial<TaskWorkflowInput> = {}): Promise<WorkflowHandle<typeof taskWorkflow>> {
    const task: TaskWorkflowInput = {
      capability: 'pythonExec',
      input: { code: 'print(6 * 7)', timeout_ms: 5_000 } satisfies PythonExecInput,
      timeoutMs: 5_000,
      heartbeatTimeoutMs: 1_000,
      queueTimeoutMs: 5_000,
      ...over,
    };
    const handle = await env.client.workflow.start(taskWorkflow, {
      workflowId: `task_${randomUUID().replaceAll('-', '')}`,
      taskQueue: CONTROL_TASK_QUEUE,
      args: [task],
      typedSearchAttributes: [
        { key: SA_ACCOUNT, value: ACCOUNT },
        { key: SA_CAPABILITY, value: task.capability },
        { key: SA_RUNTIME, value: task.capability === 'terminalExec' ? 'terminal' : 'python' },
      ],
    });
    started.push(handle);
    return handle;
  }

  /** The task's failure as the API reads it: WorkflowFailedError whose cause carries the error code. */
  async function failureOf(handle: WorkflowHandle): Promise<ApplicationFailure> {
    const err = await handle.result().then(
      (r) => assert.fail(`expected the task to fail, it returned ${JSON.stringify(r)}`),
      (e: unknown) => e,
    );
    assert.ok(err instanceof WorkflowFailedError, `expected WorkflowFailedError, got ${String(err)}`);
    assert.ok(err.cause instanceof ApplicationFailure, `expected an ApplicationFailure cause, got ${String(err.cause)}`);
    return err.cause;
  }

  async function errorAttribute(handle: WorkflowHandle): Promise<string | undefined> {
    return (await handle.describe()).typedSearchAttributes.get(SA_ERROR);
  }

  async function scheduledActivities(handle: WorkflowHandle): Promise<string[]> {
    const history = await handle.fetchHistory();
    return (history.events ?? []).flatMap((e) => {
      const name = e.activityTaskScheduledEventAttributes?.activityType?.name;
      return name ? [name] : [];
    });
  }

  it('returns what pythonExec returned, with the code the caller sent', async () => {
    const seen: PythonExecInput[] = [];
    await pythonWorker(async (input) => {
      seen.push(input);
      return output('42\n');
    });
    const handle = await startTask();
    assert.deepEqual(await handle.result(), output('42\n'));
    assert.deepEqual(seen, [{ code: 'print(6 * 7)', timeout_ms: 5_000 }]);
    assert.equal(await errorAttribute(handle), undefined);
  });

  it('retries an infrastructure failure (a plain Error, like Docker trouble) and then returns the result', async () => {
    const attempts: number[] = [];
    await pythonWorker(async () => {
      attempts.push(Context.current().info.attempt);
      if (attempts.length < 3) throw new Error('connect ECONNREFUSED /var/run/docker.sock');
      return output('third time lucky\n');
    });
    const handle = await startTask();
    assert.deepEqual(await handle.result(), output('third time lucky\n'));
    assert.deepEqual(attempts, [1, 2, 3]);
    assert.equal((await handle.describe()).status.name, 'COMPLETED');
    assert.equal(await errorAttribute(handle), undefined);
  });

  it('gives up after five infrastructure failures with execution_failed, never an error code outside the table', async () => {
    let attempts = 0;
    await pythonWorker(async () => {
      attempts++;
      throw new Error('connect ECONNREFUSED /var/run/docker.sock');
    });
    const handle = await startTask();
    const failure = await failureOf(handle);
    assert.equal(failure.type, 'execution_failed');
    assert.match(failure.message, /ECONNREFUSED/);
    assert.equal(attempts, 5);
    assert.equal(await errorAttribute(handle), 'execution_failed');
  });

  it('fails with type timeout after a single attempt when the code runs past its timeout, and records DuraboxError=timeout', async () => {
    let attempts = 0;
    await pythonWorker(async () => {
      attempts++;
      throw ApplicationFailure.create({ type: 'timeout', message: 'code exceeded timeout_ms=5000 and was killed', nonRetryable: true });
    });
    const handle = await startTask();
    const failure = await failureOf(handle);
    assert.equal(failure.type, 'timeout');
    assert.equal(failure.message, 'code exceeded timeout_ms=5000 and was killed');
    assert.equal(failure.nonRetryable, true);
    assert.equal(attempts, 1);
    assert.equal((await handle.describe()).status.name, 'FAILED');
    assert.equal(await errorAttribute(handle), 'timeout');
  });

  it('fails at once with no_worker when the API found no worker, without scheduling any activity', async () => {
    let calls = 0;
    // A worker is even available: the workflow must not use it.
    await pythonWorker(async () => {
      calls++;
      return output('should not run');
    });
    const t0 = Date.now();
    const handle = await startTask({ unavailable: 'no_worker' });
    const failure = await failureOf(handle);
    assert.equal(failure.type, 'no_worker');
    assert.match(failure.message, /runtime python/);
    assert.ok(Date.now() - t0 < 3_000, 'no_worker must not wait for anything');
    assert.equal(calls, 0);
    assert.deepEqual(await scheduledActivities(handle), []);
    assert.equal(await errorAttribute(handle), 'no_worker');
  });

  it('fails with no_capacity when no worker takes the task within queueTimeoutMs', async () => {
    // No worker polls durabox-runtime-python in this test.
    const t0 = Date.now();
    const handle = await startTask({ queueTimeoutMs: 1_000 });
    const failure = await failureOf(handle);
    const waited = Date.now() - t0;
    assert.equal(failure.type, 'no_capacity');
    assert.ok(waited >= 1_000, `failed after ${waited} ms, before the queue timeout`);
    assert.ok(waited < 10_000, `failed only after ${waited} ms`);
    assert.deepEqual(await scheduledActivities(handle), ['pythonExec']);
    assert.equal(await errorAttribute(handle), 'no_capacity');
  });

  it('cancels a running task: the activity hears the cancel, cleans up, and only then the task ends cancelled', async () => {
    const running = deferred();
    let cancelReason: unknown;
    let cleanedUpAt = 0;
    await pythonWorker(async () => {
      running.resolve();
      try {
        return await heartbeatUntil(new Promise<PythonExecOutput>(() => undefined));
      } catch (e) {
        cancelReason = Context.current().cancellationSignal.reason;
        // The real activity kills the container here before reporting back.
        await new Promise((r) => setTimeout(r, 300));
        cleanedUpAt = Date.now();
        throw e;
      }
    });
    const handle = await startTask({ timeoutMs: 20_000 });
    await running.promise;
    await handle.cancel();
    const err = await handle.result().then(() => assert.fail('a cancelled task must not return a result'), (e: unknown) => e);
    assert.ok(err instanceof WorkflowFailedError);
    assert.ok(err.cause instanceof CancelledFailure, `expected CancelledFailure, got ${String(err.cause)}`);
    assert.ok(cancelReason !== undefined, 'the activity never heard the cancel');
    const d = await handle.describe();
    assert.equal(d.status.name, 'CANCELLED');
    assert.ok(cleanedUpAt > 0 && d.closeTime && d.closeTime.getTime() >= cleanedUpAt - 50, 'the task ended before the activity had cleaned up');
    assert.equal(d.typedSearchAttributes.get(SA_ERROR), undefined);
  });

  it('runs terminalExec through the control activity, for the account of the task', async () => {
    const reqs: unknown[] = [];
    const answer: TerminalExecOutput = {
      session_id: 'sess_1', created: true, stdout: 'hi\n', stderr: '', exit_code: 0,
      stdout_truncated: false, stderr_truncated: false, lease_expires_unix_ms: 1,
    };
    controlMock = async (req) => {
      reqs.push(req);
      return answer;
    };
    const input = { command: 'echo hi', timeout_ms: 1_000 };
    const handle = await startTask({ capability: 'terminalExec', input });
    assert.deepEqual(await handle.result(), answer);
    assert.deepEqual(reqs, [{ accountId: ACCOUNT, input }]);
  });

  describe('runCode', () => {
    const cellOut = (over: Partial<RunCodeOutput> = {}): RunCodeOutput => ({
      results: [{ is_main_result: true, text: '2' }], logs: { stdout: [], stderr: [] }, execution_count: 1, language: 'python',
      timed_out: false, context_restarted: false, stdout_truncated: false, stderr_truncated: false, results_truncated: false, ...over,
    });

    it('runs a one-shot cell on the python runtime\'s queue', async () => {
      const seen: RunCodeInput[] = [];
      runCodeMock = async (input) => {
        seen.push(input);
        return cellOut();
      };
      await pythonWorker(async () => output(''));
      const input: RunCodeInput = { code: '1+1', timeout_ms: 5_000 };
      const handle = await startTask({ capability: 'runCode', input });
      assert.deepEqual(await handle.result(), cellOut());
      assert.deepEqual(seen, [input]);
      assert.deepEqual(await scheduledActivities(handle), ['runCode']);
    });

    it('sends a cell with session_id to the session through the control activity, for the task\'s account', async () => {
      const reqs: unknown[] = [];
      codeInSessionMock = async (req) => {
        reqs.push(req);
        return cellOut({ session_id: 'sess_1', context_id: 'default-python' });
      };
      const input: RunCodeInput = { code: '1+1', session_id: 'sess_1', timeout_ms: 5_000 };
      const handle = await startTask({ capability: 'runCode', input });
      assert.equal(((await handle.result()) as RunCodeOutput).context_id, 'default-python');
      assert.deepEqual(reqs, [{ accountId: ACCOUNT, input }]);
      assert.deepEqual(await scheduledActivities(handle), ['runCodeInSession']);
    });
  });
});
