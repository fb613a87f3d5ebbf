// MCP over Streamable HTTP at POST /mcp: stateless (a new server and transport per request) and JSON
// responses. Tools run the same task workflows as REST, as the caller's account. The SDK's own
// tools/call handler runs every call, so declared output schemas are checked; arguments are checked
// before the SDK sees them, because the SDK reports invalid arguments as a tool result while durabox's
// contract is a JSON-RPC -32602 naming the field.
import { SpanStatusCode } from '@opentelemetry/api';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import { ErrorCode, type CallToolResult, type ServerNotification } from '@modelcontextprotocol/sdk/types.js';
import { PRODUCT_VERSION } from '../config/paths.js';
import { DuraboxError } from '../contract/errors.js';
import { describeIssues } from '../contract/schemas.js';
import type { AppDeps } from './context.js';
import { accountOf, asToolResult, originOf, toolSpecs, type Extra, type Progress, type ToolSpec } from './mcp-tools.js';
import type { Handlers } from './routes.js';

export function buildMcpServer(deps: AppDeps, tools = toolSpecs(deps)): McpServer {
  const server = new McpServer({ name: 'durabox', version: PRODUCT_VERSION });
  for (const [name, tool] of Object.entries(tools)) {
    server.registerTool(name, { ...tool.config, inputSchema: tool.input }, async (args, extra) =>
      inToolSpan(deps, name, () => asToolResult(() => tool.run(args, accountOf(extra as Extra), progressOf(extra), originOf(extra as Extra)))));
  }
  return server;
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

export function mcpHandlers(deps: AppDeps): Pick<Handlers, 'mcp' | 'mcpGet' | 'mcpDelete'> {
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
      const server = buildMcpServer(deps, tools);
      // JSON answers, unless the caller wants progress: notifications need the answer to be an event stream.
      const transport = new StreamableHTTPServerTransport({ sessionIdGenerator: undefined, enableJsonResponse: !asksProgress(ctx.request.body) });
      (ctx.req as unknown as { auth: unknown }).auth = {
        token: ctx.state.token!, clientId: ctx.state.account!.id, scopes: [], extra: { accountId: ctx.state.account!.id, origin: { protocol: ctx.protocol, host: ctx.host } },
      };
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
