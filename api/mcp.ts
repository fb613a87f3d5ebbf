// MCP over Streamable HTTP at POST /mcp: stateless (a new server and transport per request) and JSON
// responses. Tools run the same task workflows as REST, as the caller's account.
import Router from '@koa/router';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { z } from 'zod';
import type { AppDeps, AppState } from './context.js';
import { requireToken } from './auth.js';
import { HttpError } from './errors.js';
import { echoInput, echoOutput, pythonExecInput, pythonExecOutput } from './schemas.js';
import { runCommand } from './routes/commands.js';
import { CONSOLE_VERSION } from './routes/console.js';

type Extra = { authInfo?: { extra?: Record<string, unknown> } };

function accountOf(extra: Extra): string {
  const id = extra.authInfo?.extra?.accountId;
  if (typeof id !== 'string') throw new Error('unauthenticated');
  return id;
}

function toolResult(structured: Record<string, unknown>): CallToolResult {
  return { content: [{ type: 'text', text: JSON.stringify(structured) }], structuredContent: structured };
}

/** Execution failures are tool results with isError, so an agent reads the reason and can act on it. */
async function asToolResult(work: () => Promise<Record<string, unknown>>): Promise<CallToolResult> {
  try {
    return toolResult(await work());
  } catch (e) {
    const msg = e instanceof HttpError ? `${e.message} (HTTP ${e.status})` : (e as Error).message;
    return { content: [{ type: 'text', text: msg }], isError: true };
  }
}

export function buildMcpServer(deps: AppDeps): McpServer {
  const server = new McpServer({ name: 'durabox', version: CONSOLE_VERSION });

  server.registerTool('echo', {
    title: 'Echo through a worker',
    description: 'Sends a message through a durabox worker and back. Use it to check that the platform and a worker are reachable; it runs no code. Limit: 64 KiB message, timeout_ms up to 60000.',
    inputSchema: z.strictObject(echoInput),
    outputSchema: z.object(echoOutput),
    annotations: { readOnlyHint: true, idempotentHint: true, openWorldHint: false },
  }, async (args, extra) => asToolResult(async () => {
    return (await runCommand(deps, accountOf(extra as Extra), 'echo', args, args.timeout_ms)) as Record<string, unknown>;
  }));

  server.registerTool('pythonExec', {
    title: 'Run Python code in a fresh sandbox',
    description:
      'Runs a Python 3 program once in an isolated sandbox and returns its stdout (output), stderr and exit_code. ' +
      'Use it for calculations, data processing and checking code. Nothing persists between calls: no files, processes or variables ' +
      '(use terminalExec sessions for state). No network access, no packages beyond the standard library. ' +
      'A non-zero exit_code is a normal result (read stderr). Limits: timeout_ms 1..600000 (default 60000), 256 MiB memory, ' +
      'each output stream capped (stdout_truncated/stderr_truncated tell when cut).',
    inputSchema: z.strictObject(pythonExecInput),
    outputSchema: z.object(pythonExecOutput),
    annotations: { readOnlyHint: false, destructiveHint: false, openWorldHint: false },
  }, async (args, extra) => asToolResult(async () => {
    return (await runCommand(deps, accountOf(extra as Extra), 'pythonExec', args, args.timeout_ms)) as Record<string, unknown>;
  }));

  return server;
}

export function mcpRoutes(deps: AppDeps): Router<AppState> {
  const r = new Router<AppState>();
  const notAllowed = (ctx: { status: number; body: unknown; set: (k: string, v: string) => void }) => {
    ctx.set('Allow', 'POST');
    ctx.status = 405;
    ctx.body = { error: 'method not allowed: the MCP endpoint is stateless and takes POST only' };
  };
  r.get('/mcp', notAllowed);
  r.delete('/mcp', notAllowed);
  r.post('/mcp', requireToken(deps), async (ctx) => {
    const server = buildMcpServer(deps);
    const transport = new StreamableHTTPServerTransport({ sessionIdGenerator: undefined, enableJsonResponse: true });
    (ctx.req as unknown as { auth: unknown }).auth = {
      token: ctx.state.token!, clientId: ctx.state.account!.id, scopes: [], extra: { accountId: ctx.state.account!.id },
    };
    ctx.respond = false;
    ctx.res.on('close', () => {
      void transport.close();
      void server.close();
    });
    await server.connect(transport);
    await transport.handleRequest(ctx.req, ctx.res, ctx.request.body);
  });
  return r;
}
