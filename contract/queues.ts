// Task queue names: the control worker's, one per runtime, and one per host for session-bound steps.
export const CONTROL_TASK_QUEUE = 'durabox-control';
export const runtimeTaskQueue = (runtime: string): string => `durabox-runtime-${runtime}`;
export const hostTaskQueue = (workerId: string): string => `durabox-host-${workerId}`;
