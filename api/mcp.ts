// MCP over Streamable HTTP at POST /mcp, stateless, one endpoint for every protocol revision
// (docs/mcp/README.md). A request of a 2025 revision (initialize, then plain requests) is served by the
// 1.x SDK (`@modelcontextprotocol/sdk`); one of 2026-07-28 (no initialize, `server/discover`, the
// `_meta` envelope on every request) by its 2.x successor (`@modelcontextprotocol/server`), whose own
// classifier tells them apart. A new server per request either way, with the same tools (mcp-tools.ts),
// tasks (mcp-tasks.ts) and resources (mcp-resources.ts). Tools run the same task workflows as REST, as
// the caller's account. The SDK's own tools/call handler runs every call, so declared output schemas are
// checked; arguments are checked before the SDK sees them, because the SDK reports invalid arguments as
// a tool result while durabox's contract is a JSON-RPC -32602 naming the field.
import { Readable } from 'node:stream';
import { SpanStatusCode } from '@opentelemetry/api';
import { McpServer, ResourceTemplate } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import {
  CancelTaskRequestSchema, ErrorCode, GetTaskPayloadRequestSchema, GetTaskRequestSchema, ListTasksRequestSchema, McpError,
  type CallToolResult, type ServerNotification,
} from '@modelcontextprotocol/sdk/types.js';
import * as modern from '@modelcontextprotocol/server';
import { z } from 'zod';
import { PRODUCT_VERSION } from '../config/paths.js';
import { DuraboxError, mcpErrorText } from '../contract/errors.js';
import { describeIssues } from '../contract/schemas.js';
import type { AppDeps } from './context.js';
import { FILES_TEMPLATE, listFileResources, readFileResource } from './mcp-resources.js';
import { declaresTasks, McpTasks, MISSING_CLIENT_CAPABILITY, TASK_TOOLS, TASKS_EXTENSION, TaskProtocolError, taskAsks, type TaskShape } from './mcp-tasks.js';
import { accountOf, asToolResult, codeToolResult, originOf, toolSpecs, type Extra, type Progress, type ToolSpec } from './mcp-tools.js';
import type { Handlers } from './routes.js';

/** What one request carries to its server: which of its calls asked for a task, in which shape. */
type PerRequest = { asks: Map<unknown, TaskShape>; listing: boolean };

const FILES_RESOURCE = {
  title: 'Files of your terminal sessions',
  description: 'A file of a live terminal session, by its path relative to /workspace. Listing shows the files of sessions that are not paused; reading works for any session of yours (a paused one resumes).',
};

/** The 2025-revision server (1.x SDK): tools, 2025-11-25 tasks and file resources. */
export function buildMcpServer(deps: AppDeps, tools = toolSpecs(deps), req: PerRequest = { asks: new Map(), listing: false }): McpServer {
  const server = new McpServer({ name: 'durabox', version: PRODUCT_VERSION }, {
    capabilities: { tasks: { list: {}, cancel: {}, requests: { tools: { call: {} } } } },
  });
  const tasksOf = (extra: Extra) => new McpTasks(deps, accountOf(extra), codeToolResult);
  for (const [name, tool] of Object.entries(tools)) {
    const registered = server.registerTool(name, { ...tool.config, inputSchema: tool.input }, async (args, extra) => {
      const asked = req.asks.get(extra.requestId) === '2025' && Object.hasOwn(TASK_TOOLS, name);
      if (asked) return (await asTaskCreation(() => tasksOf(extra as Extra).create(name, args as { timeout_ms: number }, '2025'))) as CallToolResult;
      return inToolSpan(deps, name, () => asToolResult(() => tool.run(args, accountOf(extra as Extra), progressOf(extra), originOf(extra as Extra))));
    });
    // The SDK refuses a plain call of a tool listed as task-capable unless its own task runtime runs it,
    // so the listing says so only in a request that calls no tool (a tools/list).
    if (req.listing && Object.hasOwn(TASK_TOOLS, name)) registered.execution = { taskSupport: 'optional' };
  }
  const low = server.server;
  const legacyTask = <T>(work: () => Promise<T>) => work().catch((e: unknown) => {
    if (e instanceof TaskProtocolError) throw new McpError(e.code, e.message, e.data);
    throw e;
  });
  low.setRequestHandler(GetTaskRequestSchema, (r, extra) => legacyTask(() => tasksOf(extra as Extra).get(r.params.taskId, '2025')) as never);
  low.setRequestHandler(GetTaskPayloadRequestSchema, (r, extra) => legacyTask(() => tasksOf(extra as Extra).result(r.params.taskId)) as never);
  low.setRequestHandler(ListTasksRequestSchema, (r, extra) => legacyTask(() => tasksOf(extra as Extra).list(r.params?.cursor)) as never);
  low.setRequestHandler(CancelTaskRequestSchema, (r, extra) => legacyTask(() => tasksOf(extra as Extra).cancel(r.params.taskId, '2025')) as never);
  server.registerResource('session-file', new ResourceTemplate(FILES_TEMPLATE, {
    list: async (extra) => ({ resources: await listFileResources(deps, accountOf(extra as Extra)) }),
  }), FILES_RESOURCE, async (uri, _vars, extra) => ({ contents: [await resourceOrError(() => readFileResource(deps, accountOf(extra as Extra), uri.href), (m) => new McpError(ErrorCode.InvalidParams, m))] }));
  return server;
}

/** The 2026-07-28 server (2.x SDK): the same tools, the Tasks extension and file resources. */
export function buildModernServer(deps: AppDeps, authInfo: modern.AuthInfo | undefined, tools = toolSpecs(deps)): modern.McpServer {
  const server = new modern.McpServer({ name: 'durabox', version: PRODUCT_VERSION }, {
    capabilities: { extensions: { [TASKS_EXTENSION]: {} } },
  });
  const extra: Extra = { authInfo: authInfo as Extra['authInfo'] };
  const req = (authInfo?.extra?.perRequest ?? { asks: new Map(), listing: false }) as PerRequest;
  const tasks = () => new McpTasks(deps, accountOf(extra), codeToolResult);
  for (const [name, tool] of Object.entries(tools)) {
    const asked = (id: unknown) => req.asks.get(id) === 'ext' && Object.hasOwn(TASK_TOOLS, name);
    // A call answered with a task has no structured output of its own: its server lists no output
    // schema for that tool, so the SDK does not hold the task to the result's schema.
    const askedHere = [...req.asks.values()].includes('ext') && Object.hasOwn(TASK_TOOLS, name);
    const { outputSchema, ...config } = tool.config;
    server.registerTool(name, { ...config, ...(askedHere ? {} : { outputSchema }), inputSchema: tool.input }, async (args: unknown, ctx: modern.ServerContext) => {
      if (asked(ctx.mcpReq.id)) return (await asTaskCreation(() => tasks().create(name, args as { timeout_ms: number }, 'ext'))) as never;
      const progress = progressOf({ _meta: ctx.mcpReq._meta as never, sendNotification: (n) => ctx.mcpReq.notify(n as never) });
      return inToolSpan(deps, name, () => asToolResult(() => tool.run(args, accountOf(extra), progress, originOf(extra)))) as never;
    });
  }
  const taskId = z.looseObject({ taskId: z.string() });
  const extension = <T>(ctx: modern.ServerContext, work: () => Promise<T>) => {
    // The extension's methods are for clients that declared it (SEP-2663: -32021 otherwise).
    if (!declaresTasks({ ...(ctx.mcpReq._meta ?? {}), ...(ctx.mcpReq.envelope ?? {}) } as Record<string, unknown>)) {
      throw new modern.ProtocolError(MISSING_CLIENT_CAPABILITY, 'Missing required client capability', { requiredCapabilities: { extensions: { [TASKS_EXTENSION]: {} } } });
    }
    return work().catch((e: unknown) => {
      if (e instanceof TaskProtocolError) throw new modern.ProtocolError(e.code, e.message, e.data);
      throw e;
    });
  };
  server.server.setRequestHandler('tasks/get', { params: taskId }, (p, ctx) => extension(ctx, () => tasks().get(p.taskId, 'ext')) as never);
  server.server.setRequestHandler('tasks/cancel', { params: taskId }, (p, ctx) => extension(ctx, () => tasks().cancel(p.taskId, 'ext')) as never);
  server.server.setRequestHandler('tasks/update', { params: taskId }, (p, ctx) => extension(ctx, () => tasks().update(p.taskId)) as never);
  server.registerResource('session-file', new modern.ResourceTemplate(FILES_TEMPLATE, {
    list: async () => ({ resources: await listFileResources(deps, accountOf(extra)) }),
  }), FILES_RESOURCE, async (uri) => ({ contents: [await resourceOrError(() => readFileResource(deps, accountOf(extra), uri.href), (m) => new modern.ProtocolError(modern.ProtocolErrorCode.InvalidParams, m))] }));
  return server;
}

/** A task that could not be made (a quota, an unknown template, no such session) is a tool error, as a plain call's would be. */
async function asTaskCreation(work: () => Promise<Record<string, unknown>>): Promise<Record<string, unknown>> {
  try {
    return await work();
  } catch (e) {
    if (e instanceof TaskProtocolError) throw e;
    const text = e instanceof DuraboxError ? mcpErrorText(e.code, e.message) : mcpErrorText('execution_failed', (e as Error).message);
    return { content: [{ type: 'text', text }], isError: true };
  }
}

/** A file that cannot be read is a JSON-RPC error naming why (resources have no error result). */
async function resourceOrError<T>(work: () => Promise<T>, error: (message: string) => Error): Promise<T> {
  try {
    return await work();
  } catch (e) {
    if (e instanceof DuraboxError) throw error(mcpErrorText(e.code, e.message));
    throw e;
  }
}

/** With tracing, each tool call of a request (a batch may hold several) is a span of its own under the request's. */
function inToolSpan(deps: AppDeps, name: string, call: () => Promise<CallToolResult>): Promise<CallToolResult> {
  const tracer = deps.tracing?.tracer;
  if (!tracer) return call();
  return tracer.startActiveSpan(`tools/call ${name}`, { attributes: { 'mcp.method.name': 'tools/call', 'gen_ai.tool.name': name } }, async (span) => {
    try {
      const result = await call();
      // A failed execution is a tool result, not an exception: the span says which it was.
      if (result.isError) span.setStatus({ code: SpanStatusCode.ERROR, message: 'tool result isError' });
      return result;
    } finally {
      span.end();
    }
  });
}

/** With a progress token, every chunk of output becomes a notifications/progress carrying the new text. */
function progressOf(extra: { _meta?: { progressToken?: string | number }; sendNotification: (n: ServerNotification) => Promise<void> }): Progress {
  const token = extra._meta?.progressToken;
  if (token === undefined) return undefined;
  let progress = 0;
  return (c) => {
    void extra.sendNotification({ method: 'notifications/progress', params: { progressToken: token, progress: ++progress, message: c.text } }).catch(() => undefined);
  };
}

/** Whether any request of the body asks for progress: its answer then goes as an event stream. */
function asksProgress(body: unknown): boolean {
  return (Array.isArray(body) ? body : [body]).some((m) => (m as JsonRpcMessage | null)?.params?._meta?.progressToken !== undefined);
}

/** Messages one POST may batch: each tools/call may hold a sandbox, so one request cannot take a host's worth. */
export const MCP_MAX_BATCH = 20;

type JsonRpcMessage = { jsonrpc?: unknown; id?: unknown; method?: unknown; params?: { name?: unknown; arguments?: unknown; _meta?: { progressToken?: unknown } } };

/** The -32602 answers for tools/call messages naming no tool of ours or breaking its schema; none when all are fine. */
export function invalidToolCalls(body: unknown, tools: Record<string, ToolSpec>): object[] {
  const messages = (Array.isArray(body) ? body : [body]) as JsonRpcMessage[];
  const errors: object[] = [];
  for (const m of messages) {
    if (!m || typeof m !== 'object' || m.method !== 'tools/call' || m.id === undefined) continue;
    const tool = typeof m.params?.name === 'string' && Object.hasOwn(tools, m.params.name) ? tools[m.params.name] : undefined;
    if (!tool) {
      errors.push({ jsonrpc: '2.0', id: m.id, error: { code: ErrorCode.InvalidParams, message: `unknown tool ${JSON.stringify(m.params?.name)} (known: ${Object.keys(tools).join(', ')})` } });
      continue;
    }
    const parsed = tool.input.safeParse(m.params?.arguments ?? {});
    if (!parsed.success) {
      errors.push({ jsonrpc: '2.0', id: m.id, error: { code: ErrorCode.InvalidParams, message: `invalid arguments for ${m.params!.name}: ${describeIssues(parsed.error)}` } });
    }
  }
  if (errors.length === 0 || !Array.isArray(body)) return errors;
  // A batch with an invalid call runs none of its calls: every request in it is answered with why.
  return messages.filter((m) => m && typeof m === 'object' && m.id !== undefined).map((m) =>
    errors.find((e) => (e as { id: unknown }).id === m.id)
      ?? { jsonrpc: '2.0', id: m.id, error: { code: ErrorCode.InvalidParams, message: 'not run: another call in this batch has invalid arguments' } });
}

/** Whether a body holds a tools/call (its server then lists tools as the SDK runs them; see buildMcpServer). */
function callsTools(body: unknown): boolean {
  return (Array.isArray(body) ? body : [body]).some((m) => (m as JsonRpcMessage | null)?.method === 'tools/call');
}

/** The request as a web Request, for the 2.x SDK's fetch-shaped handler (the body already parsed and checked). */
function webRequest(ctx: { href: string; method: string; req: { headers: Record<string, string | string[] | undefined> }; request: { body?: unknown } }): Request {
  const headers = new Headers();
  for (const [name, value] of Object.entries(ctx.req.headers)) {
    if (value === undefined || name === 'content-length' || name === 'transfer-encoding') continue;
    headers.set(name, Array.isArray(value) ? value.join(', ') : value);
  }
  return new Request(ctx.href, { method: ctx.method, headers, body: JSON.stringify(ctx.request.body ?? null) });
}

export function mcpHandlers(deps: AppDeps): Pick<Handlers, 'mcp' | 'mcpGet' | 'mcpDelete'> {
  // 2026-07-28 requests only: a 2025 one is routed to the 1.x server before it gets here.
  let handler: modern.McpHttpHandler | undefined;
  const modernHandler = () => (handler ??= modern.createMcpHandler((c) => buildModernServer(deps, c.authInfo), { legacy: 'reject' }));
  const notAllowed = (ctx: { set(name: string, value: string): void }) => {
    ctx.set('Allow', 'POST');
    throw new DuraboxError('method_not_allowed', 'method not allowed: the MCP endpoint is stateless and takes POST only');
  };
  return {
    mcpGet: notAllowed,
    mcpDelete: notAllowed,
    async mcp(ctx) {
      const batch = Array.isArray(ctx.request.body) ? ctx.request.body.length : undefined;
      if (batch === 0 || (batch !== undefined && batch > MCP_MAX_BATCH)) {
        // JSON-RPC 2.0 §6: a batch refused as a whole is answered with one Invalid Request response.
        ctx.status = 400;
        const why = batch === 0 ? 'an empty batch' : `a batch of ${batch} messages; at most ${MCP_MAX_BATCH}`;
        ctx.body = { jsonrpc: '2.0', id: null, error: { code: ErrorCode.InvalidRequest, message: `Invalid Request: ${why}` } };
        return;
      }
      const tools = toolSpecs(deps);
      const refused = invalidToolCalls(ctx.request.body, tools);
      if (refused.length > 0) {
        ctx.body = Array.isArray(ctx.request.body) ? refused : refused[0];
        return;
      }
      const auth = { accountId: ctx.state.account!.id, origin: { protocol: ctx.protocol, host: ctx.host } };
      const perRequest: PerRequest = { asks: taskAsks(ctx.request.body), listing: !callsTools(ctx.request.body) };
      const request = webRequest(ctx);
      if (!(await modern.isLegacyRequest(request, ctx.request.body))) {
        const answer = await modernHandler().fetch(request, {
          parsedBody: ctx.request.body,
          authInfo: { token: ctx.state.token!, clientId: ctx.state.account!.id, scopes: [], extra: { ...auth, perRequest } },
        });
        ctx.status = answer.status;
        answer.headers.forEach((value, name) => ctx.set(name, value));
        ctx.body = answer.body ? Readable.fromWeb(answer.body as never) : '';
        return;
      }
      const server = buildMcpServer(deps, tools, perRequest);
      // JSON answers, unless the caller wants progress: notifications need the answer to be an event stream.
      const transport = new StreamableHTTPServerTransport({ sessionIdGenerator: undefined, enableJsonResponse: !asksProgress(ctx.request.body) });
      (ctx.req as unknown as { auth: unknown }).auth = { token: ctx.state.token!, clientId: ctx.state.account!.id, scopes: [], extra: auth };
      ctx.respond = false;
      ctx.res.on('close', () => {
        void transport.close();
        void server.close();
      });
      await server.connect(transport);
      await transport.handleRequest(ctx.req, ctx.res, ctx.request.body);
    },
  };
}
