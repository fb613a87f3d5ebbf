// The OpenSandbox peer's mapping between its wire shapes and durabox's (peer/opensandbox/mapping.ts).
import assert from 'node:assert/strict';
import { type IncomingMessage, ServerResponse } from 'node:http';
import { Readable } from 'node:stream';
import Koa from 'koa';
import type { AppDeps } from '../../api/context.js';
import { fileRoutes } from '../../peer/opensandbox/files.js';
import { execdRoutes } from '../../peer/opensandbox/execd.js';
import { ZodError, z } from 'zod';
import { DuraboxError } from '../../contract/errors.js';
import type { RunCodeOutput } from '../../contract/messages.js';
import { answerOf, OsError } from '../../peer/opensandbox/errors.js';
import {
  badEnvName, byteRange, cellEnd, commandEnd, commandText, contextLanguage, isInterpreterProbe, listed, metricsOf, openExecdToken,
  pageOf, parseFileRecords, parseMetadataFilter, sandboxView, shQuote, signExecdToken, sseFrame, stateOf,
} from '../../peer/opensandbox/mapping.js';

const cell = (over: Partial<RunCodeOutput> = {}): RunCodeOutput => ({
  results: [], logs: { stdout: [], stderr: [] }, execution_count: 1, language: 'python', timed_out: false, context_restarted: false, ...over,
} as RunCodeOutput);

describe('peer: OpenSandbox mapping', () => {
  it('maps session statuses to sandbox states', () => {
    assert.equal(stateOf('starting'), 'Pending');
    assert.equal(stateOf('active'), 'Running');
    assert.equal(stateOf('busy'), 'Running');
    assert.equal(stateOf('paused'), 'Paused');
    assert.equal(stateOf('ended'), 'Terminated');
  });

  it('shows a sandbox with its image, metadata, expiry and creation time', () => {
    const v = sandboxView({ id: 'sess_1', state: 'Running', createdAt: new Date(0), leaseExpiresMs: 60_000, peer: { kind: 'opensandbox', alias: 'python', metadata: { a: 'b' }, envs: { SECRET: 'x' } } });
    assert.deepEqual(v, { id: 'sess_1', image: { uri: 'python' }, status: { state: 'Running' }, metadata: { a: 'b' }, entrypoint: ['tail', '-f', '/dev/null'], expiresAt: '1970-01-01T00:01:00.000Z', createdAt: '1970-01-01T00:00:00.000Z' });
    assert.equal(JSON.stringify(v).includes('SECRET'), false, 'the environment is never shown');
    const plain = sandboxView({ id: 'sess_2', state: 'Paused', createdAt: '2026-01-01T00:00:00Z', leaseExpiresMs: null });
    assert.equal(plain.image.uri, 'terminal');
    assert.equal(plain.expiresAt, undefined);
    assert.equal(plain.status.reason, 'paused');
  });

  it('parses the list\'s metadata filter (percent-encoded pairs) and refuses a pair without =', () => {
    assert.deepEqual(parseMetadataFilter('project=Apollo&note=Demo%20Test&odd%3Dkey=v%26w'), { filter: { project: 'Apollo', note: 'Demo Test', 'odd=key': 'v&w' } });
    assert.deepEqual(parseMetadataFilter(undefined), { filter: {} });
    assert.deepEqual(parseMetadataFilter('novalue'), { bad: 'novalue' });
    assert.deepEqual(parseMetadataFilter('=x'), { bad: '=x' });
    assert.deepEqual(parseMetadataFilter('a=%E0%A4%A'), { bad: 'a=%E0%A4%A' });
  });

  it('filters running sessions by state (OR, any case) and metadata (AND)', () => {
    const s = { sessionId: 's', createdAt: new Date(), paused: false, host: null, leaseExpiresMs: null, peer: { kind: 'opensandbox' as const, alias: 't', metadata: { a: '1', b: '2' }, envs: {} } };
    assert.equal(listed(s, [], {}), true);
    assert.equal(listed(s, ['running'], { a: '1' }), true);
    assert.equal(listed(s, ['Paused'], {}), false);
    assert.equal(listed(s, ['Paused', 'Running'], { a: '1', b: '2' }), true);
    assert.equal(listed(s, [], { a: '2' }), false);
    assert.equal(listed({ ...s, peer: undefined }, [], { a: '1' }), false);
  });

  it('pages a list with the reference\'s pagination fields', () => {
    const p = pageOf([1, 2, 3, 4, 5], 2, 2);
    assert.deepEqual(p, { items: [3, 4], pagination: { page: 2, pageSize: 2, totalItems: 5, totalPages: 3, hasNextPage: true } });
    assert.equal(pageOf([1, 2], 1, 2).pagination.hasNextPage, false);
    assert.deepEqual(pageOf([], 1, 20).pagination, { page: 1, pageSize: 20, totalItems: 0, totalPages: 0, hasNextPage: false });
  });

  it('writes a command with its environment quoted, its directory and background mode', () => {
    assert.equal(shQuote("it's"), `'it'\\''s'`);
    assert.equal(commandText('echo hi', {}), 'echo hi');
    assert.equal(commandText('echo $A', { envs: { A: "x'; rm -rf /" }, cwd: '/tmp/a b' }), `export A='x'\\''; rm -rf /'\ncd '/tmp/a b' || exit 1\necho $A`);
    assert.equal(commandText('sleep 9', { background: true }), `(nohup sh -c 'sleep 9' >/dev/null 2>&1 &)`);
    assert.equal(badEnvName({ OK_1: 'x', 'NOT OK': 'y' }), 'NOT OK');
    assert.equal(badEnvName({ 'A;B': 'y' }), 'A;B');
    assert.equal(badEnvName({ _x: '' }), undefined);
  });

  it('ends a command as execd does: complete on 0, CommandExecError carrying the exit code otherwise', () => {
    assert.deepEqual(commandEnd(0, 12, 5), { type: 'execution_complete', timestamp: 5, execution_time: 12 });
    assert.deepEqual(commandEnd(7, 12, 5), { type: 'error', timestamp: 5, error: { ename: 'CommandExecError', evalue: '7', traceback: ['exit status 7'] } });
    assert.equal(sseFrame({ type: 'stdout', text: 'a\nb', timestamp: 1 }), 'data: {"type":"stdout","text":"a\\nb","timestamp":1}\n\n');
  });

  it('ends a cell with its count, results by MIME type, its exception by traceback line, then complete', () => {
    const events = cellEnd(cell({
      execution_count: 3,
      results: [{ is_main_result: true, text: '42' }, { is_main_result: false, html: '<table/>', text: 'df', png: 'iVBOR' }, { is_main_result: false }],
      error: { name: 'ZeroDivisionError', value: 'division by zero', traceback: 'Traceback\n  line 1' },
    }), 9, 1);
    assert.deepEqual(events, [
      { type: 'execution_count', timestamp: 1, execution_count: 3 },
      { type: 'result', timestamp: 1, results: { text: '42' } },
      { type: 'result', timestamp: 1, results: { text: 'df', 'text/html': '<table/>', 'image/png': 'iVBOR' } },
      { type: 'error', timestamp: 1, error: { ename: 'ZeroDivisionError', evalue: 'division by zero', traceback: ['Traceback', '  line 1'] } },
      { type: 'execution_complete', timestamp: 1, execution_time: 9 },
    ]);
    const timedOut = cellEnd(cell({ timed_out: true, execution_count: 0 }), 1, 1);
    assert.equal(timedOut[0]!.type, 'error');
    assert.equal(timedOut[0]!.error!.ename, 'TimeoutError');
  });

  it('names the languages durabox runs and refuses others', () => {
    assert.equal(contextLanguage(undefined), 'python');
    assert.equal(contextLanguage('Python'), 'python');
    assert.equal(contextLanguage('bash'), 'bash');
    assert.equal(contextLanguage('javascript'), 'javascript');
    assert.equal(contextLanguage('go'), undefined);
    assert.equal(contextLanguage('java'), undefined);
  });

  it('reads stat/find records into execd\'s FileInfo', () => {
    const stat = ['/w/a.txt', 'regular file', '5', '1700000000', '0', 'user', 'user', '644', '/w/d', 'directory', '4096', '1700000001', '1600000000', 'root', 'root', '755', ''].join('\0');
    assert.deepEqual(parseFileRecords(stat), [
      { path: '/w/a.txt', type: 'file', size: 5, modified_at: '2023-11-14T22:13:20.000Z', created_at: '2023-11-14T22:13:20.000Z', owner: 'user', group: 'user', mode: 644 },
      { path: '/w/d', type: 'directory', size: 4096, modified_at: '2023-11-14T22:13:21.000Z', created_at: '2020-09-13T12:26:40.000Z', owner: 'root', group: 'root', mode: 755 },
    ]);
    const find = ['/w/l', 'l', '3', '1700000000.5', '1700000000.5', 'u', 'g', '777', ''].join('\0');
    assert.equal(parseFileRecords(find)[0]!.type, 'symlink');
    assert.equal(parseFileRecords(find)[0]!.modified_at, '2023-11-14T22:13:20.500Z');
    assert.deepEqual(parseFileRecords(''), []);
    // A name with a newline in it stays whole.
    assert.equal(parseFileRecords(['/w/a\nb', 'f', '1', '1', '1', 'u', 'g', '600', ''].join('\0'))[0]!.path, '/w/a\nb');
  });

  it('reads a Range header', () => {
    assert.equal(byteRange(undefined, 10), undefined);
    assert.deepEqual(byteRange('bytes=2-4', 10), { start: 2, end: 4 });
    assert.deepEqual(byteRange('bytes=5-', 10), { start: 5, end: 9 });
    assert.deepEqual(byteRange('bytes=-3', 10), { start: 7, end: 9 });
    assert.deepEqual(byteRange('bytes=8-100', 10), { start: 8, end: 9 });
    assert.equal(byteRange('bytes=10-', 10), 'bad');
    assert.equal(byteRange('bytes=4-2', 10), 'bad');
    assert.equal(byteRange('items=1-2', 10), 'bad');
  });

  it('reads metrics from the cgroup where it has them, else the host\'s counts', () => {
    const cg = metricsOf('2\n8000000 6000000\n104857600 209715200\n1000000\n1100000\n', 200, 7);
    assert.deepEqual(cg, { cpu_count: 2, cpu_used_pct: 25, mem_total_mib: 200, mem_used_mib: 100, timestamp: 7 });
    const host = metricsOf('4\n8388608 4194304\n\n0\n0\n', 200, 7);
    assert.deepEqual(host, { cpu_count: 4, cpu_used_pct: 0, mem_total_mib: 8192, mem_used_mib: 4096, timestamp: 7 });
    const unlimited = metricsOf('1\n1024 0\n2097152 max\n5\n5\n', 200, 7);
    assert.equal(unlimited.mem_total_mib, 1);
    assert.equal(unlimited.mem_used_mib, 2);
  });

  it('recognises only the code interpreter SDK\'s exact readiness probe', () => {
    assert.equal(isInterpreterProbe("bash -c 'exec 3<>/dev/tcp/127.0.0.1/${JUPYTER_PORT:-44771}' && exit 0 || exit 1"), true);
    assert.equal(isInterpreterProbe("bash -c 'exec 3<>/dev/tcp/127.0.0.1/${JUPYTER_PORT:-44771}' && exit 0 || exit 1; rm -rf /workspace"), false);
    assert.equal(isInterpreterProbe('echo hi'), false);
  });

  it('opens an execd token only for its own sandbox, unaltered and unexpired', () => {
    const key = 'k'.repeat(32);
    const t = signExecdToken(key, { a: 'acc_1', s: 'sess_a', x: 2_000, k: 'h' });
    assert.deepEqual(openExecdToken(key, t, 'sess_a', 1_000), { a: 'acc_1', s: 'sess_a', x: 2_000, k: 'h' });
    assert.equal(openExecdToken(key, t, 'sess_b', 1_000), undefined, 'another sandbox');
    assert.equal(openExecdToken(key, t, 'sess_a', 3_000), undefined, 'expired');
    assert.equal(openExecdToken('other-key'.repeat(4), t, 'sess_a', 1_000), undefined, 'another key');
    const [v, , mac] = t.split('.');
    const forged = `${v}.${Buffer.from(JSON.stringify({ a: 'acc_2', s: 'sess_a', x: 2_000, k: 'h' })).toString('base64url')}.${mac}`;
    assert.equal(openExecdToken(key, forged, 'sess_a', 1_000), undefined, 'altered claims');
    assert.equal(openExecdToken(key, undefined, 'sess_a'), undefined);
    assert.equal(openExecdToken(key, 'x1.e30.AAAA', 'sess_a'), undefined);
  });

  it('answers failures in OpenSandbox\'s {code, message} shape with durabox\'s statuses', () => {
    assert.deepEqual(answerOf(new OsError(501, 'DURABOX::NOT_SUPPORTED', 'x is not supported by durabox'), 'lifecycle'), { status: 501, body: { code: 'DURABOX::NOT_SUPPORTED', message: 'x is not supported by durabox' }, unexpected: false });
    assert.deepEqual(answerOf(new DuraboxError('session_not_found', 'no session s'), 'lifecycle').body, { code: 'SANDBOX::NOT_FOUND', message: 'no session s' });
    assert.equal(answerOf(new DuraboxError('file_not_found', 'no such file'), 'execd').status, 404);
    assert.equal(answerOf(new DuraboxError('invalid_path', 'bad'), 'execd').body.code, 'INVALID_REQUEST_BODY');
    assert.equal(answerOf(new DuraboxError('session_busy', 'busy'), 'execd').body.code, 'DURABOX::SESSION_BUSY');
    const zodErr = z.object({ timeout: z.int() }).safeParse({ timeout: 'x' }).error as ZodError;
    assert.match(answerOf(zodErr, 'lifecycle').body.message, /^timeout: /);
    const unknown = answerOf(new Error('boom'), 'execd');
    assert.deepEqual([unknown.status, unknown.body.code, unknown.unexpected], [500, 'RUNTIME_ERROR', true]);
    assert.equal(unknown.body.message.includes('boom'), false, 'an unexpected failure is not told to the caller');
  });
});

describe('peer: OpenSandbox uploads', () => {
  const caller = { accountId: 'acct-1', sessionId: 'sess_abc', envs: {} };
  const boundary = 'b0undary';
  /** A Koa context of a multipart upload of one file of `size` bytes to /workspace/big.bin. */
  const uploadOf = (size: number) => {
    const body = Buffer.concat([
      Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="metadata"\r\n\r\n{"path":"/workspace/big.bin"}\r\n`),
      Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="big.bin"\r\nContent-Type: application/octet-stream\r\n\r\n`),
      Buffer.alloc(size, 0x61),
      Buffer.from(`\r\n--${boundary}--\r\n`),
    ]);
    const req = Object.assign(Readable.from([body]), {
      method: 'POST', url: '/files/upload', headers: { 'content-type': `multipart/form-data; boundary=${boundary}`, 'content-length': String(body.length) },
    }) as unknown as IncomingMessage;
    return new Koa().createContext(req, new ServerResponse(req));
  };
  const sessionWith = (writes: string[]) => ({
    api: { session: { fileMaxBytes: 1000 } },
    sessions: { file: async (_a: string, _s: string, op: { op: string; path: string }) => { writes.push(op.path); return { op: 'write', path: op.path, size: 0 }; } },
  }) as unknown as AppDeps;

  it('refuses a file past durabox\'s file limit with 413 naming it, before any file call (it would not fit a workflow Update)', async () => {
    const writes: string[] = [];
    const e = await fileRoutes(sessionWith(writes))(uploadOf(1001), caller, '/files/upload').then(() => undefined, (x: unknown) => x);
    assert.ok(e instanceof OsError, `an OpenSandbox error, not ${String(e)}`);
    assert.equal(e.status, 413);
    assert.match(e.message, /\/workspace\/big\.bin/);
    assert.deepEqual(writes, []);
  });

  it('writes a file within the limit', async () => {
    const writes: string[] = [];
    const ctx = uploadOf(1000);
    assert.equal(await fileRoutes(sessionWith(writes))(ctx, caller, '/files/upload'), true);
    assert.deepEqual(writes, ['/workspace/big.bin']);
    assert.equal(ctx.status, 200);
  });
});

describe('peer: OpenSandbox commands past the payload bound', () => {
  /** A Koa context of a JSON POST to `url`. */
  const post = (url: string, json: unknown) => {
    const body = Buffer.from(JSON.stringify(json));
    const req = Object.assign(Readable.from([body]), {
      method: 'POST', url, headers: { 'content-type': 'application/json', 'content-length': String(body.length) }, socket: { setNoDelay: () => undefined },
    }) as unknown as IncomingMessage;
    return new Koa().createContext(req, new ServerResponse(req));
  };
  const sessionRecording = (calls: string[]) => ({
    output: { follow: () => ({ drain: async () => undefined, stop: () => undefined }) },
    sessions: {
      exec: async () => { calls.push('exec'); return { exit_code: 0, stdout: '', stderr: '' }; },
      runCode: async () => { calls.push('runCode'); return { execution_count: 1, results: [], logs: { stdout: [], stderr: [] } }; },
    },
  }) as unknown as AppDeps;

  it('refuses a command that, with the sandbox\'s variables, would not fit a workflow Update: 413 naming it, nothing run', async () => {
    const calls: string[] = [];
    const caller = { accountId: 'acct-1', sessionId: 'sess_abc', envs: { BIG: 'x'.repeat(900_000) } };
    const ctx = post('/command', { command: `echo ${'y'.repeat(700_000)}` });
    const e = await execdRoutes(sessionRecording(calls))(ctx, caller, '/command').then(() => undefined, (x: unknown) => x);
    assert.ok(e instanceof OsError, `an OpenSandbox error, not ${String(e)}`);
    assert.equal(e.status, 413);
    assert.match(e.message, /^command: /);
    assert.deepEqual(calls, []);
  });

  it('refuses a directory map whose command would not fit a workflow Update: 413, nothing run', async () => {
    const calls: string[] = [];
    const dirs = Object.fromEntries(Array.from({ length: 200 }, (_, i) => [`/workspace/${String(i).padStart(4, '0')}${'d'.repeat(4000)}`, { mode: 755, owner: 'user' }]));
    const ctx = post('/directories', dirs);
    const e = await execdRoutes(sessionRecording(calls))(ctx, { accountId: 'acct-1', sessionId: 'sess_abc', envs: {} }, '/directories').then(() => undefined, (x: unknown) => x);
    assert.ok(e instanceof OsError, `an OpenSandbox error, not ${String(e)}`);
    assert.equal(e.status, 413);
    assert.deepEqual(calls, []);
  });
});
