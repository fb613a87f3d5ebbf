// The floor: the least a task can cost in Temporal with the Node SDK. A workflow that runs one no-op
// activity on another worker's queue and returns its result, as a task does without its sandbox.
import { proxyActivities } from '@temporalio/workflow';

export const FLOOR_ACTIVITY_QUEUE = 'bench-floor-activities';

const { noop } = proxyActivities<{ noop(n: number): Promise<number> }>({ taskQueue: FLOOR_ACTIVITY_QUEUE, startToCloseTimeout: '30s' });

export async function floorWorkflow(n: number): Promise<number> {
  return noop(n);
}
