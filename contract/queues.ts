// Task queue names: the control worker's, one per runtime, and one per host for session-bound steps.
export const CONTROL_TASK_QUEUE = 'durabox-control';
export const runtimeTaskQueue = (runtime: string): string => `durabox-runtime-${runtime}`;
export const hostTaskQueue = (workerId: string): string => `durabox-host-${workerId}`;
/** A step on a shared queue, whichever host takes it: the host a grant names for it (control/host-grants.ts). */
export const ANY_HOST = '*';
