// Names and shapes shared by workflows, activities, workers and the API. No I/O here: workflow code
// imports this file, so it must stay deterministic.
import { defineSearchAttributeKey } from '@temporalio/common';

export const CONTROL_TASK_QUEUE = 'durabox-control';
export const runtimeTaskQueue = (runtime: string): string => `durabox-runtime-${runtime}`;
export const hostTaskQueue = (workerId: string): string => `durabox-host-${workerId}`;

/** Search attributes every durabox workflow carries, so operators can filter in the Temporal UI. */
export const SA_ACCOUNT = defineSearchAttributeKey('DuraboxAccount', 'KEYWORD');
export const SA_CAPABILITY = defineSearchAttributeKey('DuraboxCapability', 'KEYWORD');
export const SA_RUNTIME = defineSearchAttributeKey('DuraboxRuntime', 'KEYWORD');
export const SA_SESSION = defineSearchAttributeKey('DuraboxSession', 'KEYWORD');
/** Set when a task fails: its error code (timeout, no_capacity, …), so lists and filters need no history. */
export const SA_ERROR = defineSearchAttributeKey('DuraboxError', 'KEYWORD');
export const SEARCH_ATTRIBUTES = [SA_ACCOUNT, SA_CAPABILITY, SA_RUNTIME, SA_SESSION, SA_ERROR];

export const CAPABILITIES = ['pythonExec', 'echo'] as const;
export type Capability = (typeof CAPABILITIES)[number];

/** Which runtime's workers serve a capability. Echo is a round trip through a python host. */
export const CAPABILITY_RUNTIME: Record<Capability, string> = {
  pythonExec: 'python',
  echo: 'python',
};

/** Failure types a task can end with; the API maps them to HTTP status codes. */
export type TaskErrorCode = 'timeout' | 'no_capacity' | 'no_worker' | 'execution_failed' | 'invalid_input';

export interface PythonExecInput { code: string; timeout_ms: number }
export interface PythonExecOutput {
  output: string;
  stderr: string;
  exit_code: number;
  stdout_truncated: boolean;
  stderr_truncated: boolean;
}
export interface EchoInput { message: string; timeout_ms?: number }
export interface EchoOutput { message: string }

export interface TaskWorkflowInput {
  capability: Capability;
  input: unknown;
  timeoutMs: number;
  /** How long an activity may go silent before Temporal gives it to another worker. */
  heartbeatTimeoutMs: number;
  /** How long the task may wait for a free worker before it fails with no_capacity. */
  queueTimeoutMs: number;
  /** Set by the API when it already knows no online worker serves the runtime. */
  unavailable?: 'no_worker';
}
