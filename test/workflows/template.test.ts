// templateBuildWorkflow against a real (local) Temporal server with mocked hosts: one build per online
// host on the host's own queue, each host's answer recorded, ready only when every host that answered
// has the image, failed with the failing host named, and a host that never takes its build left out.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import type { TemplateActivities } from '../../activities/templates.js';
import type { ControlActivities } from '../../control/activities.js';
import { CONTROL_TASK_QUEUE, hostTaskQueue } from '../../contract/queues.js';
import type { TemplateBuildResult, TemplateRef, TemplateStatus } from '../../contract/templates.js';
import { WorkflowFailedError } from '@temporalio/client';
import { createTemplateActivities } from '../../activities/templates.js';
import type { TemplateImages } from '../../sandbox/template-images.js';
import { templateBuildWorkflow, templatePruneWorkflow } from '../../workflows/template.js';
import { deferred, startTestEnv, startWorker, stopAll, type RunningWorker } from './support/env.js';

const REF: TemplateRef = { name: 'tab', base: 'python', image: 'durabox-template/python:test', packages: { pip: ['tabulate'], npm: [], apt: [] }, network: 'none' };

describe('templateBuildWorkflow', function () {
  this.timeout(30_000);
  let env: TestWorkflowEnvironment;
  let control: RunningWorker | undefined;
  let hosts: RunningWorker[] = [];
  let online: string[] = [];
  let recorded: Array<{ nodeId: string; status: TemplateStatus; log: string }> = [];
  let finished: Array<{ status: TemplateStatus; error: string | null }> = [];

  before(async function () {
    this.timeout(120_000);
    env = await startTestEnv();
    const activities: ControlActivities = {
      templateHosts: async () => online,
      recordTemplateHost: async (r) => { recorded.push(r); },
      finishTemplate: async (r) => { finished.push(r); },
      dropSessionSnapshot: async () => undefined,
      signSnapshotGrant: async () => { throw new Error('not expected in this test'); },
      hostSilentMs: async () => { throw new Error('not expected in this test'); },
      terminalExecInSession: async () => { throw new Error('not expected in this test'); },
      runCodeInSession: async () => { throw new Error('not expected in this test'); },
    };
    control = await startWorker(env, CONTROL_TASK_QUEUE, activities, { workflows: true });
  });
  after(async function () {
    this.timeout(60_000);
    await stopAll([control]);
    await env?.teardown();
  });
  afterEach(async () => {
    await stopAll(hosts);
    hosts = [];
    recorded = [];
    finished = [];
  });

  async function host(id: string, answer: TemplateBuildResult): Promise<string> {
    const h = `${id}-${randomUUID().slice(0, 8)}`;
    const activities: TemplateActivities = { buildTemplate: async (ref) => { assert.deepEqual(ref, REF); return answer; }, pruneTemplateImage: async () => true };
    hosts.push(await startWorker(env, hostTaskQueue(h), activities));
    return h;
  }
  const build = () => env.client.workflow.execute(templateBuildWorkflow, {
    workflowId: `template-build-${randomUUID()}`, taskQueue: CONTROL_TASK_QUEUE,
    args: [{ templateId: 'tpl_test', ref: REF, hostTimeoutMs: 1_500, buildTimeoutMs: 10_000 }],
  });
  const final = (nodeId: string) => recorded.filter((r) => r.nodeId === nodeId).at(-1);

  it('builds on every online host of the base and is ready when all of them have it', async () => {
    online = [await host('a', { ok: true, seconds: 3, log: 'Successfully installed tabulate' }), await host('b', { ok: true, seconds: 0, log: 'already on this host' })];
    assert.equal(await build(), 'ready');
    for (const h of online) assert.equal(final(h)?.status, 'ready');
    assert.match(final(online[0])!.log, /tabulate/);
    assert.deepEqual(finished, [{ templateId: 'tpl_test', status: 'ready', error: null }]);
  });

  it('fails naming the host whose build failed, with its log recorded', async () => {
    online = [await host('ok', { ok: true, seconds: 1, log: '' }), await host('bad', { ok: false, seconds: 1, log: 'ERROR: No matching distribution found' })];
    assert.equal(await build(), 'failed');
    assert.equal(final(online[1])?.status, 'failed');
    assert.match(final(online[1])!.log, /No matching distribution/);
    assert.match(finished[0].error!, new RegExp(`failed on ${online[1]}`));
  });

  it('leaves out a host that never takes its build (it builds when it comes back), and fails with no host at all', async () => {
    const gone = `gone-${randomUUID().slice(0, 8)}`;
    online = [await host('up', { ok: true, seconds: 1, log: '' }), gone];
    assert.equal(await build(), 'ready');
    assert.equal(final(gone)?.status, 'building');
    assert.match(final(gone)!.log, /went away/);
    finished = [];
    online = [];
    assert.equal(await build(), 'failed');
    assert.match(finished[0].error!, /no online host serves the python runtime/);
  });

  it('a cancelled build (its template deleted) reaches the host\'s build through heartbeats, and the workflow ends once the host stopped', async () => {
    let stopped: unknown;
    const started = deferred();
    // The real activity around a build that runs until it is told to stop.
    const images = {
      ensure: (_ref: TemplateRef, signal?: AbortSignal) => new Promise((_resolve, reject) => {
        started.resolve();
        signal!.addEventListener('abort', () => { stopped = signal!.reason; reject(signal!.reason); }, { once: true });
      }),
      prune: async () => true,
    } as unknown as TemplateImages;
    const h = `slow-${randomUUID().slice(0, 8)}`;
    hosts.push(await startWorker(env, hostTaskQueue(h), createTemplateActivities({ images, imageWanted: async () => false, evictPools: async () => undefined })));
    online = [h];
    const handle = await env.client.workflow.start(templateBuildWorkflow, {
      workflowId: `template-build-${randomUUID()}`, taskQueue: CONTROL_TASK_QUEUE,
      args: [{ templateId: 'tpl_test', ref: REF, hostTimeoutMs: 5_000, buildTimeoutMs: 60_000 }],
    });
    await started.promise;
    await handle.cancel();
    await assert.rejects(handle.result(), (e) => e instanceof WorkflowFailedError);
    assert.ok(stopped !== undefined, 'the host\'s build saw the cancellation before the workflow ended');
    assert.equal((await handle.describe()).status.name, 'CANCELLED');
    assert.deepEqual(finished, [], 'a deleted template gets no outcome');
  });

  it('the prune workflow asks every online host of the base to remove the image', async () => {
    const asked: string[] = [];
    const hs = [`p1-${randomUUID().slice(0, 8)}`, `p2-${randomUUID().slice(0, 8)}`];
    for (const h of hs) {
      hosts.push(await startWorker(env, hostTaskQueue(h), { buildTemplate: async () => ({ ok: true, seconds: 0, log: '' }), pruneTemplateImage: async (image: string) => { asked.push(`${h} ${image}`); return true; } }));
    }
    online = hs;
    const removed = await env.client.workflow.execute(templatePruneWorkflow, { workflowId: `template-prune-${randomUUID()}`, taskQueue: CONTROL_TASK_QUEUE, args: [{ image: REF.image, base: 'python' }] });
    assert.equal(removed, 2);
    assert.deepEqual(asked.sort(), hs.map((h) => `${h} ${REF.image}`).sort());
  });
});
