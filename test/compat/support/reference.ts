// Helpers of the wire-compatibility suite: the reference platform's documented shapes (onlyboxes API
// reference, sections 3–8) as assertions, and the real MCP SDK client a reference client would use.
// The platform itself is the e2e suite's (one real platform per run, see test/e2e/support/hooks.ts).
import assert from 'node:assert/strict';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { McpError } from '@modelcontextprotocol/sdk/types.js';
import { platform } from '../../e2e/support/hooks.js';
import { call, type Res } from '../../e2e/support/http.js';

export const unique = (prefix: string): string => `${prefix}-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 6)}`;

/** A name of letters only: nothing in it can be mistaken for an HTTP status in an error text. */
export const lettersOnly = (prefix: string): string => `${prefix}${Array.from({ length: 10 }, () => String.fromCharCode(97 + Math.floor(Math.random() * 26))).join('')}`;

const RFC3339 = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/;

/** "Time fields are RFC3339 timestamps" (reference §2). */
export function assertTime(value: unknown, field: string): void {
  assert.equal(typeof value, 'string', `${field} is a string`);
  assert.match(value as string, RFC3339, `${field} is RFC 3339`);
  assert.ok(!Number.isNaN(Date.parse(value as string)), `${field} parses`);
}

/** The reference's error body (§2): `{ "error": "<message>" }` with the documented status. */
export function assertError(res: Res, status: number, message?: RegExp | string): void {
  assert.equal(res.status, status, `expected ${status}, got ${res.status}: ${JSON.stringify(res.body)}`);
  assert.ok(res.body && typeof res.body === 'object' && !Array.isArray(res.body), `a JSON object body: ${JSON.stringify(res.body)}`);
  assert.equal(typeof res.body.error, 'string', `error is a string: ${JSON.stringify(res.body)}`);
  assert.ok(res.body.error.length > 0, 'error is not empty');
  if (typeof message === 'string') assert.equal(res.body.error, message);
  else if (message) assert.match(res.body.error, message);
}

/** The terminalExec output of reference §6.2 / §8.2: exactly these fields, with these types. */
export const TERMINAL_OUTPUT_FIELDS: Record<string, string> = {
  session_id: 'string',
  created: 'boolean',
  stdout: 'string',
  stderr: 'string',
  exit_code: 'number',
  stdout_truncated: 'boolean',
  stderr_truncated: 'boolean',
  lease_expires_unix_ms: 'number',
};

export function assertTerminalOutput(body: Record<string, unknown>): void {
  assert.deepEqual(Object.keys(body).sort(), Object.keys(TERMINAL_OUTPUT_FIELDS).sort(), JSON.stringify(body));
  for (const [field, type] of Object.entries(TERMINAL_OUTPUT_FIELDS)) assert.equal(typeof body[field], type, `${field}: ${JSON.stringify(body[field])}`);
  assert.ok(Number.isInteger(body.exit_code), 'exit_code is an integer');
  assert.ok(Number.isInteger(body.lease_expires_unix_ms) && (body.lease_expires_unix_ms as number) > Date.now() - 1000, 'lease_expires_unix_ms is a Unix time in ms');
  assert.ok((body.session_id as string).length > 0, 'session_id is not empty');
}

/** POST /api/v1/commands/terminal as a reference client sends it. */
export function terminal(token: string, body: unknown): Promise<Res> {
  return call('POST', '/api/v1/commands/terminal', { token, body });
}

/** Ends a session (a durabox addition; the reference lets the lease run out): keeps the worker's host tidy. */
export async function endSession(token: string, sessionId: string | undefined): Promise<void> {
  if (sessionId) await call('DELETE', `/api/v1/sessions/${encodeURIComponent(sessionId)}`, { token }).catch(() => undefined);
}

/** The MCP SDK's own client over Streamable HTTP with a bearer token, as reference §8 describes. */
export async function mcpClient(token: string): Promise<Client> {
  const client = new Client({ name: 'reference-compat', version: '1.0.0' });
  await client.connect(new StreamableHTTPClientTransport(new URL(`${platform.url}/mcp`), {
    requestInit: { headers: { Authorization: `Bearer ${token}` } },
  }));
  return client;
}

/** "Invalid tool params: JSON-RPC error -32602" (reference §8.3): the SDK client's callTool rejects with it. */
export async function assertInvalidParams(work: Promise<unknown>, message?: RegExp): Promise<void> {
  await assert.rejects(work, (e: unknown) => {
    assert.ok(e instanceof McpError, `an McpError, got ${String(e)}`);
    assert.equal(e.code, -32602, e.message);
    if (message) assert.match(e.message, message);
    return true;
  });
}

type Content = Array<{ type: string; text?: string; data?: string; mimeType?: string }>;

/** The content items of a tool result (the SDK's result type is a union; its content is what reference §8.2 describes). */
export function contentOf(result: object): Content {
  return ((result as { content?: unknown }).content ?? []) as Content;
}

/** A tool execution error (reference §8.3: tool error content, isError=true) in durabox's `<code>: <message>` form. */
export function assertToolError(result: object, code: string): string {
  assert.equal((result as { isError?: unknown }).isError, true, JSON.stringify(result));
  const content = contentOf(result);
  assert.equal(content[0]?.type, 'text');
  const text = content[0].text!;
  assert.match(text, /^[a-z_]+: /, 'reads <code>: <message>');
  assert.ok(text.startsWith(`${code}: `), `starts with ${code}: ${text}`);
  assert.doesNotMatch(text, /^\s*\d{3}\b/, 'no HTTP status at the start');
  assert.doesNotMatch(text, /\b(400|401|403|404|409|429|500|502|503|504)\b|HTTP/, `no HTTP status in the text: ${text}`);
  return text;
}

/** A 2×1 PNG written by Python's standard library alone (the same picture the e2e suite uses). */
export const MAKE_PNG = `python3 - <<'PY'
import struct, zlib
def chunk(t, d): return struct.pack('>I', len(d)) + t + d + struct.pack('>I', zlib.crc32(t + d) & 0xffffffff)
raw = b'\\x00\\xff\\x00\\x00\\x00\\x00\\xff'
png = b'\\x89PNG\\r\\n\\x1a\\n' + chunk(b'IHDR', struct.pack('>IIBBBBB', 2, 1, 8, 2, 0, 0, 0)) + chunk(b'IDAT', zlib.compress(raw)) + chunk(b'IEND', b'')
open('a.png', 'wb').write(png)
PY`;
