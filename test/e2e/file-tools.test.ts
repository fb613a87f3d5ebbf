// The session file tools (docs/workbench/file-tools.md): glob, grep, edit, move, copy and mkdir over REST
// and MCP, on real sessions (Docker, Temporal, PostgreSQL): what each answers, its caps, its errors, that
// no path or symlink reaches outside /workspace and /tmp, and that an acknowledged edit, move, copy or
// mkdir survives losing the host right after the answer.
import assert from 'node:assert/strict';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { platform } from './support/hooks.js';
import { call, newToken, type Res } from './support/http.js';
import { onOwnHosts } from './support/own-hosts.js';
import { keyedHash } from '../../control/security.js';
import { HASH_KEY } from '../../harness/platform.js';

type Out = { session_id: string; stdout: string; stderr: string; exit_code: number; restored?: boolean; code?: string };
type Grep = { path: string; matches: Array<{ path: string; line: number; text: string }>; truncated: boolean };
type Failure = { error: string; code?: string; message?: string };

/** The session's starting files: source, a binary file holding the searched word, a long line, and links out of the session. */
const SETUP = [
  'mkdir -p src/x lib',
  'printf "const a = 1;\\nconst b = 1;\\n// TODO fix\\n" > src/a.ts',
  'printf "TODO: more\\n" > src/x/b.ts',
  'printf "x = 1  # todo\\n" > lib/c.py',
  'printf "TODO\\000\\001\\002binary\\n" > bin.dat',
  'python3 -c "print(\'TODO\' + \'y\' * 5000)" > long.txt',
  'ln -s /etc out && ln -s /etc/passwd pw',
].join(' && ');

describe('session file tools: glob, grep, edit, move, copy, mkdir', function () {
  this.timeout(180_000);

  describe('over REST and MCP', () => {
    let token: string;
    let sid: string;
    let client: Client;
    before(async () => {
      token = await newToken();
      const a = await term(token, { command: SETUP });
      assert.equal(a.status, 200, JSON.stringify(a.body));
      assert.equal(a.body.exit_code, 0, a.body.stderr);
      sid = a.body.session_id;
      client = new Client({ name: 'durabox-test', version: '1.0.0' });
      await client.connect(new StreamableHTTPClientTransport(new URL(`${platform.url}/mcp`), { requestInit: { headers: { Authorization: `Bearer ${token}` } } }));
    });
    after(async () => {
      await client.close();
      await call('DELETE', `/api/v1/sessions/${sid}`, { token });
    });

    const files = (path: string) => `/api/v1/sessions/${sid}/files${path}`;
    const get = <T = unknown>(path: string, query: Record<string, string>) => call<T & Failure>('GET', `${files(path)}?${new URLSearchParams(query)}`, { token });
    const post = <T = unknown>(path: string, body: Record<string, unknown>) => call<T & Failure>('POST', files(path), { token, body });
    const sh = async (command: string) => {
      const r = await term(token, { session_id: sid, command });
      assert.equal(r.status, 200, JSON.stringify(r.body));
      return r.body.stdout;
    };
    const fails = (r: Res<Failure>, status: number, code: string, field?: RegExp) => {
      assert.equal(r.status, status, JSON.stringify(r.body));
      if (code !== 'invalid_input') assert.equal(r.body.code, code, JSON.stringify(r.body));
      if (field) assert.match(`${r.body.error} ${r.body.message ?? ''}`, field);
    };

    it('glob: sorted absolute paths, * within one directory and ** across them, capped by limit', async () => {
      const all = await get<{ matches: string[]; truncated: boolean }>('/glob', { pattern: '**/*.ts' });
      assert.equal(all.status, 200, JSON.stringify(all.body));
      assert.deepEqual(all.body, { path: '/workspace', matches: ['/workspace/src/a.ts', '/workspace/src/x/b.ts'], truncated: false });
      assert.deepEqual((await get<{ matches: string[] }>('/glob', { pattern: '*.ts' })).body.matches, [], '*.ts matches only directly under path');
      assert.deepEqual((await get<{ matches: string[] }>('/glob', { pattern: '*.ts', path: 'src' })).body.matches, ['/workspace/src/a.ts']);
      assert.deepEqual((await get<{ matches: string[] }>('/glob', { pattern: '{lib,src}/*.{py,ts}' })).body.matches, ['/workspace/lib/c.py', '/workspace/src/a.ts']);
      const capped = await get<{ matches: string[]; truncated: boolean }>('/glob', { pattern: '**', limit: '2' });
      assert.equal(capped.body.matches.length, 2);
      assert.equal(capped.body.truncated, true);
      fails(await get('/glob', {}), 400, 'invalid_input', /pattern/);
      fails(await get('/glob', { pattern: '*', limit: '0' }), 400, 'invalid_input', /limit/);
      fails(await get('/glob', { pattern: '*', path: 'src/a.ts' }), 400, 'invalid_path', /not a directory/);
      fails(await get('/glob', { pattern: '*', path: 'nowhere' }), 404, 'file_not_found');
    });

    it('grep: file, line and text per match, binary files skipped, long lines cut, glob and ignore_case, capped by limit', async () => {
      const r = await get<Grep>('/grep', { pattern: 'TODO' });
      assert.equal(r.status, 200, JSON.stringify(r.body));
      const at = r.body.matches.map((m) => `${m.path}:${m.line}`);
      assert.deepEqual(at, ['/workspace/long.txt:1', '/workspace/src/a.ts:3', '/workspace/src/x/b.ts:1']);
      assert.ok(!at.some((p) => p.includes('bin.dat')), 'a binary file is skipped');
      const long = r.body.matches[0].text;
      assert.equal([...long].length, 501, 'a 5004-character line is cut to 500 and marked');
      assert.ok(long.startsWith('TODOyyy') && long.endsWith('…'));
      assert.equal(r.body.matches[1].text, '// TODO fix');
      assert.equal(r.body.truncated, false);
      const py = await get<Grep>('/grep', { pattern: 'todo', glob: '*.py' });
      assert.deepEqual(py.body.matches, [{ path: '/workspace/lib/c.py', line: 1, text: 'x = 1  # todo' }]);
      const anyCase = await get<Grep>('/grep', { pattern: 'todo', ignore_case: 'true', glob: '*.{ts,py}' });
      assert.equal(anyCase.body.matches.length, 3);
      const oneFile = await get<Grep>('/grep', { pattern: 'const \\w+ = \\d', path: 'src/a.ts' });
      assert.deepEqual(oneFile.body.matches.map((m) => m.line), [1, 2]);
      const capped = await get<Grep>('/grep', { pattern: 'TODO', limit: '1' });
      assert.equal(capped.body.matches.length, 1);
      assert.equal(capped.body.truncated, true);
      fails(await get('/grep', { pattern: '(unclosed' }), 400, 'invalid_pattern', /pattern/);
      fails(await get('/grep', { pattern: 'x', ignore_case: 'maybe' }), 400, 'invalid_input', /ignore_case/);
      fails(await get('/grep', { pattern: 'x', limit: '5000' }), 400, 'invalid_input', /limit/);
    });

    it('edit: an exact unique replacement; missing text, ambiguous text and replace_all', async () => {
      await sh('printf "alpha\\nbeta\\nbeta\\n" > e.txt');
      const ok = await post<{ replacements: number; size: number }>('/edit', { path: 'e.txt', old_text: 'alpha\n', new_text: 'ALPHA\n' });
      assert.equal(ok.status, 200, JSON.stringify(ok.body));
      assert.deepEqual(ok.body, { path: 'e.txt', replacements: 1, size: 16 });
      const ambiguous = await post('/edit', { path: 'e.txt', old_text: 'beta', new_text: 'gamma' });
      fails(ambiguous, 422, 'edit_ambiguous', /2 times/);
      fails(await post('/edit', { path: 'e.txt', old_text: 'delta', new_text: 'x' }), 422, 'edit_no_match', /not found/);
      assert.equal(await sh('cat e.txt'), 'ALPHA\nbeta\nbeta\n', 'a refused edit changes nothing');
      const all = await post<{ replacements: number }>('/edit', { path: 'e.txt', old_text: 'beta', new_text: 'gamma', replace_all: true });
      assert.equal(all.body.replacements, 2);
      assert.equal(await sh('cat e.txt'), 'ALPHA\ngamma\ngamma\n');
      fails(await post('/edit', { path: 'e.txt', old_text: 'x', new_text: 'x' }), 400, 'invalid_input', /new_text/);
      fails(await post('/edit', { path: 'e.txt', old_text: '', new_text: 'x' }), 400, 'invalid_input', /old_text/);
      fails(await post('/edit', { path: 'e.txt', old_text: 'a', new_text: 'b', colour: 'red' }), 400, 'invalid_input', /colour/);
      fails(await post('/edit', { path: 'missing.txt', old_text: 'a', new_text: 'b' }), 404, 'file_not_found');
      fails(await post('/edit', { path: 'src', old_text: 'a', new_text: 'b' }), 400, 'invalid_path', /directory/);
    });

    it('move, copy and mkdir: targets, overwrite, recursive and parents', async () => {
      await sh('mkdir -p m && printf one > m/1.txt && printf two > m/2.txt');
      const moved = await post('/move', { from: 'm/1.txt', to: 'moved/deep/1.txt' });
      assert.equal(moved.status, 200, JSON.stringify(moved.body));
      assert.deepEqual(moved.body, { from: 'm/1.txt', to: 'moved/deep/1.txt' });
      fails(await post('/move', { from: 'm/2.txt', to: 'moved/deep/1.txt' }), 409, 'file_exists', /overwrite/);
      assert.equal((await post('/move', { from: 'm/2.txt', to: 'moved/deep/1.txt', overwrite: true })).status, 200);
      fails(await post('/move', { from: 'm/none', to: 'x' }), 404, 'file_not_found');
      fails(await post('/move', { from: 'src/a.ts', to: 'moved' }), 409, 'file_exists');
      fails(await post('/move', { from: 'src/a.ts', to: 'moved', overwrite: true }), 400, 'invalid_path', /directory/);
      assert.equal(await sh('cat moved/deep/1.txt; ls m'), 'two');

      fails(await post('/copy', { from: 'src', to: 'src-copy' }), 400, 'invalid_path', /recursive/);
      const copied = await post('/copy', { from: 'src', to: 'src-copy', recursive: true });
      assert.equal(copied.status, 200, JSON.stringify(copied.body));
      assert.deepEqual(copied.body, { from: 'src', to: 'src-copy' });
      assert.equal(await sh('cat src-copy/x/b.ts src/x/b.ts'), 'TODO: more\nTODO: more\n');
      fails(await post('/copy', { from: 'lib/c.py', to: 'src-copy/a.ts' }), 409, 'file_exists');
      assert.equal((await post('/copy', { from: 'lib/c.py', to: 'src-copy/a.ts', overwrite: true })).status, 200);
      assert.equal(await sh('cat src-copy/a.ts'), 'x = 1  # todo\n');

      fails(await post('/mkdir', { path: 'a/b/c' }), 404, 'file_not_found', /parents/);
      const made = await post('/mkdir', { path: 'a/b/c', parents: true });
      assert.deepEqual(made.body, { path: 'a/b/c', created: true });
      assert.deepEqual((await post('/mkdir', { path: 'a/b/c', parents: true })).body, { path: 'a/b/c', created: false });
      fails(await post('/mkdir', { path: 'a/b/c' }), 409, 'file_exists');
      fails(await post('/mkdir', { path: 'src/a.ts', parents: true }), 409, 'file_exists', /not a directory/);
      assert.deepEqual((await post('/mkdir', { path: '/tmp/scratch' })).body, { path: '/tmp/scratch', created: true });
      assert.equal(await sh('test -d a/b/c && test -d /tmp/scratch && echo ok'), 'ok\n');
    });

    it('no path, .. or symlink reaches outside /workspace and /tmp, for any of the six', async () => {
      const outside = (r: Res<Failure>, what: string) => {
        assert.equal(r.status, 400, `${what}: ${JSON.stringify(r.body)}`);
        assert.ok(r.body.code === 'path_outside_session' || /\.\./.test(r.body.error), `${what}: refused as outside the session, not for another reason: ${JSON.stringify(r.body)}`);
      };
      // Through a symlinked directory (out -> /etc), a symlinked file (pw -> /etc/passwd), an absolute path, and ..
      for (const path of ['out', 'out/', '/etc', '/proc/self', '../etc', '/workspace/../etc']) outside(await get('/glob', { pattern: '*', path }), `glob ${path}`);
      outside(await get('/glob', { pattern: '../*' }), 'glob pattern ../*');
      fails(await get('/glob', { pattern: '/etc/*' }), 400, 'invalid_input', /pattern: must be relative/);
      for (const path of ['pw', 'out', 'out/passwd', '/etc/passwd', '../etc/passwd']) outside(await get('/grep', { pattern: 'root', path }), `grep ${path}`);
      outside(await get('/grep', { pattern: 'root', glob: '../*' }), 'grep glob ../*');
      for (const path of ['pw', 'out/passwd', '/etc/hostname', '/workspace/../etc/hostname']) outside(await post('/edit', { path, old_text: 'root', new_text: 'x' }), `edit ${path}`);
      for (const [from, to] of [['out/passwd', 'stolen'], ['/etc/hostname', 'stolen'], ['src/a.ts', 'out/a.ts'], ['src/a.ts', '/etc/a.ts'], ['../etc/passwd', 'x'], ['src/a.ts', '../x']]) {
        outside(await post('/move', { from, to }), `move ${from} ${to}`);
        outside(await post('/copy', { from, to, recursive: true }), `copy ${from} ${to}`);
      }
      // A link is followed by a copy: the file it names is outside, so nothing is copied.
      outside(await post('/copy', { from: 'pw', to: 'stolen' }), 'copy pw');
      outside(await post('/copy', { from: 'out', to: 'stolen', recursive: true }), 'copy out');
      for (const path of ['out/made', '/etc/made', '/var/made', '../made']) outside(await post('/mkdir', { path, parents: true }), `mkdir ${path}`);

      // A tree walk never follows a link: /etc's files neither match a glob nor are searched by grep.
      const walked = await get<{ matches: string[] }>('/glob', { pattern: '**' });
      assert.ok(walked.body.matches.includes('/workspace/out'), 'the link itself is listed');
      assert.ok(!walked.body.matches.some((m) => m.startsWith('/workspace/out/')), 'nothing under it');
      const searched = await get<Grep>('/grep', { pattern: '^root:' });
      assert.deepEqual(searched.body.matches, [], '/etc/passwd is not searched through the link');
      assert.equal(await sh('ls stolen 2>/dev/null; ls /etc/made /var/made 2>/dev/null; echo done'), 'done\n');
      // Moving a link moves the link, never what it names.
      assert.equal((await post('/move', { from: 'pw', to: 'pw2' })).status, 200);
      assert.equal(await sh('readlink pw2; test -f /etc/passwd && echo still'), '/etc/passwd\nstill\n');
    });

    it('a session of another account, or none, answers 404', async () => {
      const { token: other } = await platform.otherAccount('files-other');
      const r = await call('GET', `/api/v1/sessions/${sid}/files/glob?pattern=*`, { token: other });
      assert.equal(r.status, 404);
      assert.equal((await call('POST', `/api/v1/sessions/${sid}/files/mkdir`, { token: other, body: { path: 'x' } })).status, 404);
      assert.equal((await call('POST', '/api/v1/sessions/sess_none/files/edit', { token, body: { path: 'x', old_text: 'a', new_text: 'b' } })).status, 404);
    });

    it('MCP: the six tools are listed for a model, and each works as its REST call does', async () => {
      const { tools } = await client.listTools();
      const byName = new Map(tools.map((t) => [t.name, t]));
      for (const name of ['glob', 'grep', 'editFile', 'moveFile', 'copyFile', 'makeDirectory']) {
        const t = byName.get(name);
        assert.ok(t, name);
        assert.ok((t!.description ?? '').length > 200 && /session_id/.test(t!.description!), `${name} explains itself and that it needs a session_id`);
        assert.equal(t!.inputSchema.additionalProperties, false, `${name} refuses unknown fields`);
        assert.ok(t!.inputSchema.required?.includes('session_id'), name);
        assert.ok(t!.outputSchema, name);
      }
      assert.equal(byName.get('glob')!.annotations?.readOnlyHint, true);
      assert.equal(byName.get('editFile')!.annotations?.destructiveHint, true);

      const tool = async (name: string, args: Record<string, unknown>) => {
        const r = await client.callTool({ name, arguments: { session_id: sid, ...args } });
        return { structured: r.structuredContent as Record<string, unknown>, isError: r.isError, text: (r.content as Array<{ text: string }>)[0]?.text };
      };
      assert.deepEqual((await tool('glob', { pattern: 'src/*.ts' })).structured, { path: '/workspace', matches: ['/workspace/src/a.ts'], truncated: false });
      assert.deepEqual((await tool('grep', { pattern: 'TODO', path: 'src', glob: '*.ts' })).structured, {
        path: 'src', matches: [{ path: '/workspace/src/a.ts', line: 3, text: '// TODO fix' }, { path: '/workspace/src/x/b.ts', line: 1, text: 'TODO: more' }], truncated: false,
      });
      await sh('printf "k=1\\nk=1\\n" > mcp.txt');
      const ambiguous = await tool('editFile', { path: 'mcp.txt', old_text: 'k=1', new_text: 'k=2' });
      assert.equal(ambiguous.isError, true);
      assert.match(ambiguous.text, /^edit_ambiguous: .*2 times/);
      assert.deepEqual((await tool('editFile', { path: 'mcp.txt', old_text: 'k=1', new_text: 'k=2', replace_all: true })).structured, { path: 'mcp.txt', replacements: 2, size: 8 });
      assert.deepEqual((await tool('makeDirectory', { path: 'mcp/dir', parents: true })).structured, { path: 'mcp/dir', created: true });
      assert.deepEqual((await tool('copyFile', { from: 'mcp.txt', to: 'mcp/dir/copy.txt' })).structured, { from: 'mcp.txt', to: 'mcp/dir/copy.txt' });
      assert.deepEqual((await tool('moveFile', { from: 'mcp.txt', to: 'mcp/moved.txt' })).structured, { from: 'mcp.txt', to: 'mcp/moved.txt' });
      assert.equal(await sh('cat mcp/dir/copy.txt mcp/moved.txt; ls mcp.txt 2>&1 | grep -c "No such"'), 'k=2\nk=2\nk=2\nk=2\n1\n');
      const escape = await tool('copyFile', { from: 'out/passwd', to: 'leak' });
      assert.equal(escape.isError, true);
      assert.match(escape.text, /^path_outside_session: /);
    });
  });

  describe('zero loss: an acknowledged edit, move, copy or mkdir survives losing the host right after the answer', () => {
    const hosts = ['ft-a', 'ft-b'];
    onOwnHosts(hosts);
    let token: string;
    let accountId: string;
    before(async () => {
      token = await newToken();
      accountId = (await platform.api.deps.accounts.byTokenHash(keyedHash(HASH_KEY, token)))!.id;
      for (const h of hosts) if (!platform.workers.get(h)) await platform.startWorker(h, { DURABOX_RUNTIMES: 'terminal' });
    });
    const nameOf = (workerId: string | null) => hosts.find((h) => platform.workerId(h) === workerId)!;
    const holderOf = async (sid: string) => nameOf((await call<{ host: string | null }>('GET', `/api/v1/sessions/${sid}`, { token })).body.host);

    it('each changing file tool stores its effect before it answers; glob and grep store nothing', async () => {
      const a = await term(token, { command: 'printf "#!/bin/sh\\necho v1\\n" > run.sh && chmod +x run.sh && mkdir -p tree/sub && echo leaf > tree/sub/leaf.txt && echo old > old.txt' });
      assert.equal(a.status, 200, JSON.stringify(a.body));
      const sid = a.body.session_id;
      const chain = () => platform.api.deps.snapshots.chain(accountId, sid);
      const step = async (method: 'GET' | 'POST', path: string, body?: Record<string, unknown>) => {
        const before = (await chain()).length;
        const r = await call(method, `/api/v1/sessions/${sid}/files/${path}`, { token, body });
        assert.equal(r.status, 200, `${path}: ${JSON.stringify(r.body)}`);
        return (await chain()).length - before;
      };
      assert.equal(await step('POST', 'move', { from: 'old.txt', to: 'renamed/new.txt' }), 1, 'the move is one stored part');
      assert.equal(await step('POST', 'copy', { from: 'tree', to: 'tree-copy', recursive: true }), 1, 'the copy is one stored part');
      assert.equal(await step('POST', 'mkdir', { path: 'empty/dir', parents: true }), 1, 'the mkdir is one stored part');
      assert.equal(await step('GET', 'glob?pattern=**'), 0, 'a glob stores nothing');
      assert.equal(await step('GET', 'grep?pattern=leaf'), 0, 'a grep stores nothing');
      // Beside a running command: the call stores its own delta, never waiting for the session's agent.
      const running = term(token, { session_id: sid, command: 'sleep 6; echo slept > slept.txt' });
      await new Promise((r) => setTimeout(r, 1500));
      const started = Date.now();
      assert.equal(await step('POST', 'copy', { from: 'renamed/new.txt', to: 'during/copy.txt' }), 1, 'the copy beside a command is one stored part');
      assert.ok(Date.now() - started < 3500, `the copy answered without waiting for the command (${Date.now() - started} ms)`);
      assert.equal((await running).status, 200);
      // Last: only the edit's own part holds the new content (and the script's mode).
      assert.equal(await step('POST', 'edit', { path: 'run.sh', old_text: 'v1', new_text: 'v2' }), 1, 'the edit is one stored part');
      const last = (await chain()).at(-1)!;
      assert.equal(last.kind, 'delta', 'a delta, not the whole workspace');

      // Lost the instant after the last answer: no checkpoint period has passed.
      const holder = await holderOf(sid);
      await platform.loseHost(holder);
      const b = await term(token, { session_id: sid, command: 'stat -c %a run.sh; sh run.sh; cat renamed/new.txt tree-copy/sub/leaf.txt during/copy.txt slept.txt; test -d empty/dir && echo dir; ls old.txt 2>&1 | grep -c "No such"' });
      assert.equal(b.status, 200, JSON.stringify(b.body));
      assert.equal(b.body.stdout, '755\nv2\nold\nleaf\nold\nslept\ndir\n1\n', `the edit (its mode kept), the move, the copy and the mkdir all came back: ${JSON.stringify(b.body)}`);
      assert.equal(b.body.restored, true);
      assert.notEqual(await holderOf(sid), holder);
      await call('DELETE', `/api/v1/sessions/${sid}`, { token });
    });
  });
});

function term(token: string, body: Record<string, unknown>) {
  return call<Out>('POST', '/api/v1/commands/terminal', { token, body: { lease_ttl_sec: 300, ...body } });
}
