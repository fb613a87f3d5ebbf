// The control worker runs durabox's workflows. It lives in the API process and shares its Temporal
// connection, so a task's first workflow task is handed back eagerly with the start call.
import { existsSync } from 'node:fs';
import { Worker, type NativeConnection } from '@temporalio/worker';
import type { PayloadKeys, TemporalSettings } from '../config/index.js';
import { dataConverterOf } from '../temporal/codec.js';
import { tracedWorkerOptions } from '../temporal/tracing.js';
import { tracedWorkflowBundlePath, workflowBundlePath } from '../config/paths.js';
import { CONTROL_TASK_QUEUE } from '../contract/queues.js';
import type { Tracing } from '../telemetry/tracing.js';
import type { ControlActivities } from './activities.js';

export async function createControlWorker(connection: NativeConnection, config: TemporalSettings, activities: ControlActivities, keys?: PayloadKeys, tracing?: Tracing): Promise<Worker> {
  // With tracing, the bundle whose workflows report their spans (through the sink of tracedWorkerOptions).
  const bundle = tracing ? tracedWorkflowBundlePath : workflowBundlePath;
  if (!existsSync(bundle)) throw new Error(`the workflow bundle ${bundle} is missing: run npm run build`);
  return Worker.create({
    connection,
    namespace: config.namespace,
    taskQueue: CONTROL_TASK_QUEUE,
    activities,
    dataConverter: dataConverterOf(keys),
    identity: `durabox-control@${process.pid}`,
    // Built ahead of time by `npm run build`, so the API starts without bundling.
    workflowBundle: { codePath: bundle },
    maxCachedWorkflows: 2000,
    maxConcurrentWorkflowTaskExecutions: 100,
    ...tracedWorkerOptions(tracing, { workflows: true }),
  });
}
