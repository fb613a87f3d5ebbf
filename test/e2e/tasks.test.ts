import assert from 'node:assert/strict';
import { call, newToken } from './support/http.js';
import { platform } from './support/hooks.js';
import { containersRunningUserCode, eventually } from './support/docker.js';

describe('REST tasks (pythonExec and echo as Temporal workflows)', () => {
  let token: string;
  before(async () => { token = await newToken(); });

  const task = (body: unknown) => call('POST', '/api/v1/tasks', { token, body });

  it('sync mode answers 200 with the program output', async () => {
    const r = await task({ capability: 'pythonExec', input: { code: 'print(1)' }, mode: 'sync' });
    assert.equal(r.status, 200);
    assert.equal(r.body.status, 'succeeded');
    assert.match(r.body.task_id, /^task_[0-9a-f]{32}$/);
    assert.deepEqual(r.body.result, { output: '1\n', stderr: '', exit_code: 0, stdout_truncated: false, stderr_truncated: false });
    for (const f of ['created_at', 'updated_at', 'deadline_at', 'completed_at']) assert.ok(!Number.isNaN(Date.parse(r.body[f])), f);
    assert.equal(r.body.capability, 'pythonExec');
  });

  it('the task id is a Temporal workflow id carrying search attributes', async () => {
    const r = await task({ capability: 'echo', input: { message: 'sa' }, mode: 'sync' });
    const d = await platform.api.deps.client.workflow.getHandle(r.body.task_id).describe();
    assert.equal(d.type, 'taskWorkflow');
    assert.equal(d.status.name, 'COMPLETED');
    const sa = d.raw.workflowExecutionInfo?.searchAttributes?.indexedFields ?? {};
    assert.ok('DuraboxAccount' in sa && 'DuraboxCapability' in sa && 'DuraboxRuntime' in sa);
  });

  it('a non-zero exit is a normal result and stdout and stderr stay apart', async () => {
    const r = await task({ capability: 'pythonExec', input: { code: 'import sys\nprint("out")\nprint("err", file=sys.stderr)\nsys.exit(3)' }, mode: 'sync' });
    assert.equal(r.status, 200);
    assert.equal(r.body.result.exit_code, 3);
    assert.equal(r.body.result.output, 'out\n');
    assert.equal(r.body.result.stderr, 'err\n');
  });

  it('async mode answers 202 at once and the task is readable until it succeeds', async () => {
    const r = await task({ capability: 'pythonExec', input: { code: 'import time; time.sleep(1.5); print("late")' }, mode: 'async' });
    assert.equal(r.status, 202);
    assert.ok(['queued', 'running'].includes(r.body.status));
    assert.equal(r.body.status_url, `/api/v1/tasks/${r.body.task_id}`);
    const done = await eventually('task to finish', async () => {
      const g = await call('GET', r.body.status_url, { token });
      assert.equal(g.status, 200);
      return g.body.status === 'succeeded' && g.body;
    });
    assert.equal(done.result.output, 'late\n');
  });

  it('auto mode waits wait_ms, then answers 202; a fast task answers 200', async () => {
    const slow = await task({ capability: 'pythonExec', input: { code: 'import time; time.sleep(3)' }, mode: 'auto', wait_ms: 300 });
    assert.equal(slow.status, 202);
    const fast = await task({ capability: 'pythonExec', input: { code: 'print(2)' }, mode: 'auto', wait_ms: 10_000 });
    assert.equal(fast.status, 200);
    assert.equal(fast.body.result.output, '2\n');
  });

  it('the same request_id twice gives one task and one run', async () => {
    const request_id = `req-${Date.now()}`;
    const body = { capability: 'pythonExec', input: { code: 'import random; print(random.random())' }, mode: 'sync', request_id };
    const a = await task(body);
    const b = await task(body);
    assert.equal(a.status, 200);
    assert.equal(b.status, 200);
    assert.equal(a.body.task_id, b.body.task_id);
    assert.equal(a.body.request_id, request_id);
    assert.equal(a.body.result.output, b.body.result.output, 'the second call must not run the code again');
    const runs = await platform.api.deps.client.workflow.count(`WorkflowId = '${a.body.task_id}'`);
    assert.equal(runs.count, 1);
    const history = await platform.api.deps.client.workflow.getHandle(a.body.task_id).fetchHistory();
    const started = history.events!.filter((e) => e.activityTaskStartedEventAttributes);
    assert.equal(started.length, 1);
  });

  it('cancel answers 200, ends the task as canceled and kills its container', async () => {
    const r = await task({ capability: 'pythonExec', input: { code: 'import time; time.sleep(120)' }, mode: 'async' });
    await eventually('code to be running', async () => (await containersRunningUserCode(platform.workerId('w-main'))).length > 0);
    const c = await call('POST', `/api/v1/tasks/${r.body.task_id}/cancel`, { token });
    assert.equal(c.status, 200);
    const g = await eventually('task to be canceled', async () => {
      const x = await call('GET', `/api/v1/tasks/${r.body.task_id}`, { token });
      return x.body.status === 'canceled' && x;
    });
    assert.equal(g.body.error.code, 'canceled');
    await eventually('the container to die', async () => (await containersRunningUserCode(platform.workerId('w-main'))).length === 0);
    const again = await call('POST', `/api/v1/tasks/${r.body.task_id}/cancel`, { token });
    assert.equal(again.status, 409);
    assert.equal(again.body.status, 'canceled');
  });

  it('a timeout answers 504 with status timeout and leaves no code running', async () => {
    const r = await task({ capability: 'pythonExec', input: { code: 'while True: pass' }, mode: 'sync', timeout_ms: 1500 });
    assert.equal(r.status, 504);
    assert.equal(r.body.status, 'timeout');
    assert.equal(r.body.error.code, 'timeout');
    await eventually('no code running', async () => (await containersRunningUserCode(platform.workerId('w-main'))).length === 0);
    const history = await platform.api.deps.client.workflow.getHandle(r.body.task_id).fetchHistory();
    assert.equal(history.events!.filter((e) => e.activityTaskStartedEventAttributes).length, 1, 'user timeouts are not retried');
  });

  it('lists the account\'s tasks newest first, with filters', async () => {
    const mine = await task({ capability: 'echo', input: { message: 'listed' }, mode: 'sync' });
    const list = await eventually('task in visibility', async () => {
      const l = await call('GET', '/api/v1/tasks?capability=echo&page_size=5', { token });
      return l.body.items?.some((t: { task_id: string }) => t.task_id === mine.body.task_id) && l;
    });
    assert.equal(list.status, 200);
    assert.ok(list.body.total >= 1);
    assert.ok(list.body.items.every((t: { capability: string }) => t.capability === 'echo'));
    const anyCase = await call('GET', '/api/v1/tasks?capability=ECHO&page_size=5', { token });
    assert.deepEqual(anyCase.body.items.map((t: { task_id: string }) => t.task_id), list.body.items.map((t: { task_id: string }) => t.task_id), 'the filter matches in any case');
    const other = await newToken();
    const theirs = await call('GET', `/api/v1/tasks/${mine.body.task_id}`, { token: other });
    assert.equal(theirs.status, 200, 'same account, other token');
  });

  it('answers 404 for unknown task ids', async () => {
    assert.equal((await call('GET', '/api/v1/tasks/task_00000000000000000000000000000000', { token })).status, 404);
    assert.equal((await call('GET', '/api/v1/tasks/nonsense', { token })).status, 404);
    assert.equal((await call('POST', '/api/v1/tasks/task_00000000000000000000000000000000/cancel', { token })).status, 404);
  });

  it('POST /commands/echo round-trips through a worker', async () => {
    const r = await call('POST', '/api/v1/commands/echo', { token, body: { message: 'hello' } });
    assert.equal(r.status, 200);
    assert.deepEqual(r.body, { message: 'hello' });
  });

  it('healthz and readyz report the process, Temporal and the database', async () => {
    assert.equal((await call('GET', '/healthz')).status, 200);
    const ready = await call('GET', '/readyz');
    assert.equal(ready.status, 200);
    assert.deepEqual(ready.body, { status: 'ready', database: true, temporal: true });
  });

  it('exposes Prometheus metrics of requests and started tasks', async () => {
    const r = await call('GET', '/metrics');
    assert.equal(r.status, 200);
    assert.match(r.body, /durabox_tasks_started_total\{capability="pythonExec"\} [1-9]/);
    assert.match(r.body, /durabox_http_request_duration_seconds_count\{method="POST",route="\/api\/v1\/tasks\/?",status="200"\}/);
  });

  it('keeps metrics behind a token when DURABOX_METRICS_TOKEN is set', async () => {
    platform.config.api.metricsToken = 'metrics-secret-for-the-test';
    try {
      assert.equal((await call('GET', '/metrics')).status, 401);
      assert.equal((await call('GET', '/metrics', { headers: { authorization: 'Bearer wrong' } })).status, 401);
      const ok = await call('GET', '/metrics', { headers: { authorization: 'Bearer metrics-secret-for-the-test' } });
      assert.equal(ok.status, 200);
      assert.match(ok.body, /durabox_tasks_started_total/);
    } finally {
      platform.config.api.metricsToken = undefined;
    }
  });
});
