// The attack suite, against the workbench's streams (docs/workbench/tunnel.md, docs/workbench/ports.md): a
// hostile process inside a session turns on its relay directory and the host's relay listener; a caller
// who reaches a host's tunnel listener forges or misdirects grants; another account, or a link not meant
// for it, tries every stream route; a page served from a session tries to act with the dashboard's login
// cookie, to read the caller's credentials, and to plant a cookie of its own on the API's origin. Every
// connection goes to the API, the worker and the containers this test started, or a browser it started.
import assert from 'node:assert/strict';
import { connect, type Socket } from 'node:net';
import WebSocket from 'ws';
import { platform } from './support/hooks.js';
import { launchChromium } from './support/chromium.js';
import { call, login, newToken } from './support/http.js';
import { eventually } from './support/docker.js';
import { startWsEcho } from './support/session-servers.js';
import { ADMIN, HASH_KEY } from '../../harness/platform.js';
import { keyedHash } from '../../control/security.js';
import { signTunnelGrant, tunnelKeys, type TunnelClaims } from '../../tunnel/grants.js';
import { signLink, PTY_LINK } from '../../tunnel/links.js';
import { splitHostPort } from '../../tunnel/host-server.js';


type Out = { session_id: string; stdout: string; stderr: string; exit_code: number };

/**
 * The script a hostile page runs: it tries to mint an access token with whatever cookie the browser sends,
 * and to read the page's cookies. It answers what it got.
 */
const STEAL = (name: string) => `(async () => {
  const r = {};
  try { r.cookie = document.cookie; } catch (e) { r.cookie_error = String(e && e.name || e); }
  try {
    const res = await fetch('/api/v1/console/tokens', { method: 'POST', credentials: 'include', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ name: ${JSON.stringify(name)} }) });
    r.status = res.status;
    r.body = await res.text();
  } catch (e) { r.fetch_error = String(e); }
  return r;
})()`;

/**
 * The server a session runs on its port (Python's standard library): /echo answers the request's path and
 * headers as JSON; /toss sets the cookies listed in /workspace/cookies.txt; /evil.html is a page running STEAL.
 */
const ECHO_SERVER = (port: number) => `cat > /workspace/echo.py <<'PY'
import json, sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
PAGE = b'''<!doctype html><html><body><pre id="out">running</pre><script>
${STEAL('stolen')}.then((r) => { document.getElementById('out').textContent = 'DONE ' + JSON.stringify(r); });
</script></body></html>'''
class H(BaseHTTPRequestHandler):
    protocol_version = 'HTTP/1.1'
    def do_GET(self):
        cookies = []
        if self.path.startswith('/evil.html'):
            body, kind = PAGE, 'text/html'
        else:
            body, kind = json.dumps({'path': self.path, 'headers': [[k.lower(), v] for k, v in self.headers.items()]}).encode(), 'application/json'
        if self.path.startswith('/toss'):
            cookies = [l.strip() for l in open('/workspace/cookies.txt') if l.strip()]
        self.send_response(200)
        self.send_header('content-type', kind)
        self.send_header('content-length', str(len(body)))
        for c in cookies:
            self.send_header('set-cookie', c)
        self.end_headers()
        self.wfile.write(body)
    def log_message(self, *a):
        pass
ThreadingHTTPServer(('127.0.0.1', ${port}), H).serve_forever()
PY
(nohup python3 /workspace/echo.py ${port} > /tmp/echo-${port}.log 2>&1 &) ; for i in $(seq 50); do python3 -c "import socket; socket.create_connection(('127.0.0.1', ${port}))" 2>/dev/null && break; sleep 0.1; done`;

/**
 * A hostile process against the host's relay listener, for `seconds`: each round holds 300 connections
 * open without a word, sends garbage, a 2 MB line without a newline, an answer with a guessed stream id,
 * takes the control connection twice and floods it. It writes what the host did to /tmp/flood.json.
 */
const FLOOD = (seconds: number) => `cat > /workspace/flood.py <<'PY'
import json, socket, time
P = '/run/durabox/relay.sock'
def conn():
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(10)
    s.connect(P)
    return s
def closed_by_host(s, wait=8):
    s.settimeout(wait)
    try:
        while True:
            d = s.recv(65536)
            if not d:
                return True
    except socket.timeout:
        return False
    except OSError:
        return True
def send(s, data):
    try:
        s.sendall(data)
    except OSError:
        pass
report = {'rounds': 0, 'held': [], 'held_cut': [], 'garbage_closed': [], 'long_line_closed': [], 'guess_closed': [], 'ctl_flood_closed': [], 'errors': []}
end = time.time() + ${seconds}
while time.time() < end:
    try:
        held = []
        for i in range(300):
            held.append(conn())
        report['held'].append(len(held))
        g = conn(); send(g, b'\\x00\\xff garbage {{{ not json\\n'); report['garbage_closed'].append(closed_by_host(g))
        b = conn(); send(b, b'x' * (2 << 20)); report['long_line_closed'].append(closed_by_host(b))
        a = conn(); send(a, b'{"id":"guess","ok":true}\\n'); report['guess_closed'].append(closed_by_host(a))
        c1 = conn(); send(c1, b'ctl\\n')
        c2 = conn(); send(c2, b'ctl\\n')
        send(c2, b'{"id":"guess","ports":[1,2,3]}\\n')
        send(c2, b'y' * (2 << 20))
        report['ctl_flood_closed'].append(closed_by_host(c2))
        c1.close()
        # Held connections that never sent a line: the host cuts them after 5 s.
        time.sleep(5.5)
        report['held_cut'].append(sum(1 for s in held if closed_by_host(s, 0.05)))
        for s in held:
            s.close()
        report['rounds'] += 1
    except Exception as e:
        report['errors'].append(repr(e))
        time.sleep(0.2)
json.dump(report, open('/tmp/flood.json', 'w'))
PY
rm -f /tmp/flood.json; (nohup python3 /workspace/flood.py > /tmp/flood.log 2>&1 &)`;

/** A WebSocket attempt: opened (a stream!), or refused with the upgrade's HTTP status and body. */
function tryWebSocket(url: string, headers: Record<string, string> = {}): Promise<{ opened: true; ws: WebSocket } | { opened: false; status: number; body: string; setCookie: string[] }> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, { headers });
    ws.once('open', () => resolve({ opened: true, ws }));
    ws.once('unexpected-response', (_req, res) => {
      let body = '';
      res.on('data', (c: Buffer) => { body += c; });
      res.on('end', () => resolve({ opened: false, status: res.statusCode ?? 0, body, setCookie: res.headers['set-cookie'] ?? [] }));
    });
    ws.once('error', (e) => reject(e));
  });
}

/**
 * A connection to a host's tunnel listener: the first line it answers, whether it closed the connection
 * within half a second of it, and what came after the line (the stream, when one opened).
 */
function tunnelAttempt(address: string, line: string | Buffer): Promise<{ answer: Record<string, unknown>; closed: boolean; socket: Socket; tail: () => string }> {
  const { host, port } = splitHostPort(address);
  return new Promise((resolve, reject) => {
    const s = connect({ host, port });
    let buf = Buffer.alloc(0);
    let answered: Record<string, unknown> | undefined;
    let tail = '';
    let closed = false;
    s.on('error', () => undefined);
    s.on('data', (d: Buffer) => {
      if (answered) return void (tail += d.toString('utf8'));
      buf = Buffer.concat([buf, d]);
      const nl = buf.indexOf(0x0a);
      if (nl < 0) return;
      answered = JSON.parse(buf.subarray(0, nl).toString('utf8')) as Record<string, unknown>;
      tail += buf.subarray(nl + 1).toString('utf8');
      // A refusal ends the connection at once; an opened stream stays open.
      setTimeout(() => resolve({ answer: answered!, closed, socket: s, tail: () => tail }), 500);
    });
    s.once('close', () => { closed = true; if (!answered) reject(new Error('closed without an answer')); });
    s.write(line);
  });
}

/** A signed token (links, grants: version.body.signature) with one character of its signature changed. */
/** The signed link in a link's path: a port's is a path segment (/api/v1/links/<link>/), the terminal's a parameter. */
function linkIn(path: string): string {
  const segment = /^\/api\/v1\/links\/([^/]+)\//.exec(path);
  return segment ? decodeURIComponent(segment[1]) : new URL(path, 'http://x').searchParams.get('durabox_link')!;
}

function tamper(signed: string): string {
  const [v, body, sig] = signed.split('.');
  return `${v}.${body}.${sig.slice(0, 5)}${sig[5] === 'A' ? 'B' : 'A'}${sig.slice(6)}`;
}

interface FloodReport { rounds: number; held: number[]; held_cut: number[]; garbage_closed: boolean[]; long_line_closed: boolean[]; guess_closed: boolean[]; ctl_flood_closed: boolean[]; errors: string[] }

describe('attack suite: the workbench\'s streams', function () {
  this.timeout(180_000);
  let token: string;
  let accountId: string;
  let sid: string;
  let attacker: { token: string; accountId: string; username: string };
  let asid: string;
  let launched: Awaited<ReturnType<typeof launchChromium>> | undefined;
  const wsBase = () => platform.url.replace(/^http/, 'ws');
  const term = async (tok: string, session: string, command: string) => {
    const r = await call<Out>('POST', '/api/v1/commands/terminal', { token: tok, body: { command, session_id: session, lease_ttl_sec: 600 } });
    assert.equal(r.status, 200, JSON.stringify(r.body));
    return r.body;
  };
  const portUrl = (session: string, port: number, rest = '') => `${platform.url}/api/v1/sessions/${session}/ports/${port}/${rest}`;
  /** The victim's port answers, and its terminal runs a command: its streams work. */
  const victimStreamsWork = async (tag: string) => {
    const page = await fetch(portUrl(sid, 8000, 'echo'), { headers: { authorization: `Bearer ${token}` } });
    assert.equal(page.status, 200, `${tag}: the port: ${await page.clone().text()}`);
    assert.match(await page.text(), /"path": "\/echo"/);
    const v = await tryWebSocket(`${wsBase()}/api/v1/sessions/${sid}/pty?name=victim`, { authorization: `Bearer ${token}` });
    assert.ok(v.opened, `${tag}: the terminal: ${JSON.stringify(v)}`);
    let text = '';
    v.ws.on('message', (d, binary) => { if (binary) text += Buffer.from(d as Buffer).toString('utf8'); });
    v.ws.send(JSON.stringify({ type: 'input', data: `echo ${tag}-$((20+22))\r` }));
    await eventually(`${tag}: the terminal's answer`, async () => text.includes(`${tag}-42`), 15_000);
    v.ws.close();
  };
  const chromiumContext = async () => {
    launched ??= await launchChromium();
    return launched.context;
  };

  before(async () => {
    token = await newToken();
    accountId = (await platform.api.deps.accounts.byTokenHash(keyedHash(HASH_KEY, token)))!.id;
    const r = await call<Out>('POST', '/api/v1/commands/terminal', { token, body: { command: ECHO_SERVER(8000), lease_ttl_sec: 600 } });
    assert.equal(r.status, 200, JSON.stringify(r.body));
    sid = r.body.session_id;
    const other = await platform.otherAccount('attacker');
    attacker = { token: other.token, accountId: other.account.id, username: other.account.username };
    const a = await call<Out>('POST', '/api/v1/commands/terminal', { token: attacker.token, body: { command: ECHO_SERVER(8000), lease_ttl_sec: 600 } });
    assert.equal(a.status, 200, JSON.stringify(a.body));
    asid = a.body.session_id;
  });
  after(async () => {
    await launched?.close();
    if (sid) await call('DELETE', `/api/v1/sessions/${sid}`, { token });
    if (asid) await call('DELETE', `/api/v1/sessions/${asid}`, { token: attacker.token });
  });

  it('a hostile container cannot create, replace or symlink anything in its relay directory; its streams still work', async () => {
    const attempts = [
      'touch /run/durabox/planted',
      'rm -f /run/durabox/relay.sock',
      'mv /run/durabox/relay.sock /run/durabox/moved.sock',
      'ln -sf /etc/passwd /run/durabox/relay.sock',
      'ln -s /var/run/docker.sock /run/durabox/docker.sock',
      'mkdir /run/durabox/sub',
      'chmod 777 /run/durabox',
      'python3 -c "import socket; socket.socket(socket.AF_UNIX).bind(\'/run/durabox/relay.sock\')"',
      'python3 -c "import socket; socket.socket(socket.AF_UNIX).bind(\'/run/durabox/fake.sock\')"',
      'mount -o remount,rw /run/durabox',
      'umount -l /run/durabox',
    ];
    const script = attempts.map((a) => `if ( ${a} ) 2>/dev/null; then echo "ALLOWED: ${a.replace(/"/g, '\\"')}"; else echo "refused"; fi`).join('\n');
    const r = await term(token, sid, `${script}\necho --listing--\nls -la /run/durabox\necho --mounts--\ngrep ' /run/durabox ' /proc/mounts`);
    assert.doesNotMatch(r.stdout, /ALLOWED/, r.stdout);
    assert.equal(r.stdout.match(/^refused$/gm)?.length, attempts.length, r.stdout);
    const [, listing, mounts] = /--listing--\n([\s\S]*)--mounts--\n([\s\S]*)$/.exec(r.stdout)!;
    assert.match(mounts, / \/run\/durabox \S+ ro[,\s]/, `mounted read-only: ${mounts}`);
    assert.match(listing, /^s[rwx-]{9}.* relay\.sock$/m, `the socket is still the host's: ${listing}`);
    assert.doesNotMatch(listing, /planted|moved|fake|docker\.sock|sub/, listing);
    await victimStreamsWork('after-readonly');
  });

  it('a hostile container flooding the host\'s relay listener takes down neither the worker nor another account\'s streams; its own streams come back', async function () {
    this.timeout(240_000);
    const worker = platform.workers.get('w-main')!;
    await term(attacker.token, asid, FLOOD(15));
    const started = Date.now();
    let rounds = 0;
    // Meanwhile another account's session serves its port and its terminal through the API.
    while (Date.now() - started < 15_000) {
      await victimStreamsWork(`during-flood-${rounds++}`);
    }
    assert.ok(rounds >= 2, `the victim was served ${rounds} times during the flood`);
    const report = await eventually('the flood to end', async () => {
      const r = await term(attacker.token, asid, 'cat /tmp/flood.json 2>/dev/null || true');
      return r.stdout.trim() ? JSON.parse(r.stdout) as FloodReport : undefined;
    }, 60_000);
    assert.ok(report.rounds >= 1, JSON.stringify(report));
    assert.deepEqual(report.errors, [], JSON.stringify(report));
    const all = (k: 'garbage_closed' | 'long_line_closed' | 'guess_closed' | 'ctl_flood_closed') => report[k].length === report.rounds && report[k].every((b) => b);
    assert.ok(report.held.every((n) => n === 300), `300 connections each round: ${JSON.stringify(report.held)}`);
    assert.ok(report.held_cut.every((n) => n === 300), `a connection that sends no line within 5 s is cut: ${JSON.stringify(report.held_cut)}`);
    assert.ok(all('garbage_closed'), `garbage: ${JSON.stringify(report)}`);
    assert.ok(all('long_line_closed'), `a 2 MB line: ${JSON.stringify(report)}`);
    assert.ok(all('guess_closed'), `a guessed stream id: ${JSON.stringify(report)}`);
    assert.ok(all('ctl_flood_closed'), `a 2 MB line on the control connection: ${JSON.stringify(report)}`);
    assert.equal(worker.child.exitCode, null, 'the worker is alive');
    // The attacker's agent takes its control connection back: its own port works again.
    await eventually('the attacking session\'s port to work again', async () => {
      const r = await fetch(portUrl(asid, 8000, 'echo'), { headers: { authorization: `Bearer ${attacker.token}` } });
      return r.status === 200 && /"path": "\/echo"/.test(await r.text());
    }, 20_000);
    await victimStreamsWork('after-flood');
  });

  it('a host\'s tunnel listener refuses forged and misdirected grants, and closes the connection; a genuine one opens the stream', async () => {
    const hostId = platform.workers.get('w-main')!.id;
    const place = await platform.api.deps.sessions.placement(accountId, sid);
    assert.equal(place.hostId, hostId);
    const address = (await platform.api.deps.workers.tunnelAddress(hostId))!;
    assert.ok(address, 'the worker reports a tunnel address');
    const keys = tunnelKeys(HASH_KEY);
    const claims = (over: Partial<TunnelClaims> = {}): TunnelClaims => ({ c: place.containerId, h: hostId, t: { port: 8000 }, x: Date.now() + 30_000, ...over });
    const genuine = signTunnelGrant(keys.privateKey, claims());
    const [v, , sig] = genuine.split('.');
    const otherBody = Buffer.from(JSON.stringify(claims({ t: { port: 22 } }))).toString('base64url');
    const line = (grant: unknown) => `${JSON.stringify({ grant })}\n`;
    const refusals: Array<[string, string | Buffer, RegExp]> = [
      ['not JSON', 'GET / HTTP/1.1\r\n\r\n\n', /one JSON line/],
      ['a line without a grant', line(undefined), /not a grant/],
      ['a grant that is not a string', line(42), /not a grant/],
      ['a grant signed with another Ed25519 key', line(signTunnelGrant(tunnelKeys('not-the-platform-key').privateKey, claims())), /bad signature/],
      ['a genuine grant whose signature was altered', line(tamper(genuine)), /bad signature/],
      ['a genuine signature over other claims', line(`${v}.${otherBody}.${sig}`), /bad signature/],
      ['a grant for another host', line(signTunnelGrant(keys.privateKey, claims({ h: 'another-host' }))), /another host/],
      ['an expired grant', line(signTunnelGrant(keys.privateKey, claims({ x: Date.now() - 1 }))), /expired/],
      ['a header line of 64 KiB', Buffer.alloc(65536, 0x61), /one JSON line/],
    ];
    for (const [what, attempt, reason] of refusals) {
      const r = await tunnelAttempt(address, attempt);
      assert.equal(r.answer.ok, false, `${what}: ${JSON.stringify(r.answer)}`);
      assert.match(String(r.answer.message), reason, `${what}: ${JSON.stringify(r.answer)}`);
      assert.ok(r.closed, `${what}: the connection is closed`);
      r.socket.destroy();
    }
    // A grant for a container the host does not hold opens nothing either.
    const stranger = await tunnelAttempt(address, line(signTunnelGrant(keys.privateKey, claims({ c: 'f'.repeat(64) }))));
    assert.equal(stranger.answer.ok, false, JSON.stringify(stranger.answer));
    stranger.socket.destroy();
    // The listener works: the genuine grant opens the session's port, and HTTP flows over it.
    const ok = await tunnelAttempt(address, line(genuine));
    assert.deepEqual(ok.answer, { ok: true });
    assert.equal(ok.closed, false);
    ok.socket.write('GET /echo-through-tunnel HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n');
    await eventually('the session\'s answer through the tunnel', async () => ok.tail().includes('/echo-through-tunnel'), 10_000);
    assert.match(ok.tail(), /^HTTP\/1\.[01] 200/);
    ok.socket.destroy();
    assert.match(platform.workers.get('w-main')!.output(), /tunnel: refused a stream/);
  });

  it('another account, another session\'s link, an altered or expired link: 401/403/404 on every stream route, never a stream', async () => {
    const theirLink = (await call('POST', `/api/v1/sessions/${asid}/links`, { token: attacker.token, body: { port: 8000, ttl_sec: 600 } })).body.path as string;
    const theirParam = linkIn(theirLink);
    const ownLink = (await call('POST', `/api/v1/sessions/${sid}/links`, { token, body: { port: 8000, ttl_sec: 600 } })).body.path as string;
    const ownParam = linkIn(ownLink);
    const ownPty = linkIn((await call('POST', `/api/v1/sessions/${sid}/links`, { token, body: { pty: true, ttl_sec: 600 } })).body.path as string);
    // Another account cannot even make a link to the victim's session.
    assert.equal((await call('POST', `/api/v1/sessions/${sid}/links`, { token: attacker.token, body: { port: 8000, ttl_sec: 600 } })).status, 404);
    const altered = tamper(ownParam);
    const [lv, lbody, lsig] = ownParam.split('.');
    const widened = `${lv}.${Buffer.from(JSON.stringify({ ...JSON.parse(Buffer.from(lbody, 'base64url').toString()), p: 8001 })).toString('base64url')}.${lsig}`;
    const expired = signLink(HASH_KEY, { a: accountId, s: sid, p: 8000, x: Date.now() - 1000 });
    const expiredPty = signLink(HASH_KEY, { a: accountId, s: sid, p: PTY_LINK, x: Date.now() - 1000 });
    const forged = signLink('not-the-platform-key', { a: accountId, s: sid, p: 8000, x: Date.now() + 600_000 });
    const q = (link: string) => `?durabox_link=${encodeURIComponent(link)}`;
    const bearer = { authorization: `Bearer ${attacker.token}` };
    const cases: Array<[string, string, Record<string, string>, number]> = [
      ['another account\'s token', '', bearer, 404],
      ['a link of another session', q(theirParam), {}, 403],
      ['a link of another session as a cookie', '', { cookie: `durabox_link=${theirParam}` }, 403],
      ['the session\'s terminal link', q(ownPty), {}, 403],
      ['a link whose signature was altered', q(altered), {}, 401],
      ['a link whose port was altered', q(widened), {}, 401],
      ['an expired link', q(expired), {}, 401],
      ['a link signed with another key', q(forged), {}, 401],
      ['an unknown token', '', { authorization: 'Bearer dbx_000000000000000000000000000000000000000000000000' }, 401],
      ['nothing', '', {}, 401],
    ];
    for (const [what, query, headers, status] of cases) {
      const r = await fetch(`${portUrl(sid, 8000, 'echo')}${query}`, { headers });
      const text = await r.text();
      assert.equal(r.status, status, `HTTP, ${what}: ${r.status} ${text}`);
      assert.doesNotMatch(text, /"path"/, `HTTP, ${what}: the session answered`);
      const ws = await tryWebSocket(`${wsBase()}/api/v1/sessions/${sid}/ports/8000/${query}`, headers);
      assert.ok(!ws.opened, `port WebSocket, ${what}: opened`);
      assert.equal(ws.status, status, `port WebSocket, ${what}: ${ws.status} ${ws.body}`);
    }
    // A link as a path (/api/v1/links/<link>/…): the link alone names the session and port, so it must be whole.
    const linkPathCases: Array<[string, string, number]> = [
      ['a link whose signature was altered', altered, 401],
      ['a link whose port was altered', widened, 401],
      ['an expired link', expired, 401],
      ['a link signed with another key', forged, 401],
      ['the terminal\'s link', ownPty, 401],
    ];
    for (const [what, link, status] of linkPathCases) {
      const r = await fetch(`${platform.url}/api/v1/links/${link}/echo`);
      const text = await r.text();
      assert.equal(r.status, status, `link path, ${what}: ${r.status} ${text}`);
      assert.doesNotMatch(text, /"path"/, `link path, ${what}: the session answered`);
      const ws = await tryWebSocket(`${wsBase()}/api/v1/links/${link}/`, {});
      assert.ok(!ws.opened, `link path WebSocket, ${what}: opened`);
    }
    assert.match(await (await fetch(`${platform.url}/api/v1/links/${ownParam}/echo`)).text(), /"path": "\/echo"/, 'the whole link opens its port');
    // A port link opens neither the terminal nor the browser; the terminal's link not the browser.
    const ptyCases: Array<[string, string, Record<string, string>, number]> = [
      ['another account\'s token', '', bearer, 404],
      ['a port link', q(ownParam), {}, 403],
      ['another session\'s link', q(theirParam), {}, 403],
      ['an altered terminal link', q(tamper(ownPty)), {}, 401],
      ['an expired terminal link', q(expiredPty), {}, 401],
      ['nothing', '', {}, 401],
    ];
    for (const [what, query, headers, status] of ptyCases) {
      const ws = await tryWebSocket(`${wsBase()}/api/v1/sessions/${sid}/pty${query}`, headers);
      assert.ok(!ws.opened, `pty, ${what}: opened`);
      assert.equal(ws.status, status, `pty, ${what}: ${ws.status} ${ws.body}`);
    }
    const cdpCases: Array<[string, string, Record<string, string>, number]> = [
      ['another account\'s token', '', bearer, 404],
      ['a port link', q(ownParam), {}, 403],
      ['the terminal\'s link', q(ownPty), {}, 403],
      ['an expired link', q(expiredPty), {}, 401],
      ['nothing', '', {}, 401],
    ];
    for (const [what, query, headers, status] of cdpCases) {
      const ws = await tryWebSocket(`${wsBase()}/api/v1/sessions/${sid}/browser/cdp${query}`, headers);
      assert.ok(!ws.opened, `cdp, ${what}: opened`);
      assert.equal(ws.status, status, `cdp, ${what}: ${ws.status} ${ws.body}`);
    }
    // The login cookie on a WebSocket from another site's page: refused.
    const cookie = await login();
    const foreign = await tryWebSocket(`${wsBase()}/api/v1/sessions/${sid}/pty`, { cookie, origin: 'http://evil.example' });
    assert.ok(!foreign.opened && foreign.status === 403, JSON.stringify(foreign.opened ? 'opened' : foreign));
    // The victim's own link still works: the refusals are the routes' decisions, not broken routes.
    assert.equal((await fetch(`${portUrl(sid, 8000, 'echo')}${q(ownParam)}`)).status, 200);
  });

  it('a page served from a session cannot use the dashboard\'s login cookie (CSP sandbox), though the same script on the API\'s origin could', async () => {
    const ctx = await chromiumContext();
    const page = await ctx.newPage();
    try {
      await page.goto(`${platform.url}/`);
      const logged = await page.evaluate(async (creds) => (await fetch('/api/v1/console/login', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(creds) })).status, ADMIN);
      assert.equal(logged, 200);
      platform.api.deps.loginLimiter.reset();
      // The danger: on the API's own origin, the script mints a token with the cookie.
      const onApi = await page.evaluate(STEAL('stolen-on-the-api-origin')) as { status?: number; body?: string };
      assert.equal(onApi.status, 201, `the script on the API's origin: ${JSON.stringify(onApi)}`);
      const cookie = await login();
      const minted = JSON.parse(onApi.body!) as { id: string };
      assert.equal((await call('DELETE', `/api/v1/console/tokens/${minted.id}`, { cookie })).status, 204);
      // The same script in a page the session serves: the browser sends the cookie for the page itself…
      const served = await page.goto(portUrl(sid, 8000, 'evil.html'));
      assert.equal(served!.status(), 200);
      assert.match(served!.headers()['content-security-policy'] ?? '', /^sandbox/);
      await page.waitForFunction(() => document.getElementById('out')?.textContent?.startsWith('DONE'), undefined, { timeout: 20_000 });
      const result = JSON.parse((await page.textContent('#out'))!.slice('DONE '.length)) as { status?: number; cookie?: string; cookie_error?: string; fetch_error?: string };
      // …but the page has an opaque origin: no cookie to read, and its request is refused.
      assert.ok(result.cookie_error || result.cookie === '', `document.cookie: ${JSON.stringify(result)}`);
      assert.ok(result.fetch_error || (result.status !== undefined && result.status >= 400), `the token request: ${JSON.stringify(result)}`);
      const tokens = await call('GET', '/api/v1/console/tokens', { cookie });
      assert.equal(tokens.status, 200);
      assert.ok(!(tokens.body.items as Array<{ name: string }>).some((t) => t.name === 'stolen'), 'no token named stolen');
    } finally {
      await page.close();
    }
  });

  it('the port proxy passes none of the caller\'s credentials to the session, and the session\'s server cannot plant a cookie on the API\'s paths', async () => {
    const cookie = await login();
    const ownLink = linkIn((await call('POST', `/api/v1/sessions/${sid}/links`, { token, body: { port: 8000, ttl_sec: 600 } })).body.path as string);
    const echo = async (query: string, headers: Record<string, string>) => {
      const r = await fetch(`${portUrl(sid, 8000, 'echo')}${query}`, { headers });
      assert.equal(r.status, 200, await r.clone().text());
      assert.match(r.headers.get('content-security-policy') ?? '', /^sandbox allow-scripts/);
      const body = await r.json() as { path: string; headers: Array<[string, string]> };
      return { path: body.path, headers: body.headers, all: JSON.stringify(body) };
    };
    const secrets = [token, cookie.split('=')[1], ownLink];
    const tries: Array<[string, string, Record<string, string>]> = [
      ['a token, the login cookie and a link cookie', '', { authorization: `Bearer ${token}`, cookie: `${cookie}; durabox_link=${ownLink}; theme=dark`, 'proxy-authorization': `Bearer ${token}` }],
      ['the login cookie alone', '', { cookie: `theme=dark; ${cookie}` }],
      ['the link in the query', `?durabox_link=${encodeURIComponent(ownLink)}&page=2`, { cookie: 'theme=dark' }],
      // The peer SDKs' credential headers (an API key is an access token; their sandbox tokens open sandboxes).
      ['a token in each peer SDK\'s credential header', '', { authorization: `Bearer ${token}`, cookie: 'theme=dark', 'open-sandbox-api-key': token, 'x-api-key': token, 'x-access-token': token, 'open-sandbox-execd-token': token }],
    ];
    for (const [what, query, headers] of tries) {
      const got = await echo(query, headers);
      for (const s of secrets) assert.ok(!got.all.includes(s), `${what}: the session saw a credential: ${got.all}`);
      const names = got.headers.map(([k]) => k);
      assert.ok(!names.includes('authorization') && !names.includes('proxy-authorization'), `${what}: ${got.all}`);
      assert.deepEqual(got.headers.filter(([k]) => k === 'cookie').map(([, v]) => v), ['theme=dark'], `${what}: other cookies pass, the platform's do not`);
    }
    assert.equal((await echo(`?durabox_link=${encodeURIComponent(ownLink)}&page=2`, {})).path, '/echo?page=2');

    // The attacker's session answers with cookies meant for the API's origin: its own login session
    // (to sign the victim into the attacker's account), a link cookie, a cookie for a parent domain.
    const attackerCookie = await login(attacker.username, 'pw');
    const attackerSid = attackerCookie.split('=')[1];
    platform.api.deps.loginLimiter.reset();
    await term(attacker.token, asid, `cat > /workspace/cookies.txt <<'EOF'
durabox_session=${attackerSid}; Path=/; HttpOnly
durabox_session=${attackerSid}; Path=/api/v1/console
durabox_link=${attackerSid}; Path=/
 durabox_session = ${attackerSid}; Path=/api
=durabox_session=${attackerSid}; Path=/
everywhere=1; Path=/; Domain=127.0.0.1
theme=dark; Path=/
EOF`);
    const link = linkIn((await call('POST', `/api/v1/sessions/${asid}/links`, { token: attacker.token, body: { port: 8000, ttl_sec: 600 } })).body.path as string);
    const prefix = `/api/v1/sessions/${asid}/ports/8000`;
    const tossUrl = `${platform.url}${prefix}/toss?durabox_link=${encodeURIComponent(link)}`;
    // In a real browser: the victim, logged in to the dashboard, opens the attacker's link, and is still themselves.
    const ctx = await chromiumContext();
    const page = await ctx.newPage();
    try {
      await page.goto(`${platform.url}/`);
      assert.equal(await page.evaluate(async (creds) => (await fetch('/api/v1/console/login', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(creds) })).status, ADMIN), 200);
      platform.api.deps.loginLimiter.reset();
      const who = () => page.evaluate(async () => ((await (await fetch('/api/v1/console/session')).json()) as { account: { username: string } }).account.username);
      assert.equal(await who(), 'admin');
      const opened = await page.goto(tossUrl);
      assert.equal(opened!.status(), 200);
      await page.goto(`${platform.url}/`);
      assert.equal(await who(), 'admin', 'the session\'s server signed the victim into another account');
      const jar = (await ctx.cookies()).filter((c) => c.domain === new URL(platform.url).hostname);
      assert.ok(jar.filter((c) => c.name === 'durabox_session').every((c) => c.path === '/'), JSON.stringify(jar));
      assert.ok(jar.filter((c) => c.name !== 'durabox_session').every((c) => c.path.startsWith(`${prefix}/`)), JSON.stringify(jar));
    } finally {
      await page.close();
    }
    const raw = await fetch(tossUrl);
    assert.equal(raw.status, 200);
    assert.match(raw.headers.get('content-security-policy') ?? '', /^sandbox/);
    const set = raw.headers.getSetCookie();
    for (const c of set) {
      assert.doesNotMatch(c.split(';')[0], /durabox_/, `a platform cookie passed: ${c}`);
      assert.doesNotMatch(c, /domain=/i, `a cookie for a wider domain passed: ${c}`);
      const paths = [...c.matchAll(/;\s*path=([^;]*)/gi)].map((m) => m[1].trim());
      assert.equal(paths.length, 1, c);
      assert.ok(paths[0].startsWith(`${prefix}/`), `a cookie outside the port's path: ${c}`);
    }
    assert.ok(set.some((c) => c.startsWith('theme=dark')), `the session's own cookie is kept, under its path: ${JSON.stringify(set)}`);
  });

  it('nor through the answer to a WebSocket upgrade: its cookies are confined as an HTTP answer\'s are', async () => {
    const attackerSid = (await login(attacker.username, 'pw')).split('=')[1];
    platform.api.deps.loginLimiter.reset();
    await term(attacker.token, asid, `printf '%s\\n' 'durabox_session=${attackerSid}; Path=/' 'durabox_link=x; Path=/' 'everywhere=1; Domain=127.0.0.1; Path=/api/v1/console' 'theme=dark' > /workspace/cookies.txt`);
    const link = linkIn((await call('POST', `/api/v1/sessions/${asid}/links`, { token: attacker.token, body: { port: 8000, ttl_sec: 600 } })).body.path as string);
    const prefix = `/api/v1/sessions/${asid}/ports/8000`;
    // The session's server answers the upgrade with a plain 200 and its cookies: a browser keeps a handshake's cookies.
    const r = await tryWebSocket(`${wsBase()}${prefix}/toss?durabox_link=${encodeURIComponent(link)}`);
    assert.ok(!r.opened);
    assert.equal(r.status, 200, r.body);
    assert.match(r.body, /"path": "\/toss"/);
    assert.ok(r.setCookie.length >= 1, `the session's own cookies pass: ${JSON.stringify(r.setCookie)}`);
    for (const c of r.setCookie) {
      assert.doesNotMatch(c.split(';')[0], /durabox_/, `a platform cookie passed: ${c}`);
      assert.doesNotMatch(c, /domain=/i, c);
      assert.match(c, new RegExp(`;\\s*Path=${prefix}/`), c);
    }
    // The echo WebSocket of the victim still passes frame for frame: a real handshake goes through the head reader.
    await term(token, sid, startWsEcho(8765));
    const ws = await tryWebSocket(`${wsBase()}/api/v1/sessions/${sid}/ports/8765/chat`, { authorization: `Bearer ${token}` });
    assert.ok(ws.opened, JSON.stringify(ws));
    const reply = new Promise<string>((resolve) => ws.ws.once('message', (d) => resolve(String(d))));
    ws.ws.send('ping');
    assert.equal(await reply, '/chat ping');
    ws.ws.close();
  });
});
