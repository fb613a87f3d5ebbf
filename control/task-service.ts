// Tasks are Temporal workflows: the task id is the workflow id, its state is the workflow's state.
// This module starts them, waits for them, reads them back and maps them to the REST task body.
import { createHash } from 'node:crypto';
import {
  type Client, type WorkflowHandle, WorkflowFailedError, WorkflowExecutionAlreadyStartedError, WorkflowNotFoundError,
} from '@temporalio/client';
import { ApplicationFailure, CancelledFailure, TerminatedFailure, TimeoutFailure } from '@temporalio/common';
import proto from '@temporalio/proto';

const { temporal } = proto;
import type { ApiSettings } from '../config/index.js';
import { runtimeFor, type Capability } from '../contract/capabilities.js';
import { ERROR_TABLE } from '../contract/errors.js';
import { CONTROL_TASK_QUEUE } from '../contract/queues.js';
import { SA_ACCOUNT, SA_CAPABILITY, SA_ERROR, SA_RUNTIME } from '../contract/search-attributes.js';
import type { TaskBody, TaskStatus } from '../contract/schemas.js';
import type { WorkerStore } from '../db/workers.js';
import { taskWorkflow } from '../workflows/task.js';
import { tasksStarted } from './metrics.js';
import type { TemplateService } from './template-service.js';
import { fairnessKey, type Quotas } from './quotas.js';
import { listPage, quote } from './visibility.js';
import { ANY_HOST, signGrant } from './host-grants.js';

export type { TaskBody, TaskStatus };
const TIMED_OUT = 'task timed out';
export const TERMINAL: TaskStatus[] = ['succeeded', 'failed', 'canceled', 'timeout'];

export interface StartTaskRequest {
  accountId: string;
  capability: Capability;
  input: unknown;
  timeoutMs: number;
  requestId?: string;
}

type TaskMemo = { request_id?: string | null; timeout_ms?: number };

const TASK_ID = /^task_[0-9a-f]{32}$/;
/** The most attempts of a task's activity (workflows/task.ts): its output grant lasts through all of them. */
const TASK_ATTEMPTS = 5;

export class TaskService {
  private readonly workerSeen = new Map<string, number>();

  constructor(
    private readonly client: Client,
    private readonly config: ApiSettings,
    private readonly workers: WorkerStore,
    private readonly quotas: Quotas,
    private readonly templates: TemplateService,
  ) {}

  /** Starts the task's workflow, or finds the one already started with the same request_id. */
  async start(req: StartTaskRequest): Promise<{ handle: WorkflowHandle<typeof taskWorkflow>; createdAt: Date; existing: boolean }> {
    const runtime = runtimeFor(req.capability, req.input);
    // A template the account lacks, or one not ready, is refused before any task exists.
    const template = await this.templates.resolve(req.accountId, (req.input as { template?: string } | null)?.template, runtime);
    const workflowId = req.requestId
      ? `task_${createHash('sha256').update(`${req.accountId}\0${req.requestId}`).digest('hex').slice(0, 32)}`
      : `task_${createHash('sha256').update(crypto.randomUUID()).digest('hex').slice(0, 32)}`;
    // A request_id whose task already exists joins it (or answers it) even at the limit.
    await this.quotas.admitTask(req.accountId, workflowId, () => this.client.workflow.getHandle(workflowId).describe().then(() => true, () => false));
    const createdAt = new Date();
    const memo: TaskMemo = { request_id: req.requestId ?? null, timeout_ms: req.timeoutMs };
    const queueTimeoutMs = Math.max(5_000, Math.min(req.timeoutMs, 60_000));
    // Whichever host takes the work (a shared queue) may post its output, for as long as the work may take.
    const outputGrant = signGrant(this.config.hashKey!, { k: 'output', s: workflowId, h: ANY_HOST, x: Date.now() + queueTimeoutMs + TASK_ATTEMPTS * (req.timeoutMs + 30_000) + 60_000 });
    try {
      const handle = await this.client.workflow.start(taskWorkflow, {
        workflowId,
        taskQueue: CONTROL_TASK_QUEUE,
        args: [{
          capability: req.capability,
          input: req.input,
          timeoutMs: req.timeoutMs,
          heartbeatTimeoutMs: this.config.activityHeartbeatTimeoutMs,
          queueTimeoutMs,
          unavailable: (await this.runtimeHasWorker(runtime)) ? undefined : 'no_worker',
          ...(template ? { template } : {}),
          outputGrant,
        }],
        memo,
        typedSearchAttributes: [
          { key: SA_ACCOUNT, value: req.accountId },
          { key: SA_CAPABILITY, value: req.capability },
          { key: SA_RUNTIME, value: runtime },
        ],
        // The same request_id while the task runs joins it; after it ended, the start is refused
        // (the id is remembered for the namespace's retention) and we answer with the finished task.
        workflowIdConflictPolicy: 'USE_EXISTING',
        workflowIdReusePolicy: 'REJECT_DUPLICATE',
        // Tasks of one account queue fairly against other accounts' on the shared runtime queues
        // (Temporal's task queue fairness; the activities inherit the key).
        priority: { fairnessKey: fairnessKey(req.accountId) },
        requestEagerStart: this.config.eagerStart,
      });
      tasksStarted.inc({ capability: req.capability });
      return { handle, createdAt, existing: false };
    } catch (e) {
      if (!(e instanceof WorkflowExecutionAlreadyStartedError)) throw e;
      return { handle: this.client.workflow.getHandle(workflowId), createdAt, existing: true };
    }
  }

  /**
   * Waits up to `waitMs` (or for the end, when undefined) and returns the task body. The workflow's
   * result is long-polled from Temporal, so a finished task answers at once.
   */
  async await(handle: WorkflowHandle, accountId: string, base: Omit<TaskBody, 'status' | 'updated_at'>, waitMs?: number): Promise<TaskBody> {
    const outcome = handle.result().then(
      (result) => ({ done: true as const, result }),
      (error: unknown) => ({ done: true as const, error }),
    );
    let timer: NodeJS.Timeout | undefined;
    const waited = waitMs === undefined
      ? await outcome
      : await Promise.race([outcome, new Promise<{ done: false }>((r) => { timer = setTimeout(() => r({ done: false }), waitMs); })]);
    clearTimeout(timer);
    if (!waited.done) return (await this.get(handle.workflowId, accountId))!;
    this.quotas.taskEnded(accountId, handle.workflowId);
    const now = new Date().toISOString();
    if ('error' in waited) {
      if (waited.error instanceof WorkflowFailedError) {
        return { ...base, ...statusOfFailure(waited.error), updated_at: now, completed_at: now };
      }
      throw waited.error;
    }
    return { ...base, status: 'succeeded', result: waited.result, updated_at: now, completed_at: now };
  }

  /** Waits for a task of the account to end and answers its final snapshot (undefined when not the account's). */
  async final(taskId: string, accountId: string): Promise<TaskBody | undefined> {
    await this.client.workflow.getHandle(taskId).result().catch(() => undefined);
    return this.get(taskId, accountId);
  }

  /** The task as the account sees it; undefined when unknown or another account's. */
  async get(taskId: string, accountId: string): Promise<TaskBody | undefined> {
    if (!TASK_ID.test(taskId)) return undefined;
    const handle = this.client.workflow.getHandle(taskId);
    let d;
    try {
      d = await handle.describe();
    } catch (e) {
      if (e instanceof WorkflowNotFoundError) return undefined;
      throw e;
    }
    if (d.typedSearchAttributes.get(SA_ACCOUNT) !== accountId || d.type !== 'taskWorkflow') return undefined;
    const memo = (d.memo ?? {}) as TaskMemo;
    const base = baseBody(taskId, d.typedSearchAttributes.get(SA_CAPABILITY) ?? 'unknown', memo, d.startTime);
    const status = d.status.name;
    if (status === 'RUNNING') {
      const started = d.raw.pendingActivities?.some((a) => a.state === temporal.api.enums.v1.PendingActivityState.PENDING_ACTIVITY_STATE_STARTED);
      return { ...base, status: started ? 'running' : 'queued', updated_at: d.startTime.toISOString(), status_url: statusUrl(taskId) };
    }
    const closed = (d.closeTime ?? new Date()).toISOString();
    const ended = { updated_at: closed, completed_at: closed };
    if (status === 'COMPLETED') return { ...base, status: 'succeeded', result: await handle.result(), ...ended };
    if (status === 'TIMED_OUT') return { ...base, status: 'timeout', error: { code: 'timeout', message: TIMED_OUT }, ...ended };
    if (status === 'CANCELLED' || status === 'TERMINATED') return { ...base, status: 'canceled', error: { code: 'canceled', message: ERROR_TABLE.canceled.message }, ...ended };
    try {
      await handle.result();
    } catch (e) {
      if (e instanceof WorkflowFailedError) return { ...base, ...statusOfFailure(e), ...ended };
      throw e;
    }
    return { ...base, status: 'failed', error: { code: 'execution_failed', message: 'task failed' }, ...ended };
  }

  /** Requests cancellation; the activity hears it through its heartbeat and kills the container. */
  async cancel(taskId: string, accountId: string): Promise<{ accepted: boolean; task: TaskBody } | undefined> {
    const task = await this.get(taskId, accountId);
    if (!task) return undefined;
    if (TERMINAL.includes(task.status)) return { accepted: false, task };
    await this.client.workflow.getHandle(taskId).cancel();
    return { accepted: true, task: (await this.get(taskId, accountId)) ?? task };
  }

  /** The account's tasks, newest first, through Temporal visibility. */
  async list(accountId: string, q: { status?: TaskStatus; capability?: string; page: number; page_size: number }): Promise<{ items: TaskBody[]; total: number; page: number; page_size: number }> {
    const clauses = [`WorkflowType = 'taskWorkflow'`, `${SA_ACCOUNT.name} = ${quote(accountId)}`];
    if (q.capability) clauses.push(`${SA_CAPABILITY.name} = ${quote(q.capability)}`);
    if (q.status) clauses.push(statusClause(q.status));
    return listPage(this.client, clauses.join(' AND '), q.page, q.page_size, (w) =>
      listItem(w.workflowId, w.status.name, w.memo as TaskMemo, w.typedSearchAttributes.get(SA_CAPABILITY), w.typedSearchAttributes.get(SA_ERROR), w.startTime, w.closeTime));
  }

  /** Whether an online worker in the host registry serves the runtime; a yes is cached briefly to keep it off the hot path. */
  async runtimeHasWorker(runtime: string): Promise<boolean> {
    const seen = this.workerSeen.get(runtime) ?? 0;
    if (Date.now() - seen < 2000) return true;
    const online = await this.workers.hasOnlineWorkerFor(runtime);
    if (online) this.workerSeen.set(runtime, Date.now());
    return online;
  }
}

export function baseBody(taskId: string, capability: string, memo: TaskMemo, createdAt: Date): Omit<TaskBody, 'status' | 'updated_at'> {
  return {
    task_id: taskId,
    request_id: memo.request_id ?? null,
    capability,
    created_at: createdAt.toISOString(),
    deadline_at: new Date(createdAt.getTime() + (memo.timeout_ms ?? 60_000)).toISOString(),
  };
}

export function statusUrl(taskId: string): string {
  return `/api/v1/tasks/${taskId}`;
}

function statusOfFailure(e: WorkflowFailedError): Pick<TaskBody, 'status' | 'error'> {
  const cause = e.cause;
  if (cause instanceof CancelledFailure || cause instanceof TerminatedFailure) {
    return { status: 'canceled', error: { code: 'canceled', message: ERROR_TABLE.canceled.message } };
  }
  if (cause instanceof TimeoutFailure) return { status: 'timeout', error: { code: 'timeout', message: TIMED_OUT } };
  const code = (cause instanceof ApplicationFailure && cause.type) || 'execution_failed';
  return { status: code === 'timeout' ? 'timeout' : 'failed', error: { code, message: cause?.message ?? e.message } };
}

function listItem(id: string, status: string, memo: TaskMemo, capability: string | undefined, error: string | undefined, start: Date, close?: Date): TaskBody {
  const base = baseBody(id, capability ?? 'unknown', memo ?? {}, start);
  const ended = close ? { updated_at: close.toISOString(), completed_at: close.toISOString() } : { updated_at: start.toISOString() };
  switch (status) {
    case 'RUNNING': return { ...base, status: 'running', ...ended, status_url: statusUrl(id) };
    case 'COMPLETED': return { ...base, status: 'succeeded', ...ended };
    case 'TIMED_OUT': return { ...base, status: 'timeout', error: { code: 'timeout', message: TIMED_OUT }, ...ended };
    case 'CANCELLED':
    case 'TERMINATED': return { ...base, status: 'canceled', error: { code: 'canceled', message: ERROR_TABLE.canceled.message }, ...ended };
    default: {
      const code = error ?? 'execution_failed';
      return { ...base, status: code === 'timeout' ? 'timeout' : 'failed', error: { code, message: code }, ...ended };
    }
  }
}

function statusClause(status: TaskStatus): string {
  switch (status) {
    case 'queued':
    case 'running': return `ExecutionStatus = 'Running'`;
    case 'succeeded': return `ExecutionStatus = 'Completed'`;
    case 'canceled': return `(ExecutionStatus = 'Canceled' OR ExecutionStatus = 'Terminated')`;
    case 'timeout': return `(ExecutionStatus = 'TimedOut' OR ${SA_ERROR.name} = 'timeout')`;
    case 'failed': return `(ExecutionStatus = 'Failed' AND ${SA_ERROR.name} != 'timeout')`;
  }
}
