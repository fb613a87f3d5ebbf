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
import { keyedHash } from '../control/security.js';
import { DuraboxError, mcpErrorText } from '../contract/errors.js';
import { describeIssues } from '../contract/schemas.js';
import type { AppDeps } from './context.js';
import { ModernHandlers } from './mcp-events.js';
import { FILES_TEMPLATE, listFileResources, readFileResource } from './mcp-resources.js';
import { declaresTasks, McpTasks, MISSING_CLIENT_CAPABILITY, TASK_TOOLS, TASKS_EXTENSION, TaskProtocolError, taskAsks, type TaskShape } from './mcp-tasks.js';
import { accountOf, asToolResult, codeToolResult, Content, originOf, toolSpecs, type Extra, type Progress, type ToolSpec } from './mcp-tools.js';
import type { Handlers } from './routes.js';

/** What one request carries to its server: which of its calls asked for a task, in which shape. */
type PerRequest = { asks: Map<unknown, TaskShape[]>; listing: boolean; created: Map<unknown, Record<string, unknown>> };

const FILES_RESOURCE = {
  title: 'Files of your terminal sessions',
  description: 'A file of a live terminal session, by its path relative to /workspace. Listing shows the files of sessions that are not paused; reading works for any session of yours (a paused one resumes).',
};

/** The 2025-revision server (1.x SDK): tools, 2025-11-25 tasks and file resources. */
export function buildMcpServer(deps: AppDeps, tools = toolSpecs(deps), req: PerRequest = { asks: new Map(), listing: false, created: new Map() }): McpServer {
  const server = new McpServer({ name: 'durabox', version: PRODUCT_VERSION }, {
    capabilities: { tasks: { list: {}, cancel: {}, requests: { tools: { call: {} } } } },
  });
  const tasksOf = (extra: Extra) => new McpTasks(deps, accountOf(extra), codeToolResult);
  for (const [name, tool] of Object.entries(tools)) {
    const registered = server.registerTool(name, { ...tool.config, inputSchema: tool.input }, async (args, extra) => {
      // A 2025-11-25 task was made before the SDK saw the request (startLegacyTasks): its answer is handed back.
      const made = req.created.get(extra.requestId);
      if (made && Object.hasOwn(TASK_TOOLS, name)) return made as CallToolResult;
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
    capabilities: { extensions: { [TASKS_EXTENSION]: {} }, resources: { subscribe: true, listChanged: true } },
  });
  const extra: Extra = { authInfo: authInfo as Extra['authInfo'] };
  const req = (authInfo?.extra?.perRequest ?? { asks: new Map(), listing: false, created: new Map() }) as PerRequest;
  const tasks = () => new McpTasks(deps, accountOf(extra), codeToolResult);
  for (const [name, tool] of Object.entries(tools)) {
    const asked = (id: unknown) => !!req.asks.get(id)?.includes('ext') && Object.hasOwn(TASK_TOOLS, name);
    // A call answered with a task has no structured output of its own: its server lists no output
    // schema for that tool, so the SDK does not hold the task to the result's schema.
    const askedHere = [...req.asks.values()].some((shapes) => shapes.includes('ext')) && Object.hasOwn(TASK_TOOLS, name);
    const { outputSchema, ...config } = tool.config;
    server.registerTool(name, { ...config, ...(askedHere ? {} : { outputSchema }), inputSchema: tool.input }, async (args: unknown, ctx: modern.ServerContext) => {
      // A task that cannot be made (a quota, a template) is a tool error, as a plain call's would be: the extension lets the server answer either way.
      if (asked(ctx.mcpReq.id)) return (await asToolResult(async () => new Content(await tasks().create(name, args as { timeout_ms: number }, 'ext') as CallToolResult))) as never;
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

/**
 * Makes the 2025-11-25 tasks a body asks for before the 1.x SDK sees it: the SDK holds a task-augmented
 * call's answer to CreateTaskResult's schema, so a task that cannot be made (a quota, an unknown template)
 * is answered here as a JSON-RPC error with its code, not as a tool result the schema check would mangle.
 * The answers made go to the tool handlers through `created`; the errors are returned to send instead.
 */
async function startLegacyTasks(deps: AppDeps, accountId: string, body: unknown, tools: Record<string, ToolSpec>, req: PerRequest): Promise<object[]> {
  const errors: object[] = [];
  for (const m of (Array.isArray(body) ? body : [body]) as JsonRpcMessage[]) {
    if (!m || typeof m !== 'object' || !req.asks.get(m.id)?.includes('2025')) continue;
    const name = m.params?.name as string;
    const args = tools[name]!.input.parse(m.params?.arguments ?? {}) as { timeout_ms: number }; // checked by invalidToolCalls
    try {
      req.created.set(m.id, await new McpTasks(deps, accountId, codeToolResult).create(name, args, '2025'));
    } catch (e) {
      if (!(e instanceof DuraboxError)) throw e;
      errors.push({ jsonrpc: '2.0', id: m.id, error: { code: ErrorCode.InvalidRequest, message: `task not created: ${mcpErrorText(e.code, e.message)}`, data: { code: e.code } } });
    }
  }
  return errors;
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

type JsonRpcMessage = { jsonrpc?: unknown; id?: unknown; method?: unknown; params?: { name?: unknown; arguments?: unknown; task?: unknown; _meta?: { progressToken?: unknown } } };

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
    } else if (m.params?.task !== undefined && !Object.hasOwn(TASK_TOOLS, m.params.name as string)) {
      // 2025-11-25: a task asked of a tool whose listing forbids tasks is -32601.
      errors.push({ jsonrpc: '2.0', id: m.id, error: { code: ErrorCode.MethodNotFound, message: `${m.params!.name} does not run as a task (tools that do: ${Object.keys(TASK_TOOLS).join(', ')}); call it without params.task` } });
    }
  }
  if (errors.length === 0 || !Array.isArray(body)) return errors;
  // A batch with an invalid call runs none of its calls: every request in it is answered with why.
  return messages.filter((m) => m && typeof m === 'object' && m.id !== undefined).map((m) =>
    errors.find((e) => (e as { id: unknown }).id === m.id)
      ?? { jsonrpc: '2.0', id: m.id, error: { code: ErrorCode.InvalidParams, message: 'not run: another call in this batch has invalid arguments' } });
}

/** How often an open event stream checks that its token is still valid. */
export const STREAM_TOKEN_CHECK_MS = 30_000;

/** Ends `res` once the bearer token it was opened with no longer authenticates (deleted, or its account gone). */
export function endWhenRevoked(deps: Pick<AppDeps, 'accounts' | 'hashKey'>, authorization: string, res: { once(e: 'close', f: () => void): unknown; destroy(): void }, everyMs = STREAM_TOKEN_CHECK_MS): void {
  const token = /^Bearer\s+(\S+)\s*$/i.exec(authorization)?.[1];
  if (!token) return;
  const timer = setInterval(() => {
    void deps.accounts.byTokenHash(keyedHash(deps.hashKey, token)).then((account) => {
      if (!account) res.destroy();
    }, () => undefined);
  }, everyMs);
  timer.unref();
  res.once('close', () => clearInterval(timer));
}

/** Whether a body holds a tools/call (its server then lists tools as the SDK runs them; see buildMcpServer). */
function callsTools(body: unknown): boolean {
  return (Array.isArray(body) ? body : [body]).some((m) => (m as JsonRpcMessage | null)?.method === 'tools/call');
}

/** The request as a web Request for the 2.x SDK's fetch-shaped handler: its headers and signal; the body goes as parsedBody. */
function webRequest(ctx: { href: string; method: string; req: { headers: Record<string, string | string[] | undefined> }; request: { body?: unknown } }, signal: AbortSignal): Request | undefined {
  const headers = new Headers();
  for (const [name, value] of Object.entries(ctx.req.headers)) {
    if (value === undefined || name === 'content-length' || name === 'transfer-encoding') continue;
    try {
      headers.set(name, Array.isArray(value) ? value.join(', ') : value);
    } catch {
      return undefined; // a header value web Headers refuse: not a request of the 2026 revision's clients
    }
  }
  let url: URL;
  try {
    url = new URL(ctx.href);
  } catch {
    url = new URL('http://localhost/mcp'); // a Host header no URL can hold: the request's own address is not needed
  }
  // No body: the SDK is handed the parsed one (parsedBody), so it is never serialized again.
  return new Request(url, { method: ctx.method, headers, signal });
}

export function mcpHandlers(deps: AppDeps): Pick<Handlers, 'mcp' | 'mcpGet' | 'mcpDelete'> {
  const modernHandlers = new ModernHandlers(deps, (c) => buildModernServer(deps, c.authInfo));
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
      const perRequest: PerRequest = { asks: taskAsks(ctx.request.body), listing: !callsTools(ctx.request.body), created: new Map() };
      // Aborted when the client leaves, also before the SDK answered: a listen stream then ends with it.
      const left = new AbortController();
      ctx.res.once('close', () => left.abort());
      if (ctx.res.destroyed || ctx.req.socket?.destroyed) left.abort(); // (the request stream itself ends once its body is read)
      const request = webRequest(ctx, left.signal);
      // The 2.x SDK's classifier decides the revision; anything it cannot place stays with the 1.x server, as before.
      if (request && !(await modern.isLegacyRequest(request, ctx.request.body).catch(() => true))) {
        const answer = await modernHandlers.of(ctx.state.account!.id).fetch(request, {
          parsedBody: ctx.request.body,
          authInfo: { token: ctx.state.token!, clientId: ctx.state.account!.id, scopes: [], extra: { ...auth, perRequest } },
        });
        // Written as the SDK answered it, as the 1.x transport writes its own (an event stream may stay open).
        ctx.respond = false;
        if (left.signal.aborted) {
          await answer.body?.cancel().catch(() => undefined);
          return;
        }
        ctx.res.statusCode = answer.status;
        answer.headers.forEach((value, name) => ctx.res.setHeader(name, value));
        if (!answer.body) {
          ctx.res.end();
          return;
        }
        const stream = Readable.fromWeb(answer.body as never);
        ctx.res.on('close', () => stream.destroy());
        stream.on('error', () => ctx.res.destroy());
        stream.pipe(ctx.res);
        // A stream that stays open (subscriptions/listen) lasts only as long as the token that opened it.
        if (answer.headers.get('content-type')?.startsWith('text/event-stream')) endWhenRevoked(deps, ctx.get('authorization'), ctx.res);
        return;
      }
      if (Array.isArray(ctx.request.body) && perRequest.asks.size > 0) {
        // Task-augmented requests came with 2025-11-25, which has no batches.
        ctx.body = ctx.request.body.filter((m) => m && typeof m === 'object' && (m as JsonRpcMessage).id !== undefined)
          .map((m) => ({ jsonrpc: '2.0', id: (m as JsonRpcMessage).id, error: { code: ErrorCode.InvalidRequest, message: 'a task-augmented request (params.task) is not taken in a batch: send it alone' } }));
        return;
      }
      // Made only for a request the SDK will take (it refuses one whose Accept lacks either type, 406).
      const accepts = ctx.get('accept');
      const notCreated = accepts.includes('application/json') && accepts.includes('text/event-stream')
        ? await startLegacyTasks(deps, ctx.state.account!.id, ctx.request.body, tools, perRequest) : [];
      if (notCreated.length > 0) {
        ctx.body = notCreated[0];
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
