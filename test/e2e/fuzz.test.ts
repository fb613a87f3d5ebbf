// Seeded fuzzing of every REST endpoint and MCP tool (spec §8): thousands of malformed requests (wrong
// types, missing and unknown fields, out-of-range numbers, oversize and broken bodies, deep nesting, odd
// Unicode, other accounts' ids, path traversal). Each must get a 4xx (a JSON-RPC error for MCP) that
// names the field at fault; never a 5xx. A task started before the storm must still finish correctly.
// The seed is printed; DURABOX_FUZZ_SEED=<seed> replays the same requests.
import assert from 'node:assert/strict';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { McpError } from '@modelcontextprotocol/sdk/types.js';
import { platform } from './support/hooks.js';
import { call, login, newToken } from './support/http.js';

const SEED = Number(process.env.DURABOX_FUZZ_SEED ?? Math.floor(Math.random() * 2 ** 31));
const MAX_REQUESTS = { rest: 2300, files: 40, mcp: 500, sdk: 60 };
/** Wall-clock bound of all fuzzing together, and the share of it the REST storm may take. */
const TIME_BUDGET_MS = 60_000;
const REST_BUDGET_MS = 40_000;

/** mulberry32: small, fast, and the same sequence for the same seed everywhere. */
function prng(seed: number) {
  let a = seed >>> 0;
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  return {
    next,
    int: (n: number) => Math.floor(next() * n),
    pick: <T>(xs: readonly T[]): T => xs[Math.floor(next() * xs.length)],
    chance: (p: number) => next() < p,
  };
}
type Rng = ReturnType<typeof prng>;

// ---- what each input accepts, and values it must refuse ---------------------------------------------

type Field =
  // `db`: the value is stored in or looked up in PostgreSQL, which refuses NUL characters.
  | { t: 'str'; min?: number; max?: number; nonBlank?: boolean; pattern?: 'session' | 'path'; db?: boolean; required?: boolean }
  | { t: 'int'; min: number; max: number; required?: boolean }
  | { t: 'bool'; required?: boolean }
  // `anyCase`: matched without regard to case, and empty means absent (as the reference platform reads `mode`).
  | { t: 'enum'; values: string[]; anyCase?: boolean; required?: boolean }
  | { t: 'record'; required?: boolean };
type Shape = Record<string, Field>;

const ODD = ['\u0000', '\ud800', '\udfff', '\u202e', '\u200b', '\ufeff', '\uffff', '😀', 'Ω≈ç√', '\r\n\t', '<script>', "' OR 1=1 --", '${jndi:x}', '%00', '%s%n'];

/** A value nested `depth` arrays deep; `toJson` writes it out without recursing (JSON.stringify would overflow). */
function deep(depth: number, leaf: unknown = 1): unknown {
  return { [DEEP]: depth, leaf };
}
const DEEP = '__fuzz_deep__';

function toJson(value: unknown): string {
  const nests: string[] = [];
  const text = JSON.stringify(value, (_k, v) => {
    if (v && typeof v === 'object' && DEEP in v) {
      nests.push(`${'['.repeat(v[DEEP])}${JSON.stringify(v.leaf)}${']'.repeat(v[DEEP])}`);
      return `@@deep${nests.length - 1}@@`;
    }
    return v;
  });
  return text.replace(/"@@deep(\d+)@@"/g, (_m, i) => nests[Number(i)]);
}

/** Values the field must refuse, each with how it is wrong. */
function invalidValues(f: Field, r: Rng): unknown[] {
  const wrongTypes: unknown[] = [r.int(1000) - 500, true, null, [], { a: 1 }, deep(2000)];
  switch (f.t) {
    case 'str': {
      const v: unknown[] = wrongTypes.filter((x) => typeof x !== 'string');
      if ((f.min ?? 0) >= 1) v.push('');
      // A string past its limit, kept small enough that a few thousand requests stay cheap.
      if (f.max !== undefined && f.max <= 70_000) v.push('x'.repeat(f.max + 1));
      if (f.max !== undefined && f.max > 70_000 && r.chance(0.05)) v.push('y'.repeat(f.max + 1));
      if (f.nonBlank) v.push('   ', '\t\n ');
      if (f.db) v.push('a\u0000b');
      if (f.pattern === 'session') v.push('../etc', 'a b', '-lead', 'x'.repeat(129), 'é', 'a/b', '\u0000', 'sess_\ud800');
      if (f.pattern === 'path') v.push('../etc/passwd', '/workspace/../etc/shadow', 'a/../../b', '..', 'a\u0000b', 'z'.repeat(4097));
      return v;
    }
    case 'int':
      return [f.min - 1, f.max + 1, f.min + 0.5, String(f.min), null, true, [], {}, 1e308, -1e308, 'NaN', ''];
    case 'bool':
      return ['true', 1, 0, null, 'yes', [], {}];
    case 'enum':
      if (f.anyCase) return ['bogus', 5, null, `${f.values[0]}x`, [f.values[0]]];
      return ['bogus', 5, '', null, f.values[0].toUpperCase() === f.values[0] ? 'x' : f.values[0].toUpperCase(), [f.values[0]]];
    case 'record':
      return ['str', 5, [], null, true, deep(3000)];
  }
}

/** A valid value of a string field that is still odd: Unicode from the edges, within the rules. */
function oddButValid(f: Field, r: Rng): unknown | undefined {
  if (f.t !== 'str' || f.pattern) return undefined;
  const s = `ok${r.pick(ODD.filter((x) => x !== '\u0000'))}`;
  return f.max !== undefined && s.length > f.max ? undefined : s;
}

/** `field`: what the error must name. A `__proto__` key is refused by the body parser itself, naming it. */
interface Mutation { body: unknown; field: string; proto?: boolean }

/**
 * One guaranteed-invalid change to a valid template, plus harmless noise; `field` is what the error must
 * name. REST bodies ignore unknown fields, so they are noise there; MCP inputs are strict (`strict`).
 */
function mutate(template: Record<string, unknown>, shape: Shape, r: Rng, strict = false): Mutation {
  const body: Record<string, unknown> = structuredClone(template);
  const names = Object.keys(shape);
  let proto = false;
  if (!strict && r.chance(0.4)) {
    const key = r.pick(['extra', '__proto__', 'constructor', 'isAdmin', 'ŭnicode', '']);
    // defineProperty: a plain assignment to __proto__ would set the prototype instead of sending the key.
    Object.defineProperty(body, key, { value: r.pick([1, 'x', { admin: true }, null]), enumerable: true, writable: true, configurable: true });
    proto = key === '__proto__';
  }
  for (const n of names) {
    if (n in body && r.chance(0.2)) {
      const v = oddButValid(shape[n], r);
      if (v !== undefined) body[n] = v;
    }
  }
  const name = r.pick(names);
  const f = shape[name];
  if (f.required && r.chance(0.25)) {
    delete body[name];
  } else {
    body[name] = r.pick(invalidValues(f, r));
  }
  return { body, field: name, proto };
}

// ---- the endpoints ----------------------------------------------------------------------------------

const TASK: Shape = {
  capability: { t: 'str', min: 1, required: true },
  input: { t: 'record' },
  mode: { t: 'enum', values: ['sync', 'async', 'auto'], anyCase: true },
  wait_ms: { t: 'int', min: 1, max: 60_000 },
  timeout_ms: { t: 'int', min: 1, max: 600_000 },
  // Empty means absent, as the reference reads optional ids.
  request_id: { t: 'str', max: 128 },
};
const PYTHON: Shape = { code: { t: 'str', min: 1, max: 1_000_000, nonBlank: true, required: true }, timeout_ms: { t: 'int', min: 1, max: 600_000 } };
const ECHO: Shape = { message: { t: 'str', min: 1, max: 65_536, nonBlank: true, required: true }, timeout_ms: { t: 'int', min: 1, max: 60_000 } };
const TERMINAL: Shape = {
  command: { t: 'str', min: 1, max: 1_000_000, nonBlank: true, required: true },
  session_id: { t: 'str', pattern: 'session' },
  create_if_missing: { t: 'bool' },
  // The harness's configured lease bounds: outside them is refused, naming the bounds.
  lease_ttl_sec: { t: 'int', min: 1, max: 600 },
  timeout_ms: { t: 'int', min: 1, max: 600_000 },
};
const TERMINAL_BODY: Shape = { ...TERMINAL, request_id: { t: 'str', max: 128 } };
/** PUT /sessions/{id}/lease: within the harness's lease bounds, as lease_ttl_sec. */
const LEASE: Shape = { ttl_sec: { t: 'int', min: 1, max: 600, required: true } };
const TOKEN: Shape = { name: { t: 'str', min: 1, max: 64, nonBlank: true, db: true, required: true }, token: { t: 'str', min: 1, max: 256, nonBlank: true } };
const LOGIN: Shape = { username: { t: 'str', min: 1, max: 64, db: true, required: true }, password: { t: 'str', min: 1, max: 1024, required: true } };
const REGISTER: Shape = { username: { t: 'str', min: 1, max: 64, nonBlank: true, db: true, required: true }, password: { t: 'str', min: 1, max: 1024, nonBlank: true, required: true } };
const WORKER_CREATE: Shape = { type: { t: 'enum', values: ['normal'] } };
const TEMPLATE: Shape = {
  name: { t: 'str', min: 1, max: 63, required: true },
  base: { t: 'enum', values: ['python', 'terminal'], required: true },
  // full is not offered by default (DURABOX_TEMPLATE_NETWORKS); allowlist needs allow.
  network: { t: 'enum', values: ['none'] },
  memory_mb: { t: 'int', min: 64, max: 16_384 },
};

const PAGE: Shape = { page: { t: 'int', min: 1, max: 100 }, page_size: { t: 'int', min: 1, max: 100 } };
const QUERIES: Array<{ path: string; auth: Auth; shape: Shape; bad: Record<string, string[]> }> = [
  { path: '/api/v1/tasks', auth: 'token', shape: PAGE, bad: { status: ['bogus', '', 'RUNNING'], capability: ['c'.repeat(65)], page: ['0', '-1', 'abc', '1.5', '1e999', ''], page_size: ['0', '101', 'x'] } },
  { path: '/api/v1/sessions', auth: 'token', shape: PAGE, bad: { status: ['bogus', 'ACTIVE', ''], page: ['0', 'abc'], page_size: ['101', '-5'] } },
  { path: '/api/v1/console/tasks', auth: 'admin', shape: PAGE, bad: { status: ['bogus'], capability: ['c'.repeat(65), 'a\u0000b', "x' OR 1=1"], page: ['0', 'abc'], page_size: ['101'] } },
  { path: '/api/v1/console/sessions', auth: 'admin', shape: PAGE, bad: { status: ['bogus', ''], page: ['-1', '1e999'], page_size: ['0'] } },
  { path: '/api/v1/console/accounts', auth: 'admin', shape: PAGE, bad: { page: ['0', 'abc', '1.5'], page_size: ['101', '0'] } },
  { path: '/api/v1/workers', auth: 'admin', shape: PAGE, bad: { status: ['bogus', ''], page: ['0', '-2'], page_size: ['1000'] } },
  { path: '/api/v1/workers/stats', auth: 'admin', shape: {}, bad: { stale_after_sec: ['0', '-1', 'abc', '31536001', '1.5'] } },
];

type Auth = 'token' | 'other' | 'admin' | 'none' | 'worker';

interface Req {
  method: string;
  path: string;
  auth: Auth;
  /** Raw body text (or bytes) and its content type. */
  body?: string | Buffer;
  contentType?: string;
  headers?: Record<string, string>;
  /** Statuses that are right for this request. */
  expect: number[];
  /** For a 400: what the error message must name. */
  names?: RegExp;
  what: string;
}

const esc = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
const fieldRe = (field: string) => new RegExp(`(^|[ .;:("])${esc(field)}([ .:;)"]|$)`);
const namesOf = (m: Mutation) => (m.proto ? /prototype property/ : fieldRe(m.field));
/** Percent-encoding that never throws: a lone surrogate goes as U+FFFD, as a browser would send it. */
const pct = (s: string) => Array.from(Buffer.from(s, 'utf8'), (b) => `%${b.toString(16).padStart(2, '0')}`).join('');
const BROKEN_JSON = ['{', '{"a":}', "{'a':1}", '{"a":1}x', '[1,2', 'NaN', '{"a":01}', '{"a":"\\x"}', '{"a":"unterminated', '\u0000', '{"a":1,}', 'tru', '{"__proto__":'];

interface Ids { myTask: string; mySession: string; otherTokenId: string; myAccount: string }

function restRequests(r: Rng, n: number, ids: Ids): Req[] {
  const out: Req[] = [];
  const randomTaskId = () => `task_${Array.from({ length: 32 }, () => '0123456789abcdef'[r.int(16)]).join('')}`;
  const oddId = () => r.pick([
    randomTaskId(), `sess_${r.int(1e9)}`, 'x'.repeat(300), '%00', '%2e%2e%2fconsole', '%E0%A4%A', '%', '😀', "'; drop table accounts; --", `tok_${r.int(1e6)}`, 'wrk_%00',
  ]);
  const json = (m: Mutation, method: string, path: string, auth: Auth, what: string, expect = [400]): Req =>
    ({ method, path, auth, body: toJson(m.body), contentType: 'application/json', expect, names: namesOf(m), what });

  const makers: Array<() => Req> = [
    // POST /tasks: the body, then each capability's input.
    () => json(mutate({ capability: 'echo', input: { message: 'fuzz' }, mode: 'async' }, TASK, r), 'POST', '/api/v1/tasks', 'token', 'task body'),
    () => {
      const [capability, shape, input] = r.pick([
        ['pythonExec', PYTHON, { code: 'print(1)' }],
        ['echo', ECHO, { message: 'fuzz' }],
        ['terminalExec', TERMINAL, { command: 'true', lease_ttl_sec: 60 }],
      ] as const);
      const m = mutate(input as Record<string, unknown>, shape, r);
      return json({ ...m, body: { capability, input: m.body, mode: 'async' } }, 'POST', '/api/v1/tasks', 'token', `task input ${capability}`);
    },
    () => ({ method: 'POST', path: '/api/v1/tasks', auth: 'token', body: JSON.stringify({ capability: r.pick(['rmRf', 'python_exec', 'echo!', '', '   ', '__proto__']), input: {} }), contentType: 'application/json', expect: [400], names: /capability/, what: 'unknown capability' }),
    () => json(mutate({ message: 'fuzz' }, ECHO, r), 'POST', '/api/v1/commands/echo', 'token', 'echo body'),
    () => json(mutate({ command: 'true', lease_ttl_sec: 60 }, TERMINAL_BODY, r), 'POST', '/api/v1/commands/terminal', 'token', 'terminal body'),
    // The body is judged before the session is looked up: any id will do.
    () => json(mutate({ ttl_sec: 60 }, LEASE, r), 'PUT', `/api/v1/sessions/sess_${r.int(1e9)}/lease`, 'token', 'lease body'),
    () => json(mutate({ name: 'fz' }, TOKEN, r), 'POST', '/api/v1/console/tokens', 'admin', 'token body'),
    () => json(mutate({ username: 'nobody-fuzz', password: 'x' }, LOGIN, r), 'POST', '/api/v1/console/login', 'none', 'login body'),
    () => json(mutate({ username: 'fuzz-user', password: 'pw' }, REGISTER, r), 'POST', '/api/v1/console/register', 'admin', 'register body'),
    () => json(mutate({}, WORKER_CREATE, r), 'POST', '/api/v1/workers', 'admin', 'worker body'),
    () => json(mutate({ name: 'fz', base: 'python' }, TEMPLATE, r), 'POST', '/api/v1/templates', 'token', 'template body'),
    // Bodies that are not objects, broken JSON, deep nesting and wrong content types on every JSON endpoint.
    () => {
      const [method, path, auth] = r.pick(JSON_ENDPOINTS);
      const kind = r.int(4);
      if (kind === 0) return { method, path, auth, body: JSON.stringify(r.pick([[], [1], 'str', 42, null, true])), contentType: 'application/json', expect: [400], names: /\(body\)|JSON/, what: 'body not an object' };
      if (kind === 1) return { method, path, auth, body: r.pick(BROKEN_JSON), contentType: 'application/json', expect: [400], names: /JSON/, what: 'broken JSON' };
      if (kind === 2) return { method, path, auth, body: toJson(deep(20_000 + r.int(20_000))), contentType: 'application/json', expect: [400], names: /\(body\)/, what: 'deep nesting' };
      return { method, path, auth, body: '{"capability":"echo"}', contentType: r.pick(['text/plain', 'application/x-www-form-urlencoded', 'application/xml']), expect: [400, 415], what: 'wrong content type' };
    },
    // Queries.
    () => {
      const q = r.pick(QUERIES);
      const name = r.pick(Object.keys(q.bad));
      const repeated = r.chance(0.15);
      const value = r.pick(q.bad[name]);
      const qs = repeated ? `${name}=1&${name}=2` : `${name}=${pct(value)}`;
      return { method: 'GET', path: `${q.path}?${qs}&noise=${pct(r.pick(ODD))}`, auth: q.auth, expect: [400], names: fieldRe(name), what: 'bad query' };
    },
    // Ids that are not there, or not the caller's.
    () => {
      const mine = r.chance(0.3);
      const [method, path, expect] = r.pick([
        ['GET', `/api/v1/tasks/${mine ? ids.myTask : oddId()}`, [404]],
        ['POST', `/api/v1/tasks/${mine ? ids.myTask : oddId()}/cancel`, [404]],
        ['GET', `/api/v1/sessions/${mine ? ids.mySession : oddId()}`, [404]],
        ['DELETE', `/api/v1/sessions/${mine ? ids.mySession : oddId()}`, [404]],
        ['GET', `/api/v1/sessions/${mine ? ids.mySession : oddId()}/files?path=notes.txt`, [404]],
        ['PUT', `/api/v1/sessions/${mine ? ids.mySession : oddId()}/files?path=evil.txt`, [404]],
        ['DELETE', `/api/v1/sessions/${mine ? ids.mySession : oddId()}/files?path=notes.txt`, [404]],
      ] as Array<[string, string, number[]]>);
      // "mine" ids are another account's: the other account must see nothing of them.
      return { method, path, auth: mine ? 'other' : r.pick(['token', 'other'] as Auth[]), body: method === 'PUT' ? 'x' : undefined, contentType: 'application/octet-stream', expect, what: `${method} another's or an unknown id` };
    },
    // Pausing, resuming or setting the lease of another account's session, or of an unknown one.
    () => {
      const mine = r.chance(0.3);
      const [method, action, body] = r.pick([['POST', 'pause', undefined], ['POST', 'resume', undefined], ['PUT', 'lease', JSON.stringify({ ttl_sec: 60 })]] as Array<[string, string, string | undefined]>);
      return { method, path: `/api/v1/sessions/${mine ? ids.mySession : oddId()}/${action}`, auth: mine ? 'other' : r.pick(['token', 'other'] as Auth[]), body, contentType: 'application/json', expect: [404], what: `${method} ${action} of another's or an unknown session` };
    },
    () => {
      const id = r.chance(0.3) ? ids.otherTokenId : oddId();
      // An id the database cannot even look up (a NUL) may be a 400 instead of a 404.
      const missing = id.includes('%00') ? [400, 404] : [404];
      const [method, path, expect] = r.pick([
        ['DELETE', `/api/v1/console/tokens/${id}`, missing],
        ['GET', `/api/v1/console/tokens/${id}/value`, [410]],
        ['DELETE', `/api/v1/console/accounts/${id}`, missing],
        ['DELETE', `/api/v1/console/accounts/${ids.myAccount}`, [403]],
        ['DELETE', `/api/v1/workers/${id}`, missing],
        ['GET', `/api/v1/workers/${id}/startup-command`, [410]],
      ] as Array<[string, string, number[]]>);
      return { method, path, auth: 'admin', expect, what: `${method} unknown console id` };
    },
    // Filters with odd characters are answered, never a 5xx.
    () => ({ method: 'GET', path: `/api/v1/tasks?capability=${pct(r.pick(['a\u0000b', "x' OR 1=1", '\\', '\ud800', '"', '%']))}`, auth: 'token', expect: [200, 400], names: /capability/, what: 'odd filter' }),
    // Session file paths: missing, traversal, NUL, too long.
    () => {
      const method = r.pick(['GET', 'PUT', 'DELETE']);
      const path = r.pick(['', undefined, '../etc/passwd', '/workspace/../etc/shadow', 'a/../../b', '..', 'a\u0000b', 'z'.repeat(4097)]);
      const qs = path === undefined ? '' : `?path=${pct(path)}`;
      return { method, path: `/api/v1/sessions/${r.chance(0.5) ? `sess_${r.int(1e9)}` : 'anything'}/files${qs}`, auth: 'token', body: method === 'PUT' ? 'x' : undefined, contentType: 'application/octet-stream', expect: [400], names: /path/, what: 'bad file path' };
    },
    // Credentials that are missing, malformed or wrong.
    () => {
      const [method, path, auth] = r.pick([
        ['POST', '/api/v1/tasks', 'token'], ['GET', '/api/v1/tasks', 'token'], ['POST', '/api/v1/commands/echo', 'token'], ['GET', '/api/v1/sessions', 'token'],
        ['POST', '/mcp', 'token'], ['GET', '/api/v1/console/tokens', 'admin'], ['GET', '/api/v1/workers', 'admin'], ['GET', '/api/v1/console/session', 'admin'],
        ['GET', '/api/v1/workers/inflight', 'admin'], ['GET', '/api/v1/workers/stats', 'admin'], ['GET', '/api/v1/console/tasks', 'admin'], ['GET', '/api/v1/console/sessions', 'admin'],
        ['GET', '/api/v1/console/accounts', 'admin'], ['POST', '/api/v1/workers', 'admin'],
        ['POST', '/api/v1/registry/heartbeat', 'worker'], ['POST', '/api/v1/registry/goodbye', 'worker'],
      ] as Array<[string, string, Auth]>);
      const headers: Record<string, string> = auth === 'admin'
        ? { cookie: r.pick(['durabox_session=', `durabox_session=${'a'.repeat(200)}`, 'durabox_session=%00', 'durabox_session=x; durabox_session=y', 'other=1', `durabox_session=${r.int(1e9)}`]) }
        : { authorization: r.pick(['', 'Bearer', 'Bearer ', 'Basic YWRtaW46YWRtaW4=', `Bearer ${'t'.repeat(5000)}`, 'Bearer dbx_wrong', 'bearer  a b', `Bearer a:${'s'.repeat(300)}`, `Bearer ${'w'.repeat(200)}:x`, 'Bearer :', 'Bearer wrk_x:dbxw_y', 'Token x']) };
      return { method, path, auth: 'none', headers, body: method === 'POST' ? '{}' : undefined, contentType: 'application/json', expect: [401], what: `bad credential on ${path}` };
    },
    // Methods and paths that do not exist.
    () => {
      const [method, path, expect] = r.pick([
        ['PATCH', '/api/v1/tasks', [404, 405]], ['PUT', '/api/v1/tasks/task_0', [404, 405]], ['DELETE', '/api/v1/commands/echo', [404, 405]],
        ['GET', '/mcp', [405]], ['DELETE', '/mcp', [405]], ['POST', '/healthz', [404, 405]], ['PUT', '/metrics', [404, 405]], ['POST', '/api/v1/openapi.json', [404, 405]],
        ['GET', `/api/v1/${r.pick(['nope', 'tasks/../console', '%2e%2e', 'admin'])}`, [401, 404]], ['POST', '/api/v2/tasks', [404]],
      ] as Array<[string, string, number[]]>);
      return { method, path, auth: 'token', expect, what: `${method} ${path}` };
    },
  ];
  for (let i = 0; i < n; i++) out.push(r.pick(makers)());
  // A few oversize bodies: the body limit answers 413 before anything reads them.
  for (const [method, path, auth] of [['POST', '/api/v1/tasks', 'token'], ['POST', '/api/v1/commands/terminal', 'token'], ['POST', '/api/v1/console/login', 'none']] as Array<[string, string, Auth]>) {
    out.push({ method, path, auth, body: JSON.stringify({ capability: 'pythonExec', input: { code: `#${'x'.repeat(5 * 1024 * 1024)}` } }), contentType: 'application/json', expect: [413], names: /too large/, what: 'oversize body' });
  }
  out.push({ method: 'PUT', path: '/api/v1/sessions/sess_x/files?path=big.bin', auth: 'token', body: Buffer.alloc(platform.config.api.session.fileMaxBytes + 1), contentType: 'application/octet-stream', expect: [413], what: 'oversize file' });
  return out;
}

const JSON_ENDPOINTS: Array<[string, string, Auth]> = [
  ['POST', '/api/v1/tasks', 'token'], ['POST', '/api/v1/commands/echo', 'token'], ['POST', '/api/v1/commands/terminal', 'token'],
  ['POST', '/api/v1/console/login', 'none'], ['POST', '/api/v1/console/tokens', 'admin'], ['POST', '/api/v1/console/register', 'admin'],
  ['PUT', '/api/v1/sessions/sess_fuzz/lease', 'token'],
];

// ---- MCP tools -----------------------------------------------------------------------------------------

const TOOLS: Record<string, { shape: Shape; valid: Record<string, unknown> }> = {
  echo: { shape: ECHO, valid: { message: 'fuzz' } },
  pythonExec: { shape: PYTHON, valid: { code: 'print(1)' } },
  terminalExec: { shape: TERMINAL, valid: { command: 'true', lease_ttl_sec: 60 } },
  readImage: { shape: { session_id: { t: 'str', pattern: 'session', required: true }, file_path: { t: 'str', pattern: 'path', nonBlank: true, required: true }, timeout_ms: { t: 'int', min: 1, max: 600_000 } }, valid: { session_id: 'sess_x', file_path: 'a.png' } },
  readFile: { shape: { session_id: { t: 'str', pattern: 'session', required: true }, path: { t: 'str', pattern: 'path', required: true }, timeout_ms: { t: 'int', min: 1, max: 60_000 } }, valid: { session_id: 'sess_x', path: 'a.txt' } },
  writeFile: {
    shape: { session_id: { t: 'str', pattern: 'session', required: true }, path: { t: 'str', pattern: 'path', required: true }, content: { t: 'str', max: 1_400_000, required: true }, encoding: { t: 'enum', values: ['utf8', 'base64'] }, timeout_ms: { t: 'int', min: 1, max: 60_000 } },
    valid: { session_id: 'sess_x', path: 'a.txt', content: 'x' },
  },
  listFiles: { shape: { session_id: { t: 'str', pattern: 'session', required: true }, path: { t: 'str', pattern: 'path' }, timeout_ms: { t: 'int', min: 1, max: 60_000 } }, valid: { session_id: 'sess_x' } },
  exposePort: {
    shape: { session_id: { t: 'str', pattern: 'session', required: true }, port: { t: 'int', min: 1, max: 65535, required: true }, command: { t: 'str', nonBlank: true, max: 4096 }, link_ttl_sec: { t: 'int', min: 10, max: 86_400 } },
    valid: { session_id: 'sess_x', port: 3000 },
  },
  listPorts: { shape: { session_id: { t: 'str', pattern: 'session', required: true } }, valid: { session_id: 'sess_x' } },
  sessionPause: { shape: { session_id: { t: 'str', pattern: 'session', required: true } }, valid: { session_id: 'sess_x' } },
  sessionResume: { shape: { session_id: { t: 'str', pattern: 'session', required: true } }, valid: { session_id: 'sess_x' } },
  browserNavigate: {
    shape: { session_id: { t: 'str', pattern: 'session', required: true }, url: { t: 'str', max: 8192, required: true }, wait_until: { t: 'enum', values: ['load', 'domcontentloaded', 'networkidle', 'commit'] }, timeout_ms: { t: 'int', min: 1, max: 120_000 } },
    valid: { session_id: 'sess_x', url: 'http://localhost:3000/' },
  },
};

/** Invalid tool arguments: one guaranteed-invalid change, or an unknown argument (MCP inputs are strict). */
function mutateArgs(r: Rng, tool: string): Mutation {
  const t = TOOLS[tool];
  if (r.chance(0.2)) {
    const name = r.pick(['shell', 'admin', '__proto__', 'sudo', 'x'.repeat(100), 'ünï']);
    return { body: { ...t.valid, [name]: r.pick([true, 1, 'x']) }, field: name, proto: name === '__proto__' };
  }
  return mutate(t.valid, t.shape, r, true);
}

interface McpReq { body: string; expect: 'invalid-params' | 'http-4xx' | 'any-error'; names?: RegExp; headers?: Record<string, string>; what: string }
// A `__proto__` argument never reaches MCP: the body parser answers 400 naming the prototype property.

function mcpRequests(r: Rng, n: number): McpReq[] {
  const out: McpReq[] = [];
  const rpc = (id: unknown, method: string, params?: unknown) => toJson({ jsonrpc: '2.0', id, method, ...(params === undefined ? {} : { params }) });
  for (let i = 0; i < n; i++) {
    const kind = r.int(10);
    if (kind < 6) {
      const tool = r.pick(Object.keys(TOOLS));
      const m = mutateArgs(r, tool);
      out.push({ body: rpc(i, 'tools/call', { name: tool, arguments: m.body }), expect: m.proto ? 'http-4xx' : 'invalid-params', names: namesOf(m), what: `${tool}: ${m.field}` });
    } else if (kind === 6) {
      out.push({ body: rpc(i, 'tools/call', { name: r.pick(['rmRf', '', 'PYTHONEXEC', '../echo', '😀', 'echo\u0000']), arguments: {} }), expect: 'invalid-params', names: /unknown tool/, what: 'unknown tool' });
    } else if (kind === 7) {
      out.push({
        body: r.pick([
          rpc(i, 'tools/call', { name: 'echo', arguments: r.pick(['str', 5, [1], null]) }),
          rpc(i, 'tools/call', { arguments: {} }),
          rpc(i, 'tools/call', 'params'),
          rpc({ id: 1 }, 'tools/call', { name: 'echo', arguments: { message: 'x' } }),
          rpc(i, 'no/such/method', {}),
          JSON.stringify({ jsonrpc: '1.0', id: i, method: 'tools/list' }),
          JSON.stringify({ id: i, method: 'tools/list' }),
          JSON.stringify({ jsonrpc: '2.0', id: i }),
          toJson(deep(20_000, { jsonrpc: '2.0', id: i, method: 'tools/list' })),
          rpc(i, 'tools/call', { name: 'echo', arguments: { message: deep(20_000, 'x') } }),
        ]),
        expect: 'any-error',
        what: 'malformed JSON-RPC',
      });
    } else if (kind === 8 && r.chance(0.1)) {
      // JSON-RPC 2.0 §6: an empty batch is answered with one Invalid Request error (id null), not an array.
      out.push({ body: r.pick(['[]', ' [ ] ']), expect: 'http-4xx', names: /^\{"jsonrpc":"2\.0","id":null,"error":\{"code":-32600,/, what: 'empty batch' });
    } else if (kind === 8) {
      out.push({ body: r.pick(BROKEN_JSON), expect: 'http-4xx', what: 'broken JSON' });
    } else {
      out.push({
        body: rpc(i, 'tools/list', {}),
        headers: r.pick<Record<string, string>>([{ accept: 'text/html' }, { 'content-type': 'text/plain' }, { accept: '' }]),
        expect: 'http-4xx',
        what: 'wrong headers',
      });
    }
  }
  return out;
}

// ---- running them --------------------------------------------------------------------------------------

async function pool<T>(items: T[], concurrency: number, deadline: number, work: (item: T, i: number) => Promise<void>): Promise<number> {
  let next = 0;
  let done = 0;
  await Promise.all(Array.from({ length: concurrency }, async () => {
    while (next < items.length && Date.now() < deadline) {
      const i = next++;
      await work(items[i], i);
      done++;
    }
  }));
  return done;
}

describe(`fuzz: malformed requests to every endpoint and tool get a clear 4xx, never a 5xx (seed ${SEED})`, function () {
  this.timeout(240_000);
  let token: string;
  let otherToken: string;
  let cookie: string;
  let ids: Ids;
  let background: string;
  let deadline = 0;
  const statuses = new Map<number, number>();
  let sent = 0;

  before(async function () {
    console.log(`    fuzz seed ${SEED} (replay with DURABOX_FUZZ_SEED=${SEED})`);
    cookie = await login();
    token = await newToken(cookie);
    // A second account whose token is used on the first account's ids.
    const other = await platform.otherAccount('fuzz-other');
    otherToken = other.token;
    const myTask = await call('POST', '/api/v1/tasks', { token, body: { capability: 'echo', input: { message: 'mine' }, mode: 'sync' } });
    assert.equal(myTask.status, 200);
    const session = await call('POST', '/api/v1/commands/terminal', { token, body: { command: 'echo notes > notes.txt && ln -s /etc etc-link && ln -s / root-link', lease_ttl_sec: 300 } });
    assert.equal(session.status, 200, JSON.stringify(session.body));
    const me = (await call('GET', '/api/v1/console/session', { cookie })).body.account.account_id;
    ids = { myTask: myTask.body.task_id, mySession: session.body.session_id, otherTokenId: other.tokenId, myAccount: me };
    // The task that must live through the storm.
    const bg = await call('POST', '/api/v1/tasks', { token, body: { capability: 'pythonExec', input: { code: 'import time\ntime.sleep(5)\nprint("survived")' }, mode: 'async', timeout_ms: 120_000 } });
    assert.equal(bg.status, 202, JSON.stringify(bg.body));
    background = bg.body.task_id;
    platform.config.api.enableRegistration = true; // so register bodies are parsed, not refused at the door
    deadline = Date.now() + TIME_BUDGET_MS;
  });

  after(async () => {
    platform.config.api.enableRegistration = false;
    if (ids?.mySession) await call('DELETE', `/api/v1/sessions/${ids.mySession}`, { token });
    console.log(`    ${sent} malformed requests, statuses ${JSON.stringify(Object.fromEntries([...statuses].sort()))}`);
  });

  const send = async (req: Req): Promise<{ status: number; text: string }> => {
    const headers: Record<string, string> = { ...(req.headers ?? {}) };
    if (req.auth === 'token') headers.authorization = `Bearer ${token}`;
    if (req.auth === 'other') headers.authorization = `Bearer ${otherToken}`;
    if (req.auth === 'admin') headers.cookie = cookie;
    if (req.body !== undefined && req.contentType) headers['content-type'] = req.contentType;
    const res = await fetch(`${platform.url}${req.path}`, { method: req.method, headers, body: req.body as BodyInit | undefined });
    sent++;
    statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
    return { status: res.status, text: await res.text() };
  };

  it('every REST endpoint answers with a 4xx and an error naming the field at fault', async () => {
    const r = prng(SEED);
    const reqs = restRequests(r, MAX_REQUESTS.rest, ids);
    const failures: string[] = [];
    const done = await pool(reqs, 6, deadline - TIME_BUDGET_MS + REST_BUDGET_MS, async (req, i) => {
      const res = await send(req);
      let error: unknown;
      try { error = JSON.parse(res.text).error; } catch { /* checked below */ }
      const why = !req.expect.includes(res.status) ? `status ${res.status}, expected ${req.expect.join('/')}`
        : typeof error !== 'string' || !error ? 'no error message'
          : res.status === 400 && req.names && !req.names.test(error) ? `message does not name the field (${req.names})`
            : undefined;
      if (why) failures.push(`#${i} ${req.what}: ${req.method} ${req.path.slice(0, 120)} ${String(req.body ?? '').slice(0, 160)} → ${why}: ${res.text.slice(0, 300)}`);
    });
    assert.ok(done >= Math.min(reqs.length, 1500), `only ${done} requests within the time budget`);
    assert.deepEqual(failures.slice(0, 15), [], `${failures.length} of ${done} requests answered wrongly (seed ${SEED})`);
  });

  it('files of a real session: traversal and symlink escapes are refused, other accounts see nothing', async () => {
    const sid = ids.mySession;
    const escapes = ['../etc/passwd', '/etc/passwd', 'etc-link/passwd', 'etc-link/shadow', 'root-link/proc/self/environ', '/workspace/../etc/hostname', '/tmp/../etc/shadow',
      '/proc/1/environ', '/', '//etc/passwd', '/workspace/./../etc', `/workspace/${'../'.repeat(20)}etc/passwd`, 'root-link', '/var/run/docker.sock', '/dev/shm/../../etc/passwd'];
    const reqs: Req[] = [];
    for (const p of escapes) {
      reqs.push({ method: 'GET', path: `/api/v1/sessions/${sid}/files?path=${pct(p)}`, auth: 'token', expect: [400, 404], what: `read ${p}` });
      reqs.push({ method: 'PUT', path: `/api/v1/sessions/${sid}/files?path=${pct(`${p.replace(/\/$/, '')}/evil`)}`, auth: 'token', body: 'x', contentType: 'application/octet-stream', expect: [400, 404], what: `write under ${p}` });
    }
    reqs.push({ method: 'GET', path: `/api/v1/sessions/${sid}/files?path=notes.txt`, auth: 'other', expect: [404], what: 'another account reads' });
    reqs.push({ method: 'DELETE', path: `/api/v1/sessions/${sid}/files?path=notes.txt`, auth: 'other', expect: [404], what: 'another account deletes' });
    const failures: string[] = [];
    await pool(reqs.slice(0, MAX_REQUESTS.files), 2, deadline, async (req) => {
      const res = await send(req);
      if (!req.expect.includes(res.status)) failures.push(`${req.what}: ${res.status} ${res.text.slice(0, 200)}`);
    });
    assert.deepEqual(failures, []);
    // Nothing was written outside, and the session's own file is intact.
    const check = await call('POST', '/api/v1/commands/terminal', { token, body: { command: 'cat notes.txt; ls /etc/evil /tmp/evil /evil 2>/dev/null | wc -l', session_id: sid } });
    assert.equal(check.body.stdout, 'notes\n0\n');
  });

  it('MCP tools/call as raw JSON-RPC: invalid arguments are -32602 naming the field; broken messages an error, never a 5xx', async () => {
    const r = prng(SEED ^ 0x5eed);
    const reqs = mcpRequests(r, MAX_REQUESTS.mcp);
    const failures: string[] = [];
    const done = await pool(reqs, 4, deadline, async (req, i) => {
      const headers: Record<string, string> = { 'content-type': 'application/json', accept: 'application/json, text/event-stream', authorization: `Bearer ${token}`, ...(req.headers ?? {}) };
      const res = await fetch(`${platform.url}/mcp`, { method: 'POST', headers, body: req.body });
      sent++;
      statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
      const text = await res.text();
      let msg: { error?: { code?: number; message?: string } } | undefined;
      try { msg = JSON.parse(text); } catch { /* not JSON */ }
      const rpcError = msg?.error;
      let why: string | undefined;
      if (res.status >= 500) why = `status ${res.status}`;
      else if (req.expect === 'invalid-params') {
        if (res.status !== 200 || rpcError?.code !== -32602) why = `expected JSON-RPC -32602, got ${res.status}`;
        else if (req.names && !req.names.test(rpcError.message ?? '')) why = `message does not name ${req.names}`;
      } else if (req.expect === 'http-4xx') {
        if (res.status < 400) why = `expected a 4xx, got ${res.status}`;
        else if (req.names && !req.names.test(text)) why = `message does not name ${req.names}`;
      } else if (res.status < 400 && !rpcError) {
        why = `expected an error, got ${res.status}`;
      }
      if (why) failures.push(`#${i} ${req.what}: ${req.body.slice(0, 200)} → ${why}: ${text.slice(0, 300)}`);
    });
    assert.ok(done >= 200, `only ${done} MCP requests within the time budget`);
    assert.deepEqual(failures.slice(0, 15), [], `${failures.length} of ${done} MCP requests answered wrongly (seed ${SEED})`);
  });

  it('MCP through the SDK client: invalid arguments are refused with -32602 naming the field', async () => {
    const client = new Client({ name: 'durabox-fuzz', version: '1.0.0' });
    await client.connect(new StreamableHTTPClientTransport(new URL(`${platform.url}/mcp`), { requestInit: { headers: { Authorization: `Bearer ${token}` } } }));
    try {
      const r = prng(SEED ^ 0xc11e);
      const failures: string[] = [];
      for (let i = 0; i < MAX_REQUESTS.sdk && Date.now() < deadline; i++) {
        const tool = r.pick(Object.keys(TOOLS));
        const m = mutateArgs(r, tool);
        sent++;
        try {
          const res = await client.callTool({ name: tool, arguments: m.body as Record<string, unknown> });
          failures.push(`${tool} ${toJson(m.body).slice(0, 200)} was accepted: ${JSON.stringify(res).slice(0, 200)}`);
        } catch (e) {
          const named = namesOf(m).test((e as Error).message);
          if (m.proto ? !named : !(e instanceof McpError) || e.code !== -32602 || !named) failures.push(`${tool} ${m.field}: ${(e as Error).message.slice(0, 200)}`);
        }
      }
      assert.deepEqual(failures, []);
    } finally {
      await client.close();
    }
  });

  it('after the storm the server is up, works, and the task started before it finished correctly', async () => {
    assert.equal((await call('GET', '/healthz')).status, 200);
    assert.equal((await call('GET', '/readyz')).status, 200);
    const echo = await call('POST', '/api/v1/commands/echo', { token, body: { message: 'still here' } });
    assert.deepEqual(echo.body, { message: 'still here' });
    let task = await call('GET', `/api/v1/tasks/${background}`, { token });
    for (let i = 0; i < 100 && !['succeeded', 'failed', 'canceled', 'timeout'].includes(task.body.status); i++) {
      await new Promise((res) => setTimeout(res, 200));
      task = await call('GET', `/api/v1/tasks/${background}`, { token });
    }
    assert.equal(task.body.status, 'succeeded', JSON.stringify(task.body));
    assert.equal(task.body.result.output, 'survived\n');
  });
});
