import assert from 'node:assert/strict';
import WebSocket from 'ws';
import { platform } from './support/hooks.js';
import { call, login, newToken } from './support/http.js';
import { eventually } from './support/docker.js';
import { startWsEcho } from './support/session-servers.js';
import { keyedHash } from '../../control/security.js';
import { HASH_KEY } from '../../harness/platform.js';

type Out = { session_id: string; stdout: string; stderr: string; exit_code: number };

/** A small HTTP + WebSocket-free server in the session (Python's standard library), started in the background. */
const SERVE = (port: number, dir = '/workspace/site') => `mkdir -p ${dir} && cd ${dir} && (nohup python3 -m http.server ${port} --bind 127.0.0.1 > /tmp/http-${port}.log 2>&1 &) ; for i in $(seq 50); do python3 -c "import socket; socket.create_connection(('127.0.0.1', ${port}))" 2>/dev/null && break; sleep 0.1; done`;

/** A viewer of a session's terminal: collects its output as text. */
class Viewer {
  text = '';
  events: Array<Record<string, unknown>> = [];
  readonly ws: WebSocket;
  readonly opened: Promise<void>;
  constructor(url: string, headers: Record<string, string>) {
    this.ws = new WebSocket(url, { headers });
    this.ws.on('message', (d, binary) => {
      if (binary) this.text += Buffer.from(d as Buffer).toString('utf8');
      else this.events.push(JSON.parse(String(d)) as Record<string, unknown>);
    });
    this.opened = new Promise((resolve, reject) => {
      this.ws.once('open', () => resolve());
      this.ws.once('unexpected-response', (_req, res) => {
        let body = '';
        res.on('data', (c: Buffer) => { body += c; });
        res.on('end', () => reject(Object.assign(new Error(`${res.statusCode}: ${body}`), { status: res.statusCode, body })));
      });
      this.ws.once('error', reject);
    });
  }
  type(s: string): void { this.ws.send(JSON.stringify({ type: 'input', data: s })); }
  async waitFor(re: RegExp, ms = 15_000): Promise<void> {
    await eventually(`terminal output matching ${re}`, async () => re.test(this.text), ms);
  }
  close(): void { this.ws.close(); }
}

describe('workbench streams: ports and the interactive terminal', function () {
  this.timeout(120_000);
  let token: string;
  let sid: string;
  const term = async (command: string) => {
    const r = await call<Out>('POST', '/api/v1/commands/terminal', { token, body: { command, session_id: sid, lease_ttl_sec: 600 } });
    assert.equal(r.status, 200, JSON.stringify(r.body));
    return r.body;
  };
  const wsBase = () => platform.url.replace(/^http/, 'ws');

  before(async () => {
    token = await newToken();
    const r = await call<Out>('POST', '/api/v1/commands/terminal', { token, body: { command: 'echo hi > /workspace/hello.txt', lease_ttl_sec: 600 } });
    assert.equal(r.status, 200, JSON.stringify(r.body));
    sid = r.body.session_id;
  });
  after(async () => { await call('DELETE', `/api/v1/sessions/${sid}`, { token }); });

  it('serves an HTTP server in the session at /sessions/:id/ports/:port/, with the token, bodies both ways', async () => {
    await term(`${SERVE(8000)} && echo '<h1>made in the session</h1>' > /workspace/site/index.html && head -c 300000 /dev/urandom > /workspace/site/big.bin`);
    const page = await fetch(`${platform.url}/api/v1/sessions/${sid}/ports/8000/index.html`, { headers: { authorization: `Bearer ${token}` } });
    assert.equal(page.status, 200, await page.clone().text());
    assert.match(await page.text(), /made in the session/);
    // A page served on the API's origin runs in a sandbox: it cannot use the dashboard's cookie.
    assert.match(page.headers.get('content-security-policy') ?? '', /^sandbox/);
    const big = await fetch(`${platform.url}/api/v1/sessions/${sid}/ports/8000/big.bin`, { headers: { authorization: `Bearer ${token}` } });
    assert.equal(big.status, 200);
    assert.equal((await big.arrayBuffer()).byteLength, 300000);
    const listed = await call('GET', `/api/v1/sessions/${sid}/ports`, { token });
    assert.equal(listed.status, 200, JSON.stringify(listed.body));
    assert.ok(listed.body.ports.some((p: { port: number }) => p.port === 8000), JSON.stringify(listed.body));
  });

  it('passes WebSockets through to a server in the session', async () => {
    await term(startWsEcho(8765));
    const ws = new WebSocket(`${wsBase()}/api/v1/sessions/${sid}/ports/8765/chat?room=1`, { headers: { authorization: `Bearer ${token}` } });
    await new Promise((resolve, reject) => { ws.once('open', resolve); ws.once('error', reject); });
    const reply = new Promise<string>((resolve) => ws.once('message', (d) => resolve(String(d))));
    ws.send('ping through the tunnel');
    assert.equal(await reply, '/chat?room=1 ping through the tunnel');
    ws.close();
  });

  it('keeps a registered service: it listens now, and again after the session paused and resumed', async () => {
    const policy = platform.api.deps.api.session;
    const before = policy.pauseAfterSec;
    policy.pauseAfterSec = 3;
    let paused: string | undefined;
    try {
      const made = await call<Out>('POST', '/api/v1/commands/terminal', { token, body: { command: 'true', lease_ttl_sec: 600 } });
      paused = made.body.session_id;
      const r = await call('POST', `/api/v1/sessions/${paused}/ports`, { token, body: { port: 8100, command: 'mkdir -p svc && cd svc && echo service-up > index.html && exec python3 -m http.server 8100 --bind 127.0.0.1' } });
      assert.equal(r.status, 201, JSON.stringify(r.body));
      assert.equal(r.body.listening, true);
      const get = () => fetch(`${platform.url}/api/v1/sessions/${paused}/ports/8100/`, { headers: { authorization: `Bearer ${token}` } });
      assert.match(await (await get()).text(), /service-up/);
      await eventually('the session to pause', async () => (await call('GET', `/api/v1/sessions/${paused}`, { token })).body.status === 'paused', 30_000);
      policy.pauseAfterSec = before;
      // The first request resumes the session and starts the service again in its new container.
      const again = await get();
      assert.equal(again.status, 200, await again.clone().text());
      assert.match(await again.text(), /service-up/);
      const bad = await call('POST', `/api/v1/sessions/${paused}/ports`, { token, body: { port: 8101, command: '   ' } });
      assert.equal(bad.status, 400);
      assert.match(JSON.stringify(bad.body), /command/);
    } finally {
      policy.pauseAfterSec = before;
      if (paused) await call('DELETE', `/api/v1/sessions/${paused}`, { token });
    }
  });

  it('refuses without a token, for another account, and for a port nobody listens on (4xx naming it)', async () => {
    const none = await fetch(`${platform.url}/api/v1/sessions/${sid}/ports/8000/`);
    assert.equal(none.status, 401);
    const other = (await platform.otherAccount('wb')).token;
    const theirs = await fetch(`${platform.url}/api/v1/sessions/${sid}/ports/8000/`, { headers: { authorization: `Bearer ${other}` } });
    assert.equal(theirs.status, 404);
    const closed = await fetch(`${platform.url}/api/v1/sessions/${sid}/ports/8011/`, { headers: { authorization: `Bearer ${token}` } });
    assert.equal(closed.status, 404);
    const body = await closed.json() as { error: string; code: string; message: string };
    assert.equal(body.code, 'port_not_listening');
    assert.match(body.message, /8011/);
    const bad = await fetch(`${platform.url}/api/v1/sessions/${sid}/ports/70000/`, { headers: { authorization: `Bearer ${token}` } });
    assert.equal(bad.status, 400);
    // The dashboard's login cookie opens a port for the user's own requests, never for one another site started.
    const cookie = await login();
    const own = await fetch(`${platform.url}/api/v1/sessions/${sid}/ports/8000/index.html`, { headers: { cookie, 'sec-fetch-site': 'same-origin' } });
    assert.equal(own.status, 200);
    const typed = await fetch(`${platform.url}/api/v1/sessions/${sid}/ports/8000/index.html`, { headers: { cookie, 'sec-fetch-site': 'none' } });
    assert.equal(typed.status, 200);
    for (const site of ['cross-site', 'same-site']) {
      const foreign = await fetch(`${platform.url}/api/v1/sessions/${sid}/ports/8000/index.html`, { headers: { cookie, 'sec-fetch-site': site } });
      assert.equal(foreign.status, 403, site);
    }
  });

  it('opens a port with a signed link that expires, without the token', async () => {
    const link = await call('POST', `/api/v1/sessions/${sid}/links`, { token, body: { port: 8000, ttl_sec: 60 } });
    assert.equal(link.status, 201, JSON.stringify(link.body));
    assert.match(link.body.path, /^\/api\/v1\/links\/l1\.[^/]+\/$/);
    const page = await fetch(`${platform.url}${link.body.path}`);
    assert.equal(page.status, 200);
    assert.equal(page.headers.get('x-durabox-test') ?? null, null);
    // The page's relative URLs keep the link: its scripts, styles and files load through it as well.
    const relative = await fetch(`${platform.url}${link.body.path}big.bin`);
    assert.equal(relative.status, 200);
    assert.equal((await relative.arrayBuffer()).byteLength, 300000);
    // The link names its port: it opens no other.
    const signed = link.body.path.split('/')[4];
    const otherPort = await fetch(`${platform.url}/api/v1/sessions/${sid}/ports/8001/?durabox_link=${signed}`);
    assert.equal(otherPort.status, 403);
    // A changed link opens nothing.
    const forged = await fetch(`${platform.url}/api/v1/links/${signed.slice(0, -2)}xx/`);
    assert.equal(forged.status, 401);
  });

  it('runs an interactive terminal: a real TTY, resize, Ctrl-C, a full-screen program, a late viewer sees what came before', async () => {
    const headers = { authorization: `Bearer ${token}` };
    const a = new Viewer(`${wsBase()}/api/v1/sessions/${sid}/pty?cols=100&rows=30`, headers);
    await a.opened;
    a.type('tty; stty size; echo READY-$((6*7))\r');
    await a.waitFor(/\/dev\/pts\/\d+[\s\S]*30 100[\s\S]*READY-42/);
    a.ws.send(JSON.stringify({ type: 'resize', cols: 120, rows: 40 }));
    a.type('stty size\r');
    await a.waitFor(/40 120/);
    a.type('sleep 30; echo NOT-$((0))-INTERRUPTED\r');
    await new Promise((r) => setTimeout(r, 500));
    a.type('\x03');
    a.type('echo AFTER-$((1+1))\r');
    await a.waitFor(/AFTER-2/);
    assert.doesNotMatch(a.text, /NOT-0-INTERRUPTED/);
    // top draws a full screen and ends on q.
    a.type('top -d 0.5\r');
    await a.waitFor(/load average/);
    const before = a.text.length;
    a.type('q');
    await eventually('top to end on q', async () => /\$ $/.test(a.text.slice(before)));
    a.type('echo TOP-$((2+2))\r');
    await a.waitFor(/TOP-4/);
    // A second viewer of the same terminal gets the kept output, then both see what is typed.
    const b = new Viewer(`${wsBase()}/api/v1/sessions/${sid}/pty`, headers);
    await b.opened;
    await b.waitFor(/READY-42/);
    b.type('echo FROM-B-$((2*3))\r');
    await a.waitFor(/FROM-B-6/);
    a.close();
    b.close();
    // The shell outlives its viewers: a viewer that reconnects finds it as it was.
    const c = new Viewer(`${wsBase()}/api/v1/sessions/${sid}/pty`, headers);
    await c.opened;
    await c.waitFor(/FROM-B-6/);
    c.type('exit\r');
    await eventually('the exit event', async () => c.events.some((e) => e.type === 'exit'));
  });

  it('runs vim in the terminal, and vim survives its viewer reconnecting', async () => {
    const headers = { authorization: `Bearer ${token}` };
    const a = new Viewer(`${wsBase()}/api/v1/sessions/${sid}/pty?name=editor&cols=80&rows=24`, headers);
    await a.opened;
    a.type('vi notes.txt\r');
    // vi's empty-buffer lines, drawn full screen.
    await a.waitFor(/~[\s\S]*~[\s\S]*~/);
    a.type('ihello from vi');
    await a.waitFor(/hello from vi/);
    a.close();
    // The editor goes on without a viewer; the next one gets the screen so far and finishes the edit.
    const b = new Viewer(`${wsBase()}/api/v1/sessions/${sid}/pty?name=editor&cols=80&rows=24`, headers);
    await b.opened;
    await b.waitFor(/hello from vi/);
    b.type(' and back');
    await b.waitFor(/and back/);
    // Escape alone, then the command: an escape followed at once by ':' reads as one key (Alt-:).
    b.type('\x1b');
    await new Promise((r) => setTimeout(r, 300));
    b.type(':wq\r');
    await b.waitFor(/written[\s\S]*\$ $/);
    b.type('cat notes.txt | tr a-z A-Z\r');
    await b.waitFor(/HELLO FROM VI AND BACK/).catch((e) => { throw new Error(`${(e as Error).message}; the screen: ${JSON.stringify(b.text.slice(-2000))}`); });
    b.close();
    assert.equal((await term('cat notes.txt')).stdout, 'hello from vi and back\n');
  });

  it('stores what was typed in the terminal: the viewer leaving makes the session checkpoint it, so a lost host keeps it', async () => {
    const account = (await platform.api.deps.accounts.byTokenHash(keyedHash(HASH_KEY, token)))!;
    const parts = async () => (await platform.api.deps.snapshots.chain(account.id, sid)).length;
    const before = await parts();
    const v = new Viewer(`${wsBase()}/api/v1/sessions/${sid}/pty?name=durable`, { authorization: `Bearer ${token}` });
    await v.opened;
    v.type('echo typed-$((3*3)) > typed.txt; echo WROTE-$((1+4))\r');
    await v.waitFor(/WROTE-5/);
    v.close();
    await eventually('a checkpoint part with the typed file', async () => (await parts()) > before, 20_000);
    const r = await term('cat typed.txt');
    assert.equal(r.stdout, 'typed-9\n');
  });

  it('keeps serving a session\'s ports and terminal across a restart of its host\'s worker', async () => {
    const headers = { authorization: `Bearer ${token}` };
    const a = new Viewer(`${wsBase()}/api/v1/sessions/${sid}/pty?name=restart`, headers);
    await a.opened;
    a.type('echo BEFORE-$((5*5))\r');
    await a.waitFor(/BEFORE-25/);
    await platform.workers.get('w-main')!.stop();
    await platform.startWorker('w-main');
    // The terminal's shell lived on in the container; a viewer that comes back sees what came before.
    const b = new Viewer(`${wsBase()}/api/v1/sessions/${sid}/pty?name=restart`, headers);
    await b.opened;
    await b.waitFor(/BEFORE-25/);
    b.type('echo AFTER-$((6*6))\r');
    await b.waitFor(/AFTER-36/);
    b.close();
    const page = await fetch(`${platform.url}/api/v1/sessions/${sid}/ports/8000/index.html`, { headers });
    assert.equal(page.status, 200);
    assert.match(await page.text(), /made in the session/);
  });

  it('refuses a terminal without a token, of another account, with bad sizes, or of an ended session', async () => {
    await assert.rejects(new Viewer(`${wsBase()}/api/v1/sessions/${sid}/pty`, {}).opened, (e: { status?: number }) => e.status === 401);
    const other = (await platform.otherAccount('wb')).token;
    await assert.rejects(new Viewer(`${wsBase()}/api/v1/sessions/${sid}/pty`, { authorization: `Bearer ${other}` }).opened, (e: { status?: number }) => e.status === 404);
    await assert.rejects(new Viewer(`${wsBase()}/api/v1/sessions/${sid}/pty?cols=0`, { authorization: `Bearer ${token}` }).opened, (e: { status?: number; body?: string }) => e.status === 400 && /cols/.test(e.body ?? ''));
    const ended = await call<Out>('POST', '/api/v1/commands/terminal', { token, body: { command: 'true', lease_ttl_sec: 60 } });
    await call('DELETE', `/api/v1/sessions/${ended.body.session_id}`, { token });
    await assert.rejects(new Viewer(`${wsBase()}/api/v1/sessions/${ended.body.session_id}/pty`, { authorization: `Bearer ${token}` }).opened, (e: { status?: number }) => e.status === 404);
  });
});
