import assert from 'node:assert/strict';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { McpError } from '@modelcontextprotocol/sdk/types.js';
import { platform } from './support/hooks.js';
import { newToken } from './support/http.js';

describe('MCP over Streamable HTTP (the SDK\'s own client)', () => {
  let client: Client;
  let token: string;

  before(async () => {
    token = await newToken();
    client = new Client({ name: 'durabox-test', version: '1.0.0' });
    await client.connect(new StreamableHTTPClientTransport(new URL(`${platform.url}/mcp`), {
      requestInit: { headers: { Authorization: `Bearer ${token}` } },
    }));
  });
  after(async () => { await client.close(); });

  it('lists pythonExec and echo with descriptions and strict input schemas', async () => {
    const { tools } = await client.listTools();
    const byName = new Map(tools.map((t) => [t.name, t]));
    for (const name of ['pythonExec', 'echo']) {
      const t = byName.get(name);
      assert.ok(t, name);
      assert.ok((t!.description ?? '').length > 60, `${name} explains when to use it`);
      assert.equal(t!.inputSchema.additionalProperties, false);
      assert.ok(t!.outputSchema);
    }
    assert.deepEqual(byName.get('pythonExec')!.inputSchema.required, ['code']);
  });

  it('pythonExec runs code and returns structured output', async () => {
    const r = await client.callTool({ name: 'pythonExec', arguments: { code: 'print(6*7)' } });
    assert.ok(!r.isError);
    assert.deepEqual(r.structuredContent, { output: '42\n', stderr: '', exit_code: 0, stdout_truncated: false, stderr_truncated: false });
  });

  it('a non-zero exit is a normal tool result', async () => {
    const r = await client.callTool({ name: 'pythonExec', arguments: { code: 'raise SystemExit(5)' } });
    assert.ok(!r.isError);
    assert.equal((r.structuredContent as { exit_code: number }).exit_code, 5);
  });

  it('an execution failure is a tool result with isError and a clear message', async () => {
    const r = await client.callTool({ name: 'pythonExec', arguments: { code: 'while True: pass', timeout_ms: 1000 } });
    assert.equal(r.isError, true);
    const text = (r.content as Array<{ text: string }>)[0].text;
    assert.match(text, /^timeout: /, 'the error table\'s code, then the message');
    assert.doesNotMatch(text, /HTTP|50\d|40\d/, 'no HTTP status in an MCP error');
  });

  it('a session failure reads session_not_found: <message>, as REST answers 404 for it', async () => {
    const r = await client.callTool({ name: 'terminalExec', arguments: { command: 'true', session_id: 'sess_never_made' } });
    assert.equal(r.isError, true);
    assert.match((r.content as Array<{ text: string }>)[0].text, /^session_not_found: /);
  });

  it('lists every tool with its input schema refusing unknown fields, output schemas and annotations', async () => {
    const { tools } = await client.listTools();
    const byName = new Map(tools.map((t) => [t.name, t]));
    for (const name of ['echo', 'pythonExec', 'terminalExec', 'readImage', 'readFile', 'writeFile', 'listFiles', 'glob', 'grep', 'editFile', 'moveFile', 'copyFile', 'makeDirectory']) assert.ok(byName.has(name), name);
    assert.equal(byName.get('pythonExec')!.inputSchema.additionalProperties, false);
    assert.deepEqual(Object.keys(byName.get('pythonExec')!.outputSchema!.properties!).sort(), ['exit_code', 'output', 'stderr', 'stderr_truncated', 'stdout_truncated']);
    assert.equal(byName.get('pythonExec')!.annotations?.openWorldHint, true);
    assert.equal(byName.get('terminalExec')!.annotations?.destructiveHint, true);
  });

  it('echo round-trips', async () => {
    const r = await client.callTool({ name: 'echo', arguments: { message: 'ping' } });
    assert.deepEqual(r.structuredContent, { message: 'ping' });
  });

  it('an unknown argument is refused with -32602', async () => {
    await assert.rejects(
      client.callTool({ name: 'pythonExec', arguments: { code: 'print(1)', shell: true } }),
      (e: unknown) => e instanceof McpError && e.code === -32602 && /shell/.test(e.message),
    );
  });

  it('a wrong type is refused with -32602 naming the field', async () => {
    await assert.rejects(
      client.callTool({ name: 'pythonExec', arguments: { code: 'print(1)', timeout_ms: 'soon' } }),
      (e: unknown) => e instanceof McpError && e.code === -32602 && /timeout_ms/.test(e.message),
    );
  });

  it('refuses a batch of more than 20 messages as a whole, with one Invalid Request answer', async () => {
    const batch = Array.from({ length: 21 }, (_, i) => ({ jsonrpc: '2.0', id: i, method: 'tools/call', params: { name: 'echo', arguments: { message: `m${i}` } } }));
    const res = await fetch(`${platform.url}/mcp`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream', authorization: `Bearer ${token}` },
      body: JSON.stringify(batch),
    });
    assert.equal(res.status, 400);
    const body = await res.json() as { id: unknown; error: { code: number; message: string } };
    assert.equal(body.id, null);
    assert.equal(body.error.code, -32600);
    assert.match(body.error.message, /at most 20/);
  });

  it('answers 401 without a valid token and 405 to GET', async () => {
    const init = { jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'x', version: '1' } } };
    const headers = { 'content-type': 'application/json', accept: 'application/json, text/event-stream' };
    const none = await fetch(`${platform.url}/mcp`, { method: 'POST', headers, body: JSON.stringify(init) });
    assert.equal(none.status, 401);
    const bad = await fetch(`${platform.url}/mcp`, { method: 'POST', headers: { ...headers, authorization: 'Bearer dbx_wrong' }, body: JSON.stringify(init) });
    assert.equal(bad.status, 401);
    const get = await fetch(`${platform.url}/mcp`, { headers: { authorization: `Bearer ${token}` } });
    assert.equal(get.status, 405);
    assert.equal(get.headers.get('allow'), 'POST');
  });
});
