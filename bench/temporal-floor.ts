// What Temporal and its Node SDK cost a task by themselves on this machine, measured beside the platform
// on the same dev server: a bare workflow (eager start, as the API starts tasks) whose one no-op activity
// runs on a second worker with its own connection (as a runtime worker is), its result awaited as the API
// awaits a task's. No durabox code runs in it; the difference to pythonExec is durabox's own.
import { fileURLToPath } from 'node:url';
import { Client } from '@temporalio/client';
import { bundleWorkflowCode, NativeConnection, Worker } from '@temporalio/worker';
import { FLOOR_ACTIVITY_QUEUE, floorWorkflow } from './floor-workflow.js';
import type { TimedRun } from './latency-parts.js';
import type { Operation } from './load.js';

const FLOOR_WORKFLOW_QUEUE = 'bench-floor-workflows';
const quiet = { log() {}, trace() {}, debug() {}, info() {}, warn() {}, error() {} };

export interface TemporalFloor {
  /** One floor run, timed by the caller; its workflow goes into `runs` for the split by part. */
  op: Operation;
  runs: TimedRun[];
  client: Client;
  /** Ends the floor's workers once it is measured, so their pollers cost nothing in the later windows; the client stays. */
  retire(): Promise<void>;
  stop(): Promise<void>;
}

export async function startTemporalFloor(address: string, namespace: string): Promise<TemporalFloor> {
  const workflowConnection = await NativeConnection.connect({ address });
  const activityConnection = await NativeConnection.connect({ address });
  const workflowBundle = await bundleWorkflowCode({ workflowsPath: fileURLToPath(new URL('./floor-workflow.js', import.meta.url)), logger: quiet });
  const workflows = await Worker.create({ connection: workflowConnection, namespace, taskQueue: FLOOR_WORKFLOW_QUEUE, workflowBundle });
  const activities = await Worker.create({ connection: activityConnection, namespace, taskQueue: FLOOR_ACTIVITY_QUEUE, activities: { noop: async (n: number) => n } });
  const running = Promise.all([workflows.run(), activities.run()]);
  const client = new Client({ connection: workflowConnection, namespace });
  const runs: TimedRun[] = [];
  let n = 0;
  const op: Operation = async () => {
    const k = n++;
    const workflowId = `bench-floor-${process.pid}-${k}`;
    const sentMs = Date.now();
    const handle = await client.workflow.start(floorWorkflow, { taskQueue: FLOOR_WORKFLOW_QUEUE, workflowId, args: [k], requestEagerStart: true });
    if ((await handle.result()) !== k) throw new Error('the floor workflow answered another number');
    runs.push({ workflowId, sentMs, answeredMs: Date.now() });
  };
  let retiring: Promise<void> | undefined;
  const retire = () => (retiring ??= (async () => {
    workflows.shutdown();
    activities.shutdown();
    await running;
  })());
  return {
    op, runs, client, retire,
    async stop() {
      await retire();
      await workflowConnection.close();
      await activityConnection.close();
    },
  };
}
