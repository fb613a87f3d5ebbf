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
import {
  describeIssues, echoInput, echoOutput, listFilesInput, pythonExecInput, pythonExecOutput, readFileInput, readImageInput,
  terminalExecInput, terminalExecOutput, writeFileInput,
} from './schemas.js';
import { SessionError } from './session-service.js';
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
async function asToolResult(work: () => Promise<Record<string, unknown> | CallToolResult>): Promise<CallToolResult> {
  try {
    const r = await work();
    return CONTENT in r ? (r as CallToolResult) : toolResult(r as Record<string, unknown>);
  } catch (e) {
    const msg = e instanceof SessionError ? `${e.code}: ${e.message}` : e instanceof HttpError ? `${e.message} (HTTP ${e.status})` : (e as Error).message;
    return { content: [{ type: 'text', text: msg }], isError: true };
  }
}

interface ToolSpec {
  config: { title: string; description: string; outputSchema?: z.ZodObject; annotations: Record<string, boolean> };
  input: z.ZodObject;
  run(args: any, accountId: string): Promise<Record<string, unknown> | CallToolResult>;
}

/** A result already shaped as MCP content (readImage), as opposed to structured output. */
const asContent = (r: CallToolResult) => Object.assign(r, { [CONTENT]: true });
const CONTENT = Symbol('mcp-content');

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
    terminalExec: {
      config: {
        title: 'Run a shell command in a stateful session',
        description:
          'Runs a shell command (sh -lc) in a terminal session whose files persist between calls (bash, python3, pip/venv, git, curl, jq, ' +
          'ripgrep, tree, file, zip/unzip, sqlite3). Omit session_id to create a session; pass the returned session_id to keep working in it. ' +
          'Use it for multi-step work on files; use pythonExec for one-off computations. An unknown session_id fails with session_not_found ' +
          'unless create_if_missing is true; a second command while one runs fails with session_busy. Each call extends the session\'s lease ' +
          '(lease_ttl_sec, never shortened); an idle session ends when its lease runs out and its files are gone. No network. ' +
          'A command past timeout_ms is killed; the session is kept. Output streams are capped (stdout_truncated/stderr_truncated).',
        outputSchema: z.object(terminalExecOutput),
        annotations: { readOnlyHint: false, destructiveHint: true, openWorldHint: false },
      },
      input: z.strictObject(terminalExecInput),
      run: async (args, accountId) => (await deps.sessions.exec(accountId, args)) as unknown as Record<string, unknown>,
    },
    readImage: {
      config: {
        title: 'Read an image from a session',
        description:
          'Returns an image file of a terminal session (PNG, JPEG, GIF, WebP, …) as an image the model can see, e.g. a chart made with ' +
          `a command. Non-image files answer "unsupported mime type: <mime>; expected image/*": use readFile for text. Limit: ${deps.config.session.fileMaxBytes} bytes.`,
        annotations: { readOnlyHint: true, openWorldHint: false },
      },
      input: z.strictObject(readImageInput),
      run: async (args, accountId) => {
        const f = await deps.sessions.file(accountId, args.session_id, { op: 'read', path: args.file_path, maxBytes: deps.config.session.fileMaxBytes });
        if (f.op !== 'read') return asContent({ content: [{ type: 'text', text: 'unsupported mime type: inode/directory; expected image/*' }] });
        const mime = f.mime ?? 'application/octet-stream';
        if (!mime.startsWith('image/')) return asContent({ content: [{ type: 'text', text: `unsupported mime type: ${mime}; expected image/*` }] });
        return asContent({ content: [{ type: 'image', data: f.contentBase64, mimeType: mime }] });
      },
    },
    readFile: {
      config: {
        title: 'Read a file from a session',
        description: `Reads a file of a terminal session (relative to /workspace, or under /workspace or /tmp). Text comes back as utf8; other bytes as base64 (encoding tells). A directory answers with its listing. Limit: ${deps.config.session.fileMaxBytes} bytes.`,
        outputSchema: z.object({ path: z.string(), size: z.number().optional(), encoding: z.enum(['utf8', 'base64']).optional(), content: z.string().optional(), mime: z.string().optional(), entries: z.array(z.any()).optional() }),
        annotations: { readOnlyHint: true, openWorldHint: false },
      },
      input: z.strictObject(readFileInput),
      run: async (args, accountId) => {
        const f = await deps.sessions.file(accountId, args.session_id, { op: 'read', path: args.path, maxBytes: deps.config.session.fileMaxBytes });
        if (f.op === 'list') return { path: f.path, entries: f.entries };
        if (f.op !== 'read') return { path: args.path };
        const bytes = Buffer.from(f.contentBase64, 'base64');
        const text = bytes.toString('utf8');
        const isText = Buffer.from(text, 'utf8').equals(bytes) && !text.includes('\0');
        return { path: f.path, size: f.size, mime: f.mime, encoding: isText ? 'utf8' : 'base64', content: isText ? text : f.contentBase64 };
      },
    },
    writeFile: {
      config: {
        title: 'Write a file into a session',
        description: `Creates or replaces a file in a terminal session (parent directories are created). Content is utf8 text, or base64 with encoding=base64. Limit: ${deps.config.session.fileMaxBytes} bytes.`,
        outputSchema: z.object({ path: z.string(), size: z.number() }),
        annotations: { readOnlyHint: false, destructiveHint: true, openWorldHint: false },
      },
      input: z.strictObject(writeFileInput),
      run: async (args, accountId) => {
        const bytes = args.encoding === 'base64' ? Buffer.from(args.content, 'base64') : Buffer.from(args.content, 'utf8');
        if (bytes.length > deps.config.session.fileMaxBytes) throw new Error(`file_too_large: content is ${bytes.length} bytes, more than ${deps.config.session.fileMaxBytes}`);
        const f = await deps.sessions.file(accountId, args.session_id, { op: 'write', path: args.path, contentBase64: bytes.toString('base64') });
        return f.op === 'write' ? { path: f.path, size: f.size } : { path: args.path, size: bytes.length };
      },
    },
    listFiles: {
      config: {
        title: 'List files in a session',
        description: 'Lists a directory of a terminal session (default /workspace): name, type, size, modification time.',
        outputSchema: z.object({ path: z.string(), entries: z.array(z.object({ name: z.string(), type: z.string(), size: z.number(), modified: z.string() })) }),
        annotations: { readOnlyHint: true, openWorldHint: false },
      },
      input: z.strictObject(listFilesInput),
      run: async (args, accountId) => {
        const f = await deps.sessions.file(accountId, args.session_id, { op: 'list', path: args.path });
        return f.op === 'list' ? { path: f.path, entries: f.entries } : { path: args.path, entries: [] };
      },
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
