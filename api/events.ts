// Server-Sent Events (spec §3.3): output chunks as the work writes them, then one `result` event (or an
// `error` event), then the end. Chunks come from the output store, which every API process hears of,
// so a stream may be read from any API process whichever one the worker posted to.
import { randomUUID } from 'node:crypto';
import type { Context } from 'koa';
import { DuraboxError, ERROR_TABLE } from '../contract/errors.js';
import type { TaskBody } from '../contract/schemas.js';
import type { OutputStore } from '../db/output.js';
import { TERMINAL } from '../control/task-service.js';
import type { AppDeps, AppState } from './context.js';
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

  /** A `stdout` / `stderr` event; its id is the chunk's number in the stream, when it has one. */
  sendOutput(c: OutputPiece): void {
    this.send(c.stream, { text: c.text }, c.seq);
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

/** A piece of output for a listener: numbered when it came from the stream, unnumbered when replayed. */
export interface OutputPiece { stream: 'stdout' | 'stderr'; text: string; seq?: number }

/**
 * Runs `work` while every chunk written under `streamId` goes to `onChunk` as it arrives; when the work
 * ends (or fails), what is stored by then is delivered too. Work that ended before its first chunks
 * went out (the worker posts nothing for it: its result came as soon as they would have) gets the
 * output its result holds (`held` picks the result from the value), so every listener sees the output.
 */
export async function relayingOutput<T>(output: OutputStore, streamId: string, onChunk: (c: OutputPiece) => void, work: () => Promise<T>, held: (value: T) => unknown = (v) => v): Promise<T> {
  let relayed = 0;
  const follow = output.follow(streamId, (c) => {
    relayed++;
    onChunk(c);
  });
  try {
    const value = await work().catch(async (e: unknown) => {
      await follow.drain();
      throw e;
    });
    await follow.drain();
    if (relayed === 0) for (const c of outputOf(held(value))) onChunk(c);
    return value;
  } finally {
    follow.stop();
  }
}

/** The output a result holds (pythonExec, a terminal command, a cell), as the chunks it would have streamed. */
function outputOf(value: unknown): Array<{ stream: 'stdout' | 'stderr'; text: string }> {
  const v = (value ?? {}) as { output?: unknown; stdout?: unknown; stderr?: unknown; logs?: { stdout?: unknown; stderr?: unknown } };
  const text = (x: unknown) => (Array.isArray(x) ? x.join('') : typeof x === 'string' ? x : '');
  const chunks = [
    { stream: 'stdout' as const, text: text(v.logs?.stdout ?? v.output ?? v.stdout) },
    { stream: 'stderr' as const, text: text(v.logs?.stderr ?? v.stderr) },
  ];
  return chunks.filter((c) => c.text !== '');
}

/**
 * A failure as an `error` event: its HTTP status and the body a plain call would have answered. The
 * request's log line gets its code, or the failure itself when it was not expected.
 */
function errorEvent(ctx: Context, e: unknown): { status: number; body: Record<string, unknown> } {
  const state = ctx.state as AppState;
  if (e instanceof ErrorAnswer) {
    state.errorCode = e.code;
    return { status: ERROR_TABLE[e.code].status, body: e.body };
  }
  if (e instanceof DuraboxError) {
    state.errorCode = e.code;
    return { status: e.status, body: { error: e.message, code: e.code } };
  }
  state.failure = e;
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
  try {
    const final = await relayingOutput(deps.output, task.task_id, (c) => es.sendOutput(c),
      async () => (TERMINAL.includes(task.status) ? task : await deps.tasks.final(task.task_id, accountId)), (f) => f?.result);
    if (final) es.send('result', final);
  } catch (e) {
    es.send('error', errorEvent(ctx, e));
  } finally {
    es.end();
  }
}

/**
 * A synchronous command as an event stream: its output under `streamId` while `work` runs, then `result`
 * with what the plain call answers, or `error` with the status and body it would have failed with.
 */
export async function streamCommand<T>(deps: AppDeps, ctx: Context, streamId: string, work: () => Promise<T>): Promise<void> {
  const es = new EventStream(ctx);
  try {
    es.send('result', await relayingOutput(deps.output, streamId, (c) => es.sendOutput(c), work));
  } catch (e) {
    es.send('error', errorEvent(ctx, e));
  } finally {
    es.end();
  }
}
