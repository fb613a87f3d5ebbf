// execd's API (specs/execd-api.yaml) for one sandbox, answered by durabox: a command is a session command
// (a workflow Update) whose output streams as execd's server-sent events while it runs; a code context is a
// durabox interpreter context; files and metrics are session file calls and commands (files.ts).
import type { Context } from 'koa';
import { z } from 'zod';
import type { AppDeps } from '../../api/context.js';
import { newStreamId, relayingOutput, type OutputPiece } from '../../api/events.js';
import { DuraboxError } from '../../contract/errors.js';
import { tooLargeToRun } from '../common.js';
import { badRequest, OsError, unsupported, zodMessage } from './errors.js';
import { fileRoutes } from './files.js';
import { dispatch, jsonBody, noRoute, type Route } from './http.js';
import { badEnvName, cellEnd, isInterpreterProbe, metricsOf, commandEnd, commandText, contextLanguage, sseFrame, type StreamEvent } from './mapping.js';

/** Who calls execd, for which sandbox, and the environment the sandbox was created with. */
export interface ExecdCaller { accountId: string; sessionId: string; envs: Record<string, string> }

/** The longest a command or cell may run (durabox's bound; execd's own default is none). */
const MAX_RUN_MS = 600_000;

const RunCommand = z.object({
  command: z.string().max(1_000_000).refine((c) => c.trim() !== '', { message: 'must not be blank' }),
  cwd: z.string().max(4096).optional(),
  background: z.boolean().optional(),
  timeout: z.int().min(0).optional(),
  uid: z.int().min(0).optional(),
  gid: z.int().min(0).optional(),
  envs: z.record(z.string(), z.string()).optional(),
});

const CodeContextBody = z.object({ language: z.string().max(32).optional() });
const RunCode = z.object({
  code: z.string().max(1_000_000).refine((c) => c.trim() !== '', { message: 'must not be blank' }),
  context: z.object({ id: z.string().max(128).optional(), language: z.string().max(32).optional() }).optional(),
});

function parse<T extends z.ZodType>(schema: T, value: unknown): z.output<T> {
  const r = schema.safeParse(value);
  if (!r.success) throw new OsError(400, 'INVALID_REQUEST_BODY', zodMessage(r.error));
  return r.data;
}


export function execdRoutes(deps: AppDeps): (ctx: Context, caller: ExecdCaller, path: string) => Promise<void> {
  const files = fileRoutes(deps);
  const routes: Array<Route<ExecdCaller>> = [
    ['GET', /^\/ping$/, async (ctx) => { ctx.body = ''; ctx.status = 200; }],
    ['POST', /^\/command$/, (ctx, c) => runCommand(deps, ctx, c)],
    ['DELETE', /^\/command$/, () => { throw unsupported('interrupting a command (its timeout ends it)'); }],
    ['GET', /^\/command\/status\/([^/]+)$/, () => { throw unsupported('the status of a command by id (the command stream carries its exit code)'); }],
    ['GET', /^\/command\/([^/]+)\/logs$/, () => { throw unsupported('the logs of a background command'); }],
    ['*', /^\/session(\/.*)?$/, () => { throw unsupported('bash sessions (run commands with cwd and envs instead)'); }],
    ['*', /^\/isolated(\/.*)?$/, () => { throw unsupported('isolated sessions'); }],
    ['POST', /^\/code\/context$/, (ctx, c) => createContext(deps, ctx, c)],
    ['GET', /^\/code\/contexts$/, (ctx, c) => listContexts(deps, ctx, c)],
    ['DELETE', /^\/code\/contexts$/, (ctx, c) => deleteContexts(deps, ctx, c)],
    ['GET', /^\/code\/contexts\/([^/]+)$/, (ctx, c, [id]) => getContext(deps, ctx, c, id!)],
    ['DELETE', /^\/code\/contexts\/([^/]+)$/, async (ctx, c, [id]) => { await onContext(id!, () => deps.sessions.deleteContext(c.accountId, c.sessionId, id!)); ctx.body = ''; ctx.status = 200; }],
    ['POST', /^\/code$/, (ctx, c) => runCode(deps, ctx, c)],
    ['DELETE', /^\/code$/, () => { throw unsupported('interrupting a cell (its timeout ends it)'); }],
    ['GET', /^\/metrics\/watch$/, () => { throw unsupported('watching metrics (GET /metrics answers a sample)'); }],
    ['GET', /^\/metrics$/, (ctx, c) => metrics(deps, ctx, c)],
  ];
  return async (ctx, caller, path) => {
    const found = await dispatch(routes, ctx, caller, path);
    if (found === 'answered' || (await files(ctx, caller, path))) return;
    noRoute(ctx, path, found);
  };
}

/** An open execd event stream: headers go out with the first event (a failure before it is a JSON answer). */
class EventWriter {
  private open = false;
  constructor(private readonly ctx: Context) {}

  send(e: StreamEvent): void {
    if (!this.open) {
      this.open = true;
      this.ctx.respond = false;
      this.ctx.req.socket.setNoDelay(true);
      this.ctx.res.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache, no-transform', 'x-accel-buffering': 'no', connection: 'keep-alive' });
    }
    if (!this.ctx.res.writableEnded && !this.ctx.res.destroyed) this.ctx.res.write(sseFrame(e));
  }

  output(c: OutputPiece): void {
    if (c.text !== '') this.send({ type: c.stream, text: c.text, timestamp: Date.now() });
  }

  /** A failure after the stream opened: execd's error event naming it, then the end. */
  fail(e: unknown): void {
    const code = e instanceof DuraboxError ? e.code : e instanceof OsError ? e.code : 'RUNTIME_ERROR';
    const message = e instanceof Error ? e.message : String(e);
    this.send({ type: 'error', timestamp: Date.now(), error: { ename: code, evalue: message, traceback: [] } });
  }

  get started(): boolean {
    return this.open;
  }

  end(): void {
    if (this.open && !this.ctx.res.writableEnded) this.ctx.res.end();
  }
}

/** Runs `work` as an event stream; failures before the first event are thrown (answered as JSON). */
async function streaming(ctx: Context, work: (w: EventWriter) => Promise<void>): Promise<void> {
  const w = new EventWriter(ctx);
  try {
    await work(w);
  } catch (e) {
    if (!w.started) throw e;
    w.fail(e);
  } finally {
    w.end();
  }
}

async function runCommand(deps: AppDeps, ctx: Context, c: ExecdCaller): Promise<void> {
  const body = parse(RunCommand, await jsonBody(ctx));
  if (body.uid !== undefined || body.gid !== undefined) throw unsupported('uid/gid (commands run as the sandbox\'s user)');
  const envs = { ...c.envs, ...body.envs };
  const bad = badEnvName(envs);
  if (bad !== undefined) throw new OsError(400, 'INVALID_REQUEST_BODY', `envs: ${JSON.stringify(bad)} is not a valid environment variable name`);
  if (body.timeout !== undefined && body.timeout > MAX_RUN_MS) throw new OsError(400, 'INVALID_REQUEST_BODY', `timeout: at most ${MAX_RUN_MS} ms on durabox`);
  const timeoutMs = body.timeout ? body.timeout : MAX_RUN_MS;
  const command = commandText(body.command, { envs, ...(body.cwd ? { cwd: body.cwd } : {}), ...(body.background ? { background: true } : {}) });
  const tooLarge = tooLargeToRun(command);
  if (tooLarge) throw new OsError(413, 'INVALID_REQUEST_BODY', `command: ${tooLarge}`);
  const streamId = newStreamId();
  const started = Date.now();
  await streaming(ctx, async (w) => {
    w.send({ type: 'init', text: streamId, timestamp: started });
    if (isInterpreterProbe(body.command)) return w.send(commandEnd(0, 0));
    const out = await relayingOutput(deps.output, streamId, (p) => w.output(p),
      () => deps.sessions.exec(c.accountId, { session_id: c.sessionId, create_if_missing: false, command, timeout_ms: timeoutMs }, undefined, streamId));
    w.send(commandEnd(out.exit_code, Date.now() - started));
  });
}

async function createContext(deps: AppDeps, ctx: Context, c: ExecdCaller): Promise<void> {
  const body = parse(CodeContextBody, (await jsonBody(ctx)) ?? {});
  const language = languageOf(body.language);
  const view = await deps.sessions.createContext(c.accountId, c.sessionId, language);
  ctx.body = { id: view.context_id, language: view.language };
}

function languageOf(language: string | undefined): 'python' | 'javascript' | 'bash' {
  const l = contextLanguage(language);
  if (!l) throw new OsError(400, 'INVALID_REQUEST_BODY', `language: ${JSON.stringify(language)} is not supported by durabox (python, javascript or bash)`);
  return l;
}

async function listContexts(deps: AppDeps, ctx: Context, c: ExecdCaller): Promise<void> {
  const language = typeof ctx.query.language === 'string' ? ctx.query.language.toLowerCase() : undefined;
  const all = await deps.sessions.contexts(c.accountId, c.sessionId);
  ctx.body = all.filter((x) => !language || x.language === language).map((x) => ({ id: x.context_id, language: x.language }));
}

async function deleteContexts(deps: AppDeps, ctx: Context, c: ExecdCaller): Promise<void> {
  if (typeof ctx.query.language !== 'string' || ctx.query.language === '') throw new OsError(400, 'INVALID_REQUEST_BODY', 'language: required');
  const language = ctx.query.language.toLowerCase();
  for (const x of await deps.sessions.contexts(c.accountId, c.sessionId)) {
    if (x.language === language) await deps.sessions.deleteContext(c.accountId, c.sessionId, x.context_id);
  }
  ctx.body = '';
  ctx.status = 200;
}

async function getContext(deps: AppDeps, ctx: Context, c: ExecdCaller, id: string): Promise<void> {
  const found = (await deps.sessions.contexts(c.accountId, c.sessionId)).find((x) => x.context_id === id);
  if (!found) throw new OsError(404, 'CONTEXT_NOT_FOUND', `no context ${id}`);
  ctx.body = { id: found.context_id, language: found.language };
}

async function onContext<T>(id: string, call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (e) {
    if (e instanceof DuraboxError && (e.code === 'context_not_found' || e.code === 'invalid_input')) throw new OsError(404, 'CONTEXT_NOT_FOUND', `no context ${id}`);
    throw e;
  }
}

async function runCode(deps: AppDeps, ctx: Context, c: ExecdCaller): Promise<void> {
  const body = parse(RunCode, await jsonBody(ctx));
  const language = languageOf(body.context?.language);
  const contextId = body.context?.id || undefined;
  const streamId = newStreamId();
  const started = Date.now();
  await streaming(ctx, async (w) => {
    w.send({ type: 'init', text: contextId ?? streamId, timestamp: started });
    const out = await relayingOutput(deps.output, streamId, (p) => w.output(p),
      () => deps.sessions.runCode(c.accountId, { code: body.code, language, session_id: c.sessionId, ...(contextId ? { context_id: contextId } : {}), timeout_ms: MAX_RUN_MS }, undefined, streamId));
    for (const e of cellEnd(out, Date.now() - started)) w.send(e);
  });
}

/**
 * A sample of the sandbox's resources: its cgroup's memory and CPU time over a short interval (the host's
 * counts where the container has no cgroup v2 files).
 */
const METRICS_SCRIPT = [
  'nproc',
  'awk \'/MemTotal|MemAvailable/{printf "%s ", $2}\' /proc/meminfo; echo',
  'cat /sys/fs/cgroup/memory.current /sys/fs/cgroup/memory.max 2>/dev/null | tr "\\n" " "; echo',
  'awk \'/usage_usec/{print $2}\' /sys/fs/cgroup/cpu.stat 2>/dev/null || echo 0; sleep 0.2',
  'awk \'/usage_usec/{print $2}\' /sys/fs/cgroup/cpu.stat 2>/dev/null || echo 0',
].join('\n');

async function metrics(deps: AppDeps, ctx: Context, c: ExecdCaller): Promise<void> {
  const out = await deps.sessions.exec(c.accountId, { session_id: c.sessionId, create_if_missing: false, command: METRICS_SCRIPT, timeout_ms: 30_000 });
  ctx.body = metricsOf(out.stdout);
}
