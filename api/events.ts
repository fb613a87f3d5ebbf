// Server-Sent Events (spec §3.3): output chunks as the work writes them, then one `result` event (or an
// `error` event), then the end. Chunks come from the output store, which every API process hears of,
// so a stream may be read from any API process whichever one the worker posted to.
import { randomUUID } from 'node:crypto';
import type { Context } from 'koa';
import { DuraboxError, ERROR_TABLE } from '../contract/errors.js';
import type { TaskBody } from '../contract/schemas.js';
import type { OutputStore } from '../db/output.js';
import { TERMINAL } from '../control/task-service.js';
import type { AppDeps } from './context.js';
import { ErrorAnswer } from './errors.js';

/** A stream id for work that has no task id of its own (a command in a session). */
export function newStreamId(): string {
  return `cmd_${randomUUID().replaceAll('-', '')}`;
}

/** Whether the caller asked for an event stream (`Accept: text/event-stream`). */
export function wantsEvents(ctx: Context): boolean {
  return /\btext\/event-stream\b/i.test(ctx.get('accept'));
}

/** Comment lines keep idle connections (and proxies in between) from timing out. */
const KEEPALIVE_MS = 15_000;

/** An open event stream on the response; from here on failures are `error` events, not statuses. */
export class EventStream {
  private readonly keepalive: NodeJS.Timeout;
  closed = false;

  constructor(private readonly ctx: Context) {
    ctx.respond = false;
    ctx.req.socket.setNoDelay(true);
    ctx.res.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-cache, no-transform',
      'x-accel-buffering': 'no',
      connection: 'keep-alive',
    });
    ctx.res.flushHeaders();
    ctx.res.on('close', () => { this.closed = true; });
    this.keepalive = setInterval(() => this.write(': keepalive\n\n'), KEEPALIVE_MS);
  }

  send(event: string, data: unknown, id?: number): void {
    this.write(`${id === undefined ? '' : `id: ${id}\n`}event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
  }

  end(): void {
    clearInterval(this.keepalive);
    if (!this.closed) this.ctx.res.end();
    this.closed = true;
  }

  private write(text: string): void {
    if (!this.closed) this.ctx.res.write(text);
  }
}

/** `stdout` / `stderr` events for every chunk of the stream, as they arrive; `relayed` counts them. */
function relay(output: OutputStore, streamId: string, es: EventStream) {
  let relayed = 0;
  const follow = output.follow(streamId, (c) => {
    relayed++;
    es.send(c.stream, { text: c.text }, c.seq);
  });
  return { ...follow, relayed: () => relayed };
}

/**
 * Work that ended before its first chunks were posted (the worker posts nothing for it: its result came
 * as soon as they would have) streams the output its result holds, so every stream shows the output.
 */
function replayOutput(es: EventStream, value: unknown): void {
  for (const c of outputOf(value)) es.send(c.stream, { text: c.text });
}

/** The output a result holds (pythonExec, a terminal command, a cell), as the chunks it would have streamed. */
export function outputOf(value: unknown): Array<{ stream: 'stdout' | 'stderr'; text: string }> {
  const v = (value ?? {}) as { output?: unknown; stdout?: unknown; stderr?: unknown; logs?: { stdout?: unknown; stderr?: unknown } };
  const text = (x: unknown) => (Array.isArray(x) ? x.join('') : typeof x === 'string' ? x : '');
  const chunks = [
    { stream: 'stdout' as const, text: text(v.logs?.stdout ?? v.output ?? v.stdout) },
    { stream: 'stderr' as const, text: text(v.logs?.stderr ?? v.stderr) },
  ];
  return chunks.filter((c) => c.text !== '');
}

/** A failure as an `error` event: its HTTP status and the body a plain call would have answered. */
function errorEvent(e: unknown): { status: number; body: Record<string, unknown> } {
  if (e instanceof ErrorAnswer) return { status: ERROR_TABLE[e.code].status, body: e.body };
  if (e instanceof DuraboxError) return { status: e.status, body: { error: e.message, code: e.code } };
  console.error('stream failed:', e);
  return { status: ERROR_TABLE.internal.status, body: { error: ERROR_TABLE.internal.message, code: 'internal' } };
}

/**
 * A task as an event stream: `status` first (so a late client knows where the task stands), every chunk
 * written so far and from now on, then `result` with the final snapshot, then the end; whether the task
 * succeeded, failed, was canceled or timed out.
 */
export async function streamTask(deps: AppDeps, ctx: Context, task: TaskBody, accountId: string): Promise<void> {
  const es = new EventStream(ctx);
  es.send('status', { task_id: task.task_id, status: task.status });
  const follow = relay(deps.output, task.task_id, es);
  try {
    const final = TERMINAL.includes(task.status) ? task : await deps.tasks.final(task.task_id, accountId);
    await follow.drain();
    if (follow.relayed() === 0) replayOutput(es, final?.result);
    if (final) es.send('result', final);
  } catch (e) {
    es.send('error', errorEvent(e));
  } finally {
    follow.stop();
    es.end();
  }
}

/**
 * A synchronous command as an event stream: its output under `streamId` while `work` runs, then `result`
 * with what the plain call answers, or `error` with the status and body it would have failed with.
 */
export async function streamCommand<T>(deps: AppDeps, ctx: Context, streamId: string, work: () => Promise<T>): Promise<void> {
  const es = new EventStream(ctx);
  const follow = relay(deps.output, streamId, es);
  try {
    const value = await work();
    await follow.drain();
    if (follow.relayed() === 0) replayOutput(es, value);
    es.send('result', value);
  } catch (e) {
    await follow.drain();
    es.send('error', errorEvent(e));
  } finally {
    follow.stop();
    es.end();
  }
}
