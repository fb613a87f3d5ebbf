// MCP over Streamable HTTP at POST /mcp: stateless (a new server and transport per request) and JSON
// responses. Tools run the same task workflows as REST, as the caller's account.
import Router from '@koa/router';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import { CallToolRequestSchema, ErrorCode, McpError, type CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { z } from 'zod';
import type { AppDeps, AppState } from './context.js';
import { requireToken } from './auth.js';
import { HttpError } from './errors.js';
import { describeIssues, echoInput, echoOutput, pythonExecInput, pythonExecOutput } from './schemas.js';
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

interface ToolSpec {
  config: { title: string; description: string; outputSchema: z.ZodObject; annotations: Record<string, boolean> };
  input: z.ZodObject;
  run(args: any, accountId: string): Promise<Record<string, unknown>>;
}

function toolSpecs(deps: AppDeps): Record<string, ToolSpec> {
  return {
    echo: {
      config: {
        title: 'Echo through a worker',
        description: 'Sends a message through a durabox worker and back. Use it to check that the platform and a worker are reachable; it runs no code. Limit: 64 KiB message, timeout_ms up to 60000.',
        outputSchema: z.object(echoOutput),
        annotations: { readOnlyHint: true, idempotentHint: true, openWorldHint: false },
      },
      input: z.strictObject(echoInput),
      run: async (args, accountId) => (await runCommand(deps, accountId, 'echo', args, args.timeout_ms)) as Record<string, unknown>,
    },
    pythonExec: {
      config: {
        title: 'Run Python code in a fresh sandbox',
        description:
          'Runs a Python 3 program once in an isolated sandbox and returns its stdout (output), stderr and exit_code. ' +
          'Use it for calculations, data processing and checking code. Nothing persists between calls: no files, processes or variables ' +
          '(use terminalExec sessions for state). No network access, no packages beyond the standard library. ' +
          'A non-zero exit_code is a normal result (read stderr). Limits: timeout_ms 1..600000 (default 60000), 256 MiB memory, ' +
          'each output stream capped (stdout_truncated/stderr_truncated tell when cut).',
        outputSchema: z.object(pythonExecOutput),
        annotations: { readOnlyHint: false, destructiveHint: false, openWorldHint: false },
      },
      input: z.strictObject(pythonExecInput),
      run: async (args, accountId) => (await runCommand(deps, accountId, 'pythonExec', args, args.timeout_ms)) as Record<string, unknown>,
    },
  };
}

export function buildMcpServer(deps: AppDeps): McpServer {
  const server = new McpServer({ name: 'durabox', version: CONSOLE_VERSION });
  const tools = toolSpecs(deps);
  for (const [name, tool] of Object.entries(tools)) {
    server.registerTool(name, { ...tool.config, inputSchema: tool.input }, async (args, extra) =>
      asToolResult(() => tool.run(args, accountOf(extra as Extra))));
  }
  // The SDK turns invalid arguments into an isError tool result; durabox's contract is a JSON-RPC
  // -32602 naming the field, so tools/call is answered here: validate, then run.
  server.server.setRequestHandler(CallToolRequestSchema, async (request, extra) => {
    const tool = tools[request.params.name];
    if (!tool) throw new McpError(ErrorCode.InvalidParams, `unknown tool ${JSON.stringify(request.params.name)}`);
    const parsed = tool.input.safeParse(request.params.arguments ?? {});
    if (!parsed.success) {
      throw new McpError(ErrorCode.InvalidParams, `invalid arguments for ${request.params.name}: ${describeIssues(parsed.error)}`);
    }
    return asToolResult(() => tool.run(parsed.data, accountOf(extra as Extra)));
  });
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
