// MCP tasks, backed by the task workflows REST's async tasks run (docs/mcp/tasks.md). A task's id is its
// workflow's id; its state is the workflow's, read from Temporal by whichever API process is asked, so a
// task outlives the process that made it and is kept for the namespace's retention. Two wire shapes of
// the same thing: the 2025-11-25 task-augmented requests (tasks/get, tasks/result, tasks/list,
// tasks/cancel) and the Tasks extension `io.modelcontextprotocol/tasks` of 2026 (tasks/get with the
// result inline, tasks/update, tasks/cancel). Neither SDK line runs tasks for a server that keeps them
// elsewhere: 1.x's runtime keeps them in the serving process (a TaskStore it writes results into), and
// 2.x ships the vocabulary only. So durabox answers these methods itself, inside each SDK's server.
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import type { Capability } from '../contract/capabilities.js';
import { DuraboxError, mcpErrorText } from '../contract/errors.js';
import type { RunCodeOutput } from '../contract/messages.js';
import { baseBody, type TaskBody } from '../control/task-service.js';
import type { AppDeps } from './context.js';

/** The extension's identifier, as clients declare it and servers advertise it. */
export const TASKS_EXTENSION = 'io.modelcontextprotocol/tasks';
const CLIENT_CAPABILITIES = 'io.modelcontextprotocol/clientCapabilities';
export const RELATED_TASK = 'io.modelcontextprotocol/related-task';

/** The tools whose calls may become tasks: the ones that run code, and may run for minutes. */
export const TASK_TOOLS: Readonly<Record<string, Capability>> = { pythonExec: 'pythonExec', terminalExec: 'terminalExec', runCode: 'runCode' };

/** What a tool's description says about tasks, so an agent's host knows it may ask for one. */
export const TASKS_NOTE =
  ' Supports MCP tasks (2025-11-25 task-augmented calls and the io.modelcontextprotocol/tasks extension): a client that asks gets a task ' +
  'at once and polls it, so a run longer than the client\'s request timeout still ends in its result; the task id is the durabox task id.';

/** How often a client should poll a task that is still working. */
export const POLL_INTERVAL_MS = 1000;

/** The 2025-11-25 shape (`ttl`, `pollInterval`) or the extension's (`ttlMs`, `pollIntervalMs`, the result inline). */
export type TaskShape = '2025' | 'ext';

/** A JSON-RPC error the SDKs pass through as it is (code and message). */
export class TaskProtocolError extends Error {
  constructor(readonly code: number, message: string, readonly data?: unknown) {
    super(message);
  }
}
export const INVALID_PARAMS = -32602;
export const MISSING_CLIENT_CAPABILITY = -32021;

type Message = { method?: unknown; id?: unknown; params?: { task?: unknown; _meta?: Record<string, unknown> } };

/**
 * Which tools/call requests of a body asked for a task, by JSON-RPC id, and in which shape: a 2025-11-25
 * call carries `params.task`; a 2026 call's envelope declares the extension in the client's capabilities.
 */
export function taskAsks(body: unknown): Map<unknown, TaskShape[]> {
  const asks = new Map<unknown, TaskShape[]>();
  for (const m of (Array.isArray(body) ? body : [body]) as Message[]) {
    if (!m || typeof m !== 'object' || m.method !== 'tools/call' || m.id === undefined) continue;
    // Both may be present; the revision that serves the request decides which one counts.
    const shapes: TaskShape[] = [];
    if (m.params?.task && typeof m.params.task === 'object') shapes.push('2025');
    if (declaresTasks(m.params?._meta)) shapes.push('ext');
    if (shapes.length > 0) asks.set(m.id, shapes);
  }
  return asks;
}

/** Whether a 2026 request's envelope declares the Tasks extension among the client's capabilities. */
export function declaresTasks(meta: Record<string, unknown> | undefined): boolean {
  const caps = meta?.[CLIENT_CAPABILITIES] as { extensions?: Record<string, unknown> } | undefined;
  return !!caps?.extensions && typeof caps.extensions === 'object' && Object.hasOwn(caps.extensions, TASKS_EXTENSION);
}

type McpTaskStatus = 'working' | 'completed' | 'cancelled';

/** durabox's task status as MCP's: a failed or timed-out execution is a completed call whose result is an error. */
export function mcpStatus(status: TaskBody['status']): McpTaskStatus {
  if (status === 'queued' || status === 'running') return 'working';
  return status === 'canceled' ? 'cancelled' : 'completed';
}

function statusMessage(t: TaskBody): string {
  switch (t.status) {
    case 'queued': return 'queued: waiting for a worker of its runtime';
    case 'running': return 'running';
    case 'succeeded': return 'finished';
    case 'canceled': return 'cancelled: its sandbox was removed';
    default: return `finished with ${t.error?.code ?? t.status}: the result is an error (isError)`;
  }
}

/**
 * The CallToolResult a plain call would have answered, from the task's end: a failure is a tool result
 * with isError and `<code>: <message>`, as asToolResult makes it.
 */
export function toolResultOfTask(t: TaskBody, codeResult: (out: RunCodeOutput) => CallToolResult): CallToolResult {
  if (t.status === 'succeeded') {
    if (t.capability === 'runCode') return codeResult(t.result as RunCodeOutput);
    const r = (t.result ?? {}) as Record<string, unknown>;
    return { content: [{ type: 'text', text: JSON.stringify(r) }], structuredContent: r };
  }
  const code = t.error?.code ?? (t.status === 'canceled' ? 'canceled' : 'execution_failed');
  return { content: [{ type: 'text', text: mcpErrorText(code, t.error?.message ?? code) }], isError: true };
}

/** The task in the asked shape; the extension's carries the result once completed. */
export function taskView(t: TaskBody, shape: TaskShape, ttlMs: number, codeResult: (out: RunCodeOutput) => CallToolResult): Record<string, unknown> {
  const status = mcpStatus(t.status);
  const common = { taskId: t.task_id, status, statusMessage: statusMessage(t), createdAt: t.created_at, lastUpdatedAt: t.updated_at };
  if (shape === '2025') return { ...common, ttl: ttlMs, ...(status === 'working' ? { pollInterval: POLL_INTERVAL_MS } : {}) };
  return { ...common, ttlMs, pollIntervalMs: POLL_INTERVAL_MS, ...(status === 'completed' ? { result: toolResultOfTask(t, codeResult) } : {}) };
}

/** The task methods for one caller, over TaskService (a describe or result of the workflow in Temporal). */
export class McpTasks {
  constructor(private readonly deps: AppDeps, private readonly accountId: string, private readonly codeResult: (out: RunCodeOutput) => CallToolResult) {}

  private get ttlMs(): number {
    return this.deps.temporal.retentionDays * 86_400_000;
  }

  /** Starts the tool's task workflow and answers it as a created task (tools/call asked for one). */
  async create(tool: string, args: { timeout_ms: number }, shape: TaskShape): Promise<Record<string, unknown>> {
    const capability = TASK_TOOLS[tool];
    if (!capability) throw new TaskProtocolError(INVALID_PARAMS, `${tool} does not run as a task (tools that do: ${Object.keys(TASK_TOOLS).join(', ')})`);
    // The workflow's start returns once Temporal has it, so a tasks/get right after finds it (SEP-2663 asks that).
    const { handle, createdAt } = await this.deps.tasks.start({ accountId: this.accountId, capability, input: args, timeoutMs: args.timeout_ms });
    const body: TaskBody = { ...baseBody(handle.workflowId, capability, { timeout_ms: args.timeout_ms }, createdAt), status: 'queued', updated_at: createdAt.toISOString() };
    const view = taskView(body, shape, this.ttlMs, this.codeResult);
    return shape === '2025' ? { task: view } : { resultType: 'task', ...view };
  }

  async get(taskId: unknown, shape: TaskShape): Promise<Record<string, unknown>> {
    return taskView(await this.find(taskId), shape, this.ttlMs, this.codeResult);
  }

  /** tasks/result (2025-11-25): waits for the end, then the call's own result, marked with its task. */
  async result(taskId: unknown): Promise<CallToolResult> {
    const id = (await this.find(taskId)).task_id;
    const ended = await this.deps.tasks.final(id, this.accountId);
    if (!ended) throw new TaskProtocolError(INVALID_PARAMS, `task not found: ${id}`); // gone with the retention meanwhile
    const r = toolResultOfTask(ended, this.codeResult);
    return { ...r, _meta: { ...(r._meta ?? {}), [RELATED_TASK]: { taskId: id } } };
  }

  /** tasks/list (2025-11-25): the account's tasks, newest first; the cursor is the next page's number. */
  async list(cursor: unknown): Promise<Record<string, unknown>> {
    const page = cursor === undefined ? 1 : Number(cursor);
    if (!Number.isInteger(page) || page < 1) throw new TaskProtocolError(INVALID_PARAMS, `invalid cursor ${JSON.stringify(cursor)}: pass the nextCursor of the previous page`);
    const p = await this.deps.tasks.list(this.accountId, { page, page_size: 50 });
    return {
      tasks: p.items.map((t) => taskView(t, '2025', this.ttlMs, this.codeResult)),
      ...(page * p.page_size < p.total ? { nextCursor: String(page + 1) } : {}),
    };
  }

  /** Cancels the workflow (its activity kills the sandbox) and waits briefly for it to end, so the answer says cancelled. */
  async cancel(taskId: unknown, shape: TaskShape): Promise<Record<string, unknown>> {
    if (typeof taskId !== 'string') throw new TaskProtocolError(INVALID_PARAMS, 'taskId must be a string');
    const id = taskId;
    // TaskService.cancel reads the task first (undefined when unknown or another account's).
    const done = await this.deps.tasks.cancel(id, this.accountId);
    if (!done) throw new TaskProtocolError(INVALID_PARAMS, `task not found: ${id}`);
    // 2025-11-25: a task already in a terminal status cannot be cancelled (-32602); the extension only acknowledges.
    if (!done.accepted && shape === '2025') {
      throw new TaskProtocolError(INVALID_PARAMS, `cannot cancel task ${id}: it is already ${mcpStatus(done.task.status)}`);
    }
    if (done.accepted) {
      await Promise.race([this.deps.tasks.final(id, this.accountId), new Promise((r) => setTimeout(r, 10_000).unref())]);
    }
    if (shape === 'ext') return {};
    return taskView(await this.find(id), shape, this.ttlMs, this.codeResult);
  }

  /** tasks/update (extension): durabox never asks for input, so there is nothing to take; the task must exist. */
  async update(taskId: unknown): Promise<Record<string, unknown>> {
    await this.find(taskId);
    return {};
  }

  private async find(taskId: unknown): Promise<TaskBody> {
    if (typeof taskId !== 'string') throw new TaskProtocolError(INVALID_PARAMS, 'taskId must be a string');
    const t = await this.deps.tasks.get(taskId, this.accountId).catch((e: unknown) => {
      if (e instanceof DuraboxError) throw new TaskProtocolError(INVALID_PARAMS, e.message);
      throw e;
    });
    if (!t) throw new TaskProtocolError(INVALID_PARAMS, `task not found: ${taskId}`);
    return t;
  }
}
