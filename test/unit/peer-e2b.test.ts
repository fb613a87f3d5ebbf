import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import {
  badEnvName, commandLine, connectCodeOf, connectCodeOfStatus, endOfStream, entryInfo, envelope, firstEnveloped, languageOf, launcherCommand, stdinCommand, closeStdinCommand,
  metadataFilter, openSandboxToken, processEvent, shellQuote, signalCommand, signSandboxToken, splitPath, stateFilter,
} from '../../peer/e2b/protocol.js';
import type { AppDeps } from '../../api/context.js';
import { E2bError } from '../../peer/e2b/errors.js';
import { interpreterApi } from '../../peer/e2b/code.js';
import { e2bApi } from '../../peer/e2b/index.js';
import { type IncomingMessage, ServerResponse } from 'node:http';
import { Readable } from 'node:stream';
import Koa from 'koa';
import { changes, watchApi } from '../../peer/e2b/watch.js';

describe('E2B peer: mappings', () => {
  describe('sandbox tokens', () => {
    const key = 'a hash key';
    const claims = { a: 'acct-1', s: 'sess_abc', k: 'envd' as const, h: 'keyhash' };

    it('opens a genuine token of its kind, bound to its account, sandbox and API key', () => {
      const t = signSandboxToken(key, claims);
      assert.deepEqual(openSandboxToken(key, t, 'envd'), claims);
      assert.equal(openSandboxToken(key, t, 'traffic'), undefined);
      assert.deepEqual(openSandboxToken(key, signSandboxToken(key, { ...claims, k: 'traffic' }), 'traffic'), { ...claims, k: 'traffic' });
    });

    it('refuses a token of another key, a changed body, garbage and an oversized one', () => {
      const t = signSandboxToken(key, claims);
      assert.equal(openSandboxToken('another key', t, 'envd'), undefined);
      const [v, , mac] = t.split('.');
      const forged = Buffer.from(JSON.stringify({ ...claims, s: 'sess_other' })).toString('base64url');
      assert.equal(openSandboxToken(key, `${v}.${forged}.${mac}`, 'envd'), undefined);
      for (const bad of ['', 'e2b1', 'e2b1..', 'l1.e30.AAAA', 'e2b1.e30.AAAA', 'x'.repeat(2000), undefined]) assert.equal(openSandboxToken(key, bad, 'envd'), undefined);
    });
  });

  describe('Connect framing', () => {
    it('envelopes a message: flags, big-endian length, JSON; the end of stream has flag 2', () => {
      const e = envelope({ a: 1 });
      assert.equal(e.readUInt8(0), 0);
      assert.equal(e.readUInt32BE(1), 7);
      assert.equal(e.subarray(5).toString(), '{"a":1}');
      const end = endOfStream({ code: 'not_found', message: 'gone' });
      assert.equal(end.readUInt8(0), 2);
      assert.deepEqual(JSON.parse(end.subarray(5).toString()), { error: { code: 'not_found', message: 'gone' } });
      assert.deepEqual(JSON.parse(endOfStream().subarray(5).toString()), {});
    });

    it('reads the first enveloped message of a request; refuses short, compressed or truncated ones', () => {
      assert.deepEqual(firstEnveloped(Buffer.concat([envelope({ process: { cmd: 'ls' } }), envelope({ more: true })])), { process: { cmd: 'ls' } });
      assert.throws(() => firstEnveloped(Buffer.from([0, 0])), /not an enveloped/);
      assert.throws(() => firstEnveloped(Buffer.concat([Buffer.from([1]), envelope({}).subarray(1)])), /compressed/);
      assert.throws(() => firstEnveloped(envelope({ a: 'long' }).subarray(0, 8)), /shorter/);
    });

    it('maps durabox errors to the Connect codes the SDKs turn into their exceptions', () => {
      assert.equal(connectCodeOf('file_not_found'), 'not_found');
      assert.equal(connectCodeOf('session_not_found'), 'not_found');
      assert.equal(connectCodeOf('conflict'), 'already_exists');
      assert.equal(connectCodeOf('invalid_path'), 'invalid_argument');
      assert.equal(connectCodeOf('timeout'), 'deadline_exceeded');
      assert.equal(connectCodeOf('session_lost'), 'unavailable');
      assert.equal(connectCodeOf('anything else'), 'internal');
      assert.equal(connectCodeOfStatus(415), 'invalid_argument');
      assert.equal(connectCodeOfStatus(501), 'unimplemented');
      assert.equal(connectCodeOfStatus(502), 'internal');
    });

    it('says process events as envd does: bytes in base64, the end with its exit code', () => {
      assert.deepEqual(processEvent.start(7), { event: { start: { pid: 7 } } });
      assert.deepEqual(processEvent.data('stderr', Buffer.from('hé')), { event: { data: { stderr: Buffer.from('hé').toString('base64') } } });
      assert.deepEqual(processEvent.end(3), { event: { end: { exitCode: 3, exited: true, status: 'exit status 3' } } });
    });
  });

  describe('processes as shell lines', () => {
    const sh = (line: string) => execFileSync('sh', ['-c', line], { encoding: 'utf8', env: { PATH: process.env.PATH } });

    it('quotes the program, its arguments and variables so no text of the caller is shell syntax', () => {
      const hostile = `$(echo pwned) 'q' "d" \`x\` ; echo no`;
      const out = sh(commandLine({ cmd: '/bin/echo', args: [hostile], envs: { V: hostile }, cwd: '/' }, { SANDBOX: 'wide' }).replace('exec ', '') + '; echo "$V|$SANDBOX"');
      assert.equal(out, `${hostile}\n${hostile}|wide\n`);
      assert.equal(shellQuote("it's"), `'it'\\''s'`);
    });

    it('the call\'s variables win over the sandbox\'s; a bad variable name is named', () => {
      assert.equal(sh(commandLine({ cmd: 'printenv', args: ['X'], envs: { X: 'call' }, cwd: '/' }, { X: 'sandbox' })), 'call\n');
      assert.equal(badEnvName({ GOOD_1: 'a', 'BAD-NAME': 'b' }), 'BAD-NAME');
      assert.equal(badEnvName({ OK: 'a' }), undefined);
    });

    it('the launcher carries the script and record as base64 only; signal and stdin commands name the process directory', () => {
      const line = launcherCommand("echo 'hi'; touch /pwned-marker", '{"tag":"t"}');
      assert.ok(!line.includes('pwned-marker') && !line.includes("'hi'"), line);
      assert.match(line, /setsid sh -c/);
      assert.match(signalCommand(42, 'KILL'), /kill -s KILL -- -42.*echo 137 > \/tmp\/\.e2b-proc\/42\/exit/);
      assert.doesNotMatch(signalCommand(42, 'TERM'), /137/);
      assert.doesNotMatch(line, /mkfifo/);
      assert.match(launcherCommand('cat', '{}', true), /mkfifo in .*< in/);
      const input = stdinCommand(42, Buffer.from("'; touch /pwned-marker"));
      assert.ok(!input.includes('pwned-marker'), input);
      assert.match(input, /timeout 5 .*\/tmp\/\.e2b-proc\/42\/in/);
      assert.match(closeStdinCommand(42), /kill "\$\(cat \/tmp\/\.e2b-proc\/42\/holder\)"/);
    });
  });

  describe('files and lists', () => {
    it('a durabox entry as envd\'s EntryInfo: the peer home for /workspace, int64 as a string, the type by name', () => {
      assert.deepEqual(entryInfo('/workspace/d', { name: 'f.txt', type: 'file', size: 12, modified: '2026-01-01T00:00:00.000Z' }), {
        name: 'f.txt', type: 'FILE_TYPE_FILE', path: '/home/user/d/f.txt', size: '12', mode: 0o644, permissions: '-rw-r--r--', owner: 'user', group: 'user', modifiedTime: '2026-01-01T00:00:00.000Z',
      });
      assert.equal(entryInfo('/tmp/', { name: 'd', type: 'dir', size: 0, modified: '2026-01-01T00:00:00.000Z' }).type, 'FILE_TYPE_DIRECTORY');
    });

    it('splits a path into its directory and name', () => {
      assert.deepEqual(splitPath('/home/user/a.txt'), { dir: '/home/user', name: 'a.txt' });
      assert.deepEqual(splitPath('/a/'), { dir: '/', name: 'a' });
      assert.deepEqual(splitPath('/'), { dir: '/', name: '' });
    });

    it('reads a list\'s metadata and state filters', () => {
      assert.deepEqual(metadataFilter('suite=peer%20e2b&k=v'), { suite: 'peer e2b', k: 'v' });
      assert.deepEqual(metadataFilter(undefined), {});
      // As the SDKs send it (URLSearchParams / urlencode): a value with a percent sign is decoded once, never thrown on.
      assert.deepEqual(metadataFilter(new URLSearchParams({ load: '100%', raw: 'a%20b', sp: 'x y' }).toString()), { load: '100%', raw: 'a%20b', sp: 'x y' });
      assert.deepEqual([...stateFilter('paused')], ['paused']);
      assert.deepEqual([...stateFilter(['running,paused'])].sort(), ['paused', 'running']);
      assert.deepEqual([...stateFilter(undefined)].sort(), ['paused', 'running']);
    });

    it('tells a watch\'s events from two listings: created, written (size or time), removed', () => {
      const before = { 'a.txt': 'file:1:t1', 'b.txt': 'file:2:t1', d: 'dir:0:t1' };
      const after = { 'a.txt': 'file:1:t1', 'b.txt': 'file:3:t2', 'd/c.txt': 'file:1:t2', d: 'dir:0:t1' };
      assert.deepEqual(changes(before, after), [{ name: 'b.txt', type: 'EVENT_TYPE_WRITE' }, { name: 'd/c.txt', type: 'EVENT_TYPE_CREATE' }]);
      assert.deepEqual(changes(after, {}), Object.keys(after).map((name) => ({ name, type: 'EVENT_TYPE_REMOVE' })));
      assert.deepEqual(changes(before, before), []);
    });

    it('maps the interpreter\'s languages; one durabox does not run is undefined', () => {
      assert.equal(languageOf(undefined), 'python');
      assert.equal(languageOf('js'), 'javascript');
      assert.equal(languageOf('Bash'), 'bash');
      assert.equal(languageOf('r'), undefined);
    });
  });

  describe('a watcher\'s record, written by the sandbox', () => {
    const caller = { accountId: 'acct-1', sandboxId: 'sess_abc' };
    const watcherId = `w_${'a'.repeat(32)}`;
    /** A session whose watcher record holds `text`, and whose directory lists one file. */
    const depsWith = (text: string) => ({
      api: { session: { fileMaxBytes: 1 << 20 } },
      sessions: {
        file: async (_a: string, _s: string, op: { op: string; path: string }) => (op.op === 'read'
          ? { op: 'read', path: op.path, size: text.length, contentBase64: Buffer.from(text).toString('base64') }
          : { op: 'list', path: op.path, entries: [{ name: 'a.txt', type: 'file', size: 1, modified: 't1' }] }),
      },
    }) as unknown as AppDeps;

    for (const [what, text] of [['not JSON', 'garbage'], ['no listing', '{"root":"/workspace","recursive":false,"listing":null}'], ['a number', '7']]) {
      it(`answers 404 naming the watcher, never a 500, when the sandbox left ${what} in it`, async () => {
        const e = await watchApi(depsWith(text)).events(caller, { watcherId }).then(() => undefined, (x: unknown) => x);
        assert.ok(e instanceof E2bError, `an E2B error, not ${String(e)}`);
        assert.equal(e.status, 404);
        assert.match(e.message, new RegExp(watcherId));
      });
    }

    it('still reads a genuine record', async () => {
      const r = await watchApi(depsWith('{"root":"/workspace","recursive":false,"listing":{}}')).events(caller, { watcherId });
      assert.deepEqual(r, { events: [{ name: 'a.txt', type: 'EVENT_TYPE_CREATE' }] });
    });
  });

  it('refuses a cell past durabox\'s payload bound with 413 before its stream opens, nothing run', async () => {
    const calls: string[] = [];
    const deps = {
      output: { follow: () => ({ drain: async () => undefined, stop: () => undefined }) },
      sessions: { runCode: async () => { calls.push('runCode'); return { execution_count: 1, results: [], logs: { stdout: [], stderr: [] } }; } },
    } as unknown as AppDeps;
    const body = Buffer.from(JSON.stringify({ code: `x = "${'\u20ac'.repeat(600_000)}"`, language: 'python' }));
    const req = Object.assign(Readable.from([body]), {
      method: 'POST', url: '/execute', headers: { 'content-type': 'application/json', 'content-length': String(body.length) }, socket: { setNoDelay: () => undefined },
    }) as unknown as IncomingMessage;
    const ctx = new Koa().createContext(req, new ServerResponse(req));
    const e = await interpreterApi(deps).execute(ctx, { accountId: 'acct-1', sandboxId: 'sess_abc' }).then(() => undefined, (x: unknown) => x);
    assert.ok(e instanceof E2bError, `an E2B error, not ${String(e)}`);
    assert.equal(e.status, 413);
    assert.match(e.message, /^code: /);
    assert.deepEqual(calls, []);
    assert.equal(ctx.res.headersSent, false);
  });

  describe('which token opens what inside a sandbox', () => {
    const hashKey = 'a hash key';
    const claims = { a: 'acct-1', s: 'sess_abc', h: 'keyhash' };
    const envd = signSandboxToken(hashKey, { ...claims, k: 'envd' });
    const traffic = signSandboxToken(hashKey, { ...claims, k: 'traffic' });
    const calls: string[] = [];
    const deps = {
      hashKey,
      api: { session: { fileMaxBytes: 1 << 20 } },
      accounts: { byTokenHash: async (h: string) => (h === 'keyhash' ? { id: 'acct-1' } : undefined) },
      sessions: {
        peerOf: async () => ({ createdAt: new Date() }),
        file: async (_a: string, _s: string, op: { op: string; path: string }) => { calls.push(`file ${op.op}`); return { op: 'list', path: op.path, entries: [] }; },
        contexts: async () => { calls.push('contexts'); return []; },
      },
    } as unknown as AppDeps;
    /** A request into the sandbox at `port` with `headers`, through the E2B middleware: its status. */
    const call = async (path: string, port: number, headers: Record<string, string>, method = 'POST', json: unknown = { path: '/home/user' }) => {
      const body = Buffer.from(method === 'POST' ? JSON.stringify(json) : '');
      const req = Object.assign(Readable.from([body]), {
        method, url: `/e2b/sandbox${path}`,
        headers: { 'content-type': 'application/json', 'content-length': String(body.length), 'e2b-sandbox-id': 'sess_abc', 'e2b-sandbox-port': String(port), ...headers },
      }) as unknown as IncomingMessage;
      const ctx = new Koa().createContext(req, new ServerResponse(req));
      await e2bApi(deps)(ctx, async () => undefined);
      return ctx.status;
    };

    it('envd takes its own token, never the traffic token (the one a sandbox\'s ports are shared with)', async () => {
      calls.length = 0;
      assert.equal(await call('/filesystem.Filesystem/ListDir', 49983, { 'e2b-traffic-access-token': traffic }), 401);
      assert.equal(await call('/files?path=/home/user/a.txt', 49983, { 'e2b-traffic-access-token': traffic }, 'GET'), 401);
      assert.deepEqual(calls, []);
      assert.equal(await call('/filesystem.Filesystem/ListDir', 49983, { 'x-access-token': envd }), 200);
      assert.deepEqual(calls, ['file list']);
    });

    it('the code interpreter takes the traffic token, as its SDK sends only that for contexts', async () => {
      calls.length = 0;
      assert.equal(await call('/contexts', 49999, { 'e2b-traffic-access-token': traffic }, 'GET'), 200);
      assert.deepEqual(calls, ['contexts']);
    });
  });
});
