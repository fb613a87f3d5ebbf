// Reference API §8 (MCP over Streamable HTTP, bearer token), replayed against durabox with the SDK's own client.
import assert from 'node:assert/strict';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { platform } from '../e2e/support/hooks.js';
import { newToken } from '../e2e/support/http.js';
import {
  assertInvalidParams, assertTerminalOutput, assertToolError, contentOf, endSession, lettersOnly, MAKE_PNG, mcpClient,
} from './support/reference.js';

type Schema = { type?: string; properties?: Record<string, Schema>; required?: string[]; additionalProperties?: unknown; minimum?: number; maximum?: number; default?: unknown };
type Tool = { name: string; inputSchema: Schema; annotations?: Record<string, unknown> };

const HEADERS = { 'content-type': 'application/json', accept: 'application/json, text/event-stream' };
const INITIALIZE = { jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'raw', version: '1' } } };

/** The documented bounds of a timeout_ms argument. */
function assertTimeout(tool: Tool, max: number, dflt: number): void {
  const t = tool.inputSchema.properties?.timeout_ms;
  assert.ok(t, `${tool.name} has timeout_ms`);
  assert.equal(t!.type, 'integer', `${tool.name}.timeout_ms is an integer`);
  assert.equal(t!.minimum, 1, `${tool.name}.timeout_ms minimum`);
  assert.equal(t!.maximum, max, `${tool.name}.timeout_ms maximum`);
  assert.equal(t!.default, dflt, `${tool.name}.timeout_ms default`);
  assert.ok(!(tool.inputSchema.required ?? []).includes('timeout_ms'), `${tool.name}.timeout_ms is optional`);
}

describe('reference API §8 MCP', function () {
  this.timeout(60_000);
  let token: string;
  let client: Client;
  let tools: Map<string, Tool>;
  before(async () => {
    token = await newToken();
    client = await mcpClient(token);
    tools = new Map((await client.listTools()).tools.map((t) => [t.name, t as unknown as Tool]));
  });
  after(async () => { await client?.close(); });

  describe('endpoint and auth', () => {
    it('GET /mcp answers 405 with Allow: POST', async () => {
      const r = await fetch(`${platform.url}/mcp`, { headers: { authorization: `Bearer ${token}`, accept: 'text/event-stream' } });
      assert.equal(r.status, 405);
      assert.equal(r.headers.get('allow'), 'POST');
    });

    it('POST /mcp without a token or with an invalid one answers 401', async () => {
      assert.equal((await fetch(`${platform.url}/mcp`, { method: 'POST', headers: HEADERS, body: JSON.stringify(INITIALIZE) })).status, 401);
      const bad = await fetch(`${platform.url}/mcp`, { method: 'POST', headers: { ...HEADERS, authorization: 'Bearer obx_not_a_token' }, body: JSON.stringify(INITIALIZE) });
      assert.equal(bad.status, 401);
    });

    it('stateless JSON responses: initialize with the recommended headers answers application/json', async () => {
      const r = await fetch(`${platform.url}/mcp`, { method: 'POST', headers: { ...HEADERS, authorization: `Bearer ${token}` }, body: JSON.stringify(INITIALIZE) });
      assert.equal(r.status, 200);
      assert.match(r.headers.get('content-type') ?? '', /application\/json/);
      assert.equal(r.headers.get('mcp-session-id'), null, 'stateless: no MCP session');
      const body = await r.json();
      assert.equal(body.jsonrpc, '2.0');
      assert.equal(body.id, 1);
      assert.ok(body.result.capabilities.tools, 'the server offers tools');
    });

    it('an empty JSON-RPC batch answers one error object (id null, -32600), not an array', async () => {
      const r = await fetch(`${platform.url}/mcp`, { method: 'POST', headers: { ...HEADERS, authorization: `Bearer ${token}` }, body: '[]' });
      assert.ok(r.status >= 400 && r.status < 500, `a 4xx, got ${r.status}`);
      const text = await r.text();
      const body = JSON.parse(text);
      assert.ok(!Array.isArray(body), `one object, got ${text}`);
      assert.equal(body.jsonrpc, '2.0');
      assert.equal(body.id, null);
      assert.equal(body.error?.code, -32600, text);
      assert.equal(typeof body.error.message, 'string');
    });
  });

  describe('§8.2 tool definitions (tools/list)', () => {
    it('lists echo, pythonExec, terminalExec and readImage with input schemas refusing additional properties', () => {
      for (const name of ['echo', 'pythonExec', 'terminalExec', 'readImage']) {
        const t = tools.get(name);
        assert.ok(t, `${name} is listed`);
        assert.equal(t!.inputSchema.type, 'object');
        assert.equal(t!.inputSchema.additionalProperties, false, `${name} refuses unknown arguments`);
      }
    });

    it('echo {message (required), timeout_ms 1..60000 = 5000}', () => {
      const t = tools.get('echo')!;
      assert.deepEqual(Object.keys(t.inputSchema.properties!).sort(), ['message', 'timeout_ms']);
      assert.deepEqual(t.inputSchema.required, ['message']);
      assert.equal(t.inputSchema.properties!.message.type, 'string');
      assertTimeout(t, 60000, 5000);
    });

    it('pythonExec {code (required), timeout_ms 1..600000 = 60000}, plus durabox\'s optional template', () => {
      const t = tools.get('pythonExec')!;
      // The reference's arguments, and one addition a reference client never needs to send (spec §3.2).
      assert.deepEqual(Object.keys(t.inputSchema.properties!).sort(), ['code', 'template', 'timeout_ms']);
      assert.equal(t.inputSchema.properties!.template.type, 'string');
      assert.deepEqual(t.inputSchema.required, ['code']);
      assert.equal(t.inputSchema.properties!.code.type, 'string');
      assertTimeout(t, 600000, 60000);
    });

    it('terminalExec {command (required), session_id?, create_if_missing? = false, lease_ttl_sec?, timeout_ms 1..600000 = 60000}, plus durabox\'s optional template, from_snapshot and fork_from', () => {
      const t = tools.get('terminalExec')!;
      assert.deepEqual(Object.keys(t.inputSchema.properties!).sort(), ['command', 'create_if_missing', 'fork_from', 'from_snapshot', 'lease_ttl_sec', 'session_id', 'template', 'timeout_ms']);
      assert.equal(t.inputSchema.properties!.template.type, 'string');
      assert.equal(t.inputSchema.properties!.from_snapshot.type, 'string');
      assert.equal(t.inputSchema.properties!.fork_from.type, 'string');
      assert.deepEqual(t.inputSchema.required, ['command']);
      assert.equal(t.inputSchema.properties!.command.type, 'string');
      assert.equal(t.inputSchema.properties!.session_id.type, 'string');
      assert.equal(t.inputSchema.properties!.create_if_missing.type, 'boolean');
      assert.equal(t.inputSchema.properties!.create_if_missing.default, false);
      assert.equal(t.inputSchema.properties!.lease_ttl_sec.type, 'integer');
      assertTimeout(t, 600000, 60000);
    });

    it('readImage {session_id, file_path (both required), timeout_ms 1..600000 = 60000}', () => {
      const t = tools.get('readImage')!;
      assert.deepEqual(Object.keys(t.inputSchema.properties!).sort(), ['file_path', 'session_id', 'timeout_ms']);
      assert.deepEqual([...(t.inputSchema.required ?? [])].sort(), ['file_path', 'session_id']);
      assertTimeout(t, 600000, 60000);
    });
  });

  describe('§8.2 tool calls', () => {
    const sessions: string[] = [];
    after(async () => { for (const s of sessions) await endSession(token, s); });

    it('echo answers {message}', async () => {
      const r = await client.callTool({ name: 'echo', arguments: { message: 'hello', timeout_ms: 5000 } });
      assert.ok(!r.isError, JSON.stringify(r));
      assert.deepEqual(r.structuredContent, { message: 'hello' });
    });

    it('pythonExec answers {output, stderr, exit_code}', async () => {
      const r = await client.callTool({ name: 'pythonExec', arguments: { code: 'print(1)', timeout_ms: 60000 } });
      assert.ok(!r.isError, JSON.stringify(r));
      const out = r.structuredContent as Record<string, unknown>;
      assert.equal(out.output, '1\n');
      assert.equal(out.stderr, '');
      assert.equal(out.exit_code, 0);
    });

    it('pythonExec: a non-zero exit_code is normal tool output, not an error', async () => {
      const r = await client.callTool({ name: 'pythonExec', arguments: { code: 'import sys; print("bye", file=sys.stderr); sys.exit(4)' } });
      assert.equal(r.isError ?? false, false, JSON.stringify(r));
      const out = r.structuredContent as Record<string, unknown>;
      assert.equal(out.exit_code, 4);
      assert.equal(out.stderr, 'bye\n');
    });

    it('terminalExec answers the terminal output; the returned session_id keeps its files', async () => {
      const a = await client.callTool({ name: 'terminalExec', arguments: { command: 'pwd > where.txt; pwd', lease_ttl_sec: 60, timeout_ms: 60000 } });
      assert.ok(!a.isError, JSON.stringify(a));
      const first = a.structuredContent as Record<string, unknown>;
      sessions.push(first.session_id as string);
      assertTerminalOutput(first);
      assert.equal(first.created, true);
      const b = await client.callTool({ name: 'terminalExec', arguments: { command: 'cat where.txt', session_id: first.session_id, create_if_missing: false } });
      const second = b.structuredContent as Record<string, unknown>;
      assertTerminalOutput(second);
      assert.equal(second.created, false);
      assert.equal(second.stdout, first.stdout);
    });

    it('terminalExec with create_if_missing true creates the named session', async () => {
      const id = lettersOnly('named');
      const r = await client.callTool({ name: 'terminalExec', arguments: { command: 'echo hi', session_id: id, create_if_missing: true } });
      assert.ok(!r.isError, JSON.stringify(r));
      sessions.push(id);
      const out = r.structuredContent as Record<string, unknown>;
      assert.equal(out.session_id, id);
      assert.equal(out.created, true);
      assert.equal(out.stdout, 'hi\n');
    });

    it('readImage: an image/* file is one image content item; anything else one text item "unsupported mime type: <mime>; expected image/*"', async () => {
      const made = await client.callTool({ name: 'terminalExec', arguments: { command: `${MAKE_PNG}\nprintf 'plain text\\n' > a.txt`, lease_ttl_sec: 60 } });
      assert.ok(!made.isError, JSON.stringify(made));
      const sid = (made.structuredContent as { session_id: string }).session_id;
      sessions.push(sid);
      const img = await client.callTool({ name: 'readImage', arguments: { session_id: sid, file_path: '/workspace/a.png', timeout_ms: 60000 } });
      assert.ok(!img.isError, JSON.stringify(img));
      const items = contentOf(img);
      assert.equal(items.length, 1, JSON.stringify(items));
      assert.equal(items[0].type, 'image');
      assert.equal(items[0].mimeType, 'image/png');
      assert.equal(Buffer.from(items[0].data!, 'base64').subarray(1, 4).toString(), 'PNG');
      const txt = await client.callTool({ name: 'readImage', arguments: { session_id: sid, file_path: 'a.txt' } });
      assert.deepEqual(contentOf(txt), [{ type: 'text', text: 'unsupported mime type: text/plain; expected image/*' }]);
    });
  });

  describe('§8.3 MCP errors', () => {
    it('an unknown argument is JSON-RPC -32602 invalid params, for every tool', async () => {
      const calls: Array<[string, Record<string, unknown>]> = [
        ['echo', { message: 'x', colour: 'red' }],
        ['pythonExec', { code: 'print(1)', shell: true }],
        ['terminalExec', { command: 'pwd', request_id: 'not-an-mcp-argument' }],
        ['readImage', { session_id: 'x', file_path: 'a.png', encoding: 'base64' }],
      ];
      for (const [name, args] of calls) await assertInvalidParams(client.callTool({ name, arguments: args }));
    });

    it('a missing required argument or a timeout_ms out of range is -32602', async () => {
      await assertInvalidParams(client.callTool({ name: 'echo', arguments: {} }), /message/);
      await assertInvalidParams(client.callTool({ name: 'pythonExec', arguments: {} }), /code/);
      await assertInvalidParams(client.callTool({ name: 'terminalExec', arguments: {} }), /command/);
      await assertInvalidParams(client.callTool({ name: 'readImage', arguments: { session_id: 'x' } }), /file_path/);
      await assertInvalidParams(client.callTool({ name: 'echo', arguments: { message: 'x', timeout_ms: 60001 } }), /timeout_ms/);
      await assertInvalidParams(client.callTool({ name: 'pythonExec', arguments: { code: 'print(1)', timeout_ms: 0 } }), /timeout_ms/);
      await assertInvalidParams(client.callTool({ name: 'terminalExec', arguments: { command: 'pwd', timeout_ms: 600001 } }), /timeout_ms/);
    });

    it('an execution failure is a tool result with isError=true: terminalExec on an unknown session_id', async () => {
      const r = await client.callTool({ name: 'terminalExec', arguments: { command: 'pwd', session_id: lettersOnly('missing') } });
      assertToolError(r, 'session_not_found');
    });
  });
});
