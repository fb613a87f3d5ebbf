// The code interpreter's server inside an E2B sandbox: /execute streams a cell's output as NDJSON lines
// while it runs (stdout, stderr, then its results, error and execution count), /contexts manages the
// interpreter contexts. Each is the session's code call or context call.
import type { Context } from 'koa';
import { z } from 'zod';
import type { AppDeps } from '../../api/context.js';
import { newStreamId, relayingOutput } from '../../api/events.js';
import type { ContextView, RunCodeInput } from '../../contract/messages.js';
import { tooLargeToRun } from '../common.js';
import { E2bError, jsonBody, statusOf, unsupported } from './errors.js';
import { languageOf } from './protocol.js';
import type { Caller } from './envd.js';

const Execute = z.object({
  code: z.string().max(1_000_000),
  context_id: z.string().max(64).nullish(),
  language: z.string().max(32).nullish(),
  env_vars: z.record(z.string(), z.string()).nullish(),
});
const NewContext = z.object({ language: z.string().max(32).nullish(), cwd: z.string().max(4096).nullish() });

/** A cell's limit: the interpreter's own default (300 s). */
const CELL_TIMEOUT_MS = 300_000;
const HOME = '/home/user';

function languageOrRefuse(lang: string | null | undefined): 'python' | 'javascript' | 'bash' {
  const l = languageOf(lang);
  if (!l) throw new E2bError(400, `language: ${lang} is not supported by durabox (python, javascript or bash)`);
  return l;
}

const contextOut = (c: ContextView) => ({ id: c.context_id, language: c.language, cwd: HOME });

export function interpreterApi(deps: AppDeps) {
  return {
    async execute(ctx: Context, c: Caller) {
      const body = await jsonBody(ctx, Execute, 4 << 20);
      if (body.context_id && body.language) throw new E2bError(400, 'language: give context_id or language, not both');
      if (body.env_vars && Object.keys(body.env_vars).length > 0) throw unsupported('env_vars of a code cell (envs)');
      const tooLarge = tooLargeToRun(body.code);
      if (tooLarge) throw new E2bError(413, `code: ${tooLarge}`);
      const language = body.context_id ? undefined : languageOrRefuse(body.language);
      // An unknown context is 404 before the stream's 200, as the interpreter answers it.
      if (body.context_id && !(await deps.sessions.contexts(c.accountId, c.sandboxId)).some((x) => x.context_id === body.context_id)) {
        throw new E2bError(404, `context ${body.context_id} not found`);
      }
      const input = { code: body.code, session_id: c.sandboxId, timeout_ms: CELL_TIMEOUT_MS, ...(language ? { language } : {}), ...(body.context_id ? { context_id: body.context_id } : {}) } as RunCodeInput;
      const streamId = newStreamId();
      const work = deps.sessions.runCode(c.accountId, input, undefined, streamId);
      // The status is sent before the cell runs; failures from here on are `error` lines.
      ctx.respond = false;
      ctx.req.socket.setNoDelay(true);
      ctx.res.writeHead(200, { 'content-type': 'application/x-ndjson', 'cache-control': 'no-cache' });
      const line = (o: Record<string, unknown>) => { if (!ctx.res.writableEnded) ctx.res.write(`${JSON.stringify(o)}\n`); };
      try {
        const out = await relayingOutput(deps.output, streamId, (chunk) => line({ type: chunk.stream, text: chunk.text, timestamp: Date.now() * 1000 }), () => work);
        for (const r of out.results) line({ type: 'result', ...r });
        if (out.error) line({ type: 'error', name: out.error.name, value: out.error.value, traceback: out.error.traceback });
        else if (out.timed_out) line({ type: 'error', name: 'TimeoutError', value: `the cell ran past ${CELL_TIMEOUT_MS} ms and was interrupted`, traceback: '' });
        line({ type: 'number_of_executions', execution_count: out.execution_count });
        line({ type: 'end_of_execution' });
      } catch (e) {
        let message = 'internal error';
        try { message = statusOf(e).message; } catch { /* unexpected: said as internal */ }
        line({ type: 'error', name: 'DuraboxError', value: message, traceback: '' });
      } finally {
        ctx.res.end();
      }
    },

    async createContext(ctx: Context, c: Caller) {
      const body = await jsonBody(ctx, NewContext);
      if (body.cwd && body.cwd !== HOME && body.cwd !== '/workspace') throw unsupported('a context\'s own cwd (contexts run in /home/user)');
      const view = await deps.sessions.createContext(c.accountId, c.sandboxId, languageOrRefuse(body.language));
      ctx.body = contextOut(view);
    },

    async listContexts(ctx: Context, c: Caller) {
      ctx.body = (await deps.sessions.contexts(c.accountId, c.sandboxId)).map(contextOut);
    },

    async deleteContext(ctx: Context, c: Caller, id: string) {
      if (!/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/.test(id)) throw new E2bError(404, `context ${id} not found`);
      await deps.sessions.deleteContext(c.accountId, c.sandboxId, id);
      ctx.status = 204;
    },
  };
}
