// The control worker runs durabox's workflows. It lives in the API process and shares its Temporal
// connection, so a task's first workflow task is handed back eagerly with the start call.
import { existsSync } from 'node:fs';
import { Worker, type NativeConnection } from '@temporalio/worker';
import type { Config } from './config.js';
import { CONTROL_TASK_QUEUE } from '../workflows/shared.js';
import { repoRoot, workflowBundlePath } from './paths.js';
import { join } from 'node:path';
import type { ControlActivities } from '../activities/control.js';

export async function createControlWorker(connection: NativeConnection, config: Config, activities: ControlActivities): Promise<Worker> {
  return Worker.create({
    connection,
    namespace: config.temporalNamespace,
    taskQueue: CONTROL_TASK_QUEUE,
    activities,
    identity: `durabox-control@${process.pid}`,
    // Built ahead of time by `npm run build`; bundling at start-up is the slow fallback.
    ...(existsSync(workflowBundlePath)
      ? { workflowBundle: { codePath: workflowBundlePath } }
      : { workflowsPath: join(repoRoot, 'workflows', 'index.ts') }),
    maxCachedWorkflows: 2000,
    maxConcurrentWorkflowTaskExecutions: 100,
  });
}
