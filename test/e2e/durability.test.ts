import assert from 'node:assert/strict';
import proto from '@temporalio/proto';
import { call, newToken } from './support/http.js';
import { platform } from './support/hooks.js';
import { eventually } from './support/docker.js';
import { onOwnHosts } from './support/own-hosts.js';
import { LABEL_WORKER } from '../../sandbox/profile.js';

const { temporal } = proto;

describe('durability: Temporal carries tasks across lost workers', function () {
  this.timeout(120_000);
  let token: string;
  onOwnHosts(['w-a', 'w-b']);
  before(async () => { token = await newToken(); });

  it('a runtime worker killed with -9 mid-pythonExec: another worker runs the task and it completes once', async () => {
    const a = await platform.startWorker('w-a');
    // Long enough to outlast starting w-b (2-4 s with both runtimes), so w-a dies mid-execution.
    const r = await call('POST', '/api/v1/tasks', { token, body: { capability: 'pythonExec', input: { code: 'import time\ntime.sleep(8)\nprint("survived")' }, mode: 'async' } });
    assert.equal(r.status, 202);
    const handle = platform.api.deps.client.workflow.getHandle(r.body.task_id);
    await eventually('the activity to start on w-a', async () => {
      const d = await handle.describe();
      const act = d.raw.pendingActivities?.[0];
      return act?.state === temporal.api.enums.v1.PendingActivityState.PENDING_ACTIVITY_STATE_STARTED && act.lastWorkerIdentity === platform.workerId('w-a');
    });
    await platform.startWorker('w-b');
    a.child.kill('SIGKILL');

    const done = await eventually('the task to complete on w-b', async () => {
      const g = await call('GET', `/api/v1/tasks/${r.body.task_id}`, { token });
      return ['succeeded', 'failed', 'timeout', 'canceled'].includes(g.body.status) && g.body;
    }, 60_000);
    assert.equal(done.status, 'succeeded', JSON.stringify(done));
    assert.equal(done.result.output, 'survived\n');

    const events = (await handle.fetchHistory()).events!;
    const started = events.filter((e) => e.activityTaskStartedEventAttributes);
    const completed = events.filter((e) => e.activityTaskCompletedEventAttributes);
    assert.equal(completed.length, 1, 'one result');
    assert.equal(started.length, 1);
    assert.equal(started[0].activityTaskStartedEventAttributes!.attempt, 2, 'the second attempt ran it');
    assert.equal(completed[0].activityTaskCompletedEventAttributes!.identity, platform.workerId('w-b'));

    // The killed worker's sandboxes end with it: their keeper sees stdin close and exits.
    await eventually('w-a containers to be gone', async () => {
      const left = await platform.docker.listContainers({ all: true, filters: { label: [`${LABEL_WORKER}=${platform.workerId('w-a')}`] } });
      return left.length === 0;
    }, 20_000);
  });
});
