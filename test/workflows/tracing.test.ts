// The traced workflow bundle must run and replay as the plain one does: its OpenTelemetry interceptors
// (workflows/tracing-interceptors.ts) may not draw from the workflow's random stream, or a replay, which
// never runs update validators again, would compute other uuid4() values than the original run.
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import proto from '@temporalio/proto';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { DefaultLogger, Worker, bundleWorkflowCode, type InjectedSinks, type WorkflowBundle } from '@temporalio/worker';
import { repoRoot } from '../../config/paths.js';
import { poke } from './support/random-probe.js';
import { startTestEnv, workflowsPath } from './support/env.js';

const probePath = fileURLToPath(new URL('./support/random-probe.js', import.meta.url));
const durabox = fileURLToPath(new URL('../../workflows/tracing-interceptors.js', import.meta.url));
const sdkOnly = createRequire(import.meta.url).resolve('@temporalio/interceptors-opentelemetry/lib/workflow-interceptors');
/** The workflows' spans go nowhere here; the sink only has to exist. */
const sinks: InjectedSinks<any> = { exporter: { export: { fn: () => undefined } } };

const bundleOf = async (path: string, interceptorModule: string): Promise<WorkflowBundle> =>
  ({ code: (await bundleWorkflowCode({ workflowsPath: path, workflowInterceptorModules: [interceptorModule], logger: new DefaultLogger('ERROR') })).code });

describe('traced workflow bundle', function () {
  this.timeout(120_000);
  let env: TestWorkflowEnvironment;
  before(async () => { env = await startTestEnv(); });
  after(async () => { await env?.teardown(); });

  /** Runs the probe with `bundle` on a worker, and answers its history. */
  async function probeHistory(bundle: WorkflowBundle, queue: string) {
    const worker = await Worker.create({
      connection: env.nativeConnection, taskQueue: queue, workflowBundle: bundle, sinks, activities: { probe: async () => undefined },
    });
    return worker.runUntil(async () => {
      const handle = await env.client.workflow.start('randomProbe', { taskQueue: queue, workflowId: `probe-${queue}-${Date.now()}` });
      await handle.executeUpdate(poke);
      await handle.result();
      return handle.fetchHistory();
    });
  }

  const replay = (bundle: WorkflowBundle, history: proto.temporal.api.history.v1.IHistory) =>
    Worker.runReplayHistory({ workflowBundle: bundle, sinks, replayName: 'durabox-tracing' }, history);

  it('replays a run whose update validator made a span (spans draw from their own random stream)', async () => {
    const bundle = await bundleOf(probePath, durabox);
    await replay(bundle, await probeHistory(bundle, 'probe-durabox'));
  });

  it('the SDK\'s interceptors alone fail that replay: the check above can fail', async () => {
    const bundle = await bundleOf(probePath, sdkOnly);
    await assert.rejects(replay(bundle, await probeHistory(bundle, 'probe-sdk')), /[Nn]ondetermin|DeterminismViolation/);
  });

  it('replays every recorded durabox history with tracing on, as without', async () => {
    const dir = join(repoRoot, 'test', 'workflows', 'histories');
    const files = existsSync(dir) ? readdirSync(dir).filter((f) => f.endsWith('.json')) : [];
    assert.ok(files.length > 0, 'recorded histories');
    const bundle = await bundleOf(workflowsPath, durabox);
    for (const f of files) {
      const history = proto.temporal.api.history.v1.History.fromObject(JSON.parse(readFileSync(join(dir, f), 'utf8')));
      await replay(bundle, history).catch((e: Error) => assert.fail(`${f}: ${e.message}`));
    }
  });
});
