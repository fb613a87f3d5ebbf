// Attacks on template networks (spec §3.2, §7), from inside real sandboxes: a `network: full` template is
// offered only where the operator says so, and even then reaches public addresses only (never the host,
// its bridge or other sandboxes); the egress proxy checks every request of a kept-alive connection, the
// Host header of each, and the TLS server name a tunnel asks for. Every target is a listener this test
// starts on the Docker bridge's address of this machine (a stand-in for the internet where the operator
// opens it with DURABOX_EGRESS_PRIVATE_CIDRS); nothing is sent anywhere else.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createServer as createTcpServer, type Server as TcpServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import { bridgeAddress, eventually } from './support/docker.js';
import { platform } from './support/hooks.js';
import { call, newToken } from './support/http.js';
import { onOwnHosts } from './support/own-hosts.js';

const HOST = 'egress-att';

interface HttpListener { server: Server; port: number; seen: string[] }
interface TlsListener { server: TcpServer; port: number; seen: Buffer[] }

/** An HTTP listener that answers with the request's target and Host header (as a virtual-hosting front end routes on them). */
async function httpListener(ip: string): Promise<HttpListener> {
  const l: HttpListener = { server: createServer(), port: 0, seen: [] };
  l.server.on('request', (req, res) => {
    const line = `${req.url} host=${req.headers.host}`;
    l.seen.push(line);
    res.end(`${line}\n`);
  });
  await new Promise<void>((resolve) => l.server.listen(0, ip, resolve));
  l.port = (l.server.address() as AddressInfo).port;
  return l;
}

/** A real HTTPS listener (a self-signed certificate made here), answering with its path: for real TLS clients. */
async function httpsListener(ip: string): Promise<HttpListener> {
  const dir = mkdtempSync(join(tmpdir(), 'egress-tls-'));
  try {
    execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1', '-subj', '/CN=allowed.durabox.test',
      '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem')], { stdio: 'ignore' });
    const server = createHttpsServer({ key: readFileSync(join(dir, 'key.pem')), cert: readFileSync(join(dir, 'cert.pem')) });
    const l: HttpListener = { server, port: 0, seen: [] };
    server.on('request', (req, res) => { l.seen.push(`${req.url}`); res.end(`${req.url}\n`); });
    await new Promise<void>((resolve) => server.listen(0, ip, resolve));
    l.port = (server.address() as AddressInfo).port;
    return l;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** A TCP listener standing in for a TLS server: it keeps what a tunnel delivered and answers `hello-received`. */
async function tlsListener(ip: string): Promise<TlsListener> {
  const l: TlsListener = { server: createTcpServer(), port: 0, seen: [] };
  l.server.on('connection', (sock) => {
    sock.on('error', () => undefined);
    sock.once('data', (d) => { l.seen.push(d); sock.end('hello-received\n'); });
  });
  await new Promise<void>((resolve) => l.server.listen(0, ip, resolve));
  l.port = (l.server.address() as AddressInfo).port;
  return l;
}

// Python run inside a sandbox: talks to the egress proxy its environment names, byte for byte.
const PROXY_CLIENT = `
import os, socket, urllib.parse
_p = urllib.parse.urlsplit(os.environ.get("HTTP_PROXY", "http://0.0.0.0:1"))
PROXY = (_p.hostname, _p.port)

def head(f):
    status = f.readline().decode("latin-1").split(" ")
    length = 0
    while True:
        line = f.readline()
        if line in (b"\\r\\n", b""):
            break
        k, _, v = line.decode("latin-1").partition(":")
        if k.strip().lower() == "content-length":
            length = int(v)
    return (status[1] if len(status) > 1 else "closed"), length

def request(s, f, target, host):
    s.sendall(f"GET {target} HTTP/1.1\\r\\nHost: {host}\\r\\n\\r\\n".encode())
    status, length = head(f)
    body = f.read(length).decode().strip() if length else ""
    print(status, body.split("\\n")[0][:100])

def hello(sni):
    # A minimal TLS ClientHello, with a server_name extension when sni is given.
    ext = b""
    if sni:
        name = sni.encode()
        entry = b"\\x00" + len(name).to_bytes(2, "big") + name
        names = len(entry).to_bytes(2, "big") + entry
        ext = b"\\x00\\x00" + len(names).to_bytes(2, "big") + names
    body = b"\\x03\\x03" + os.urandom(32) + b"\\x00" + b"\\x00\\x02\\x00\\x2f" + b"\\x01\\x00" + len(ext).to_bytes(2, "big") + ext
    hs = b"\\x01" + len(body).to_bytes(3, "big") + body
    return b"\\x16\\x03\\x01" + len(hs).to_bytes(2, "big") + hs

def tls_get(target, sni, path):
    # A real TLS client (Python's ssl, OpenSSL's ClientHello) through a tunnel, asking for the name sni.
    import ssl
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    s = socket.create_connection(PROXY, timeout=10)
    f = s.makefile("rb")
    s.sendall(f"CONNECT {target} HTTP/1.1\\r\\nHost: {target}\\r\\n\\r\\n".encode())
    status, _ = head(f)
    try:
        t = ctx.wrap_socket(s, server_hostname=sni)
        t.sendall(f"GET {path} HTTP/1.1\\r\\nHost: {target}\\r\\nConnection: close\\r\\n\\r\\n".encode())
        print(status, "tls", t.recv(4096).split(b"\\r\\n")[0].decode())
    except (ssl.SSLError, OSError) as e:
        print(status, "tls refused")

def tunnel(target, sni):
    s = socket.create_connection(PROXY, timeout=10)
    f = s.makefile("rb")
    s.sendall(f"CONNECT {target} HTTP/1.1\\r\\nHost: {target}\\r\\n\\r\\n".encode())
    status, _ = head(f)
    if status != "200":
        print(status)
        return
    s.sendall(hello(sni))
    try:
        got = f.readline()
    except OSError:
        got = b""
    print(status, "passed" if got == b"hello-received\\n" else "closed")
`;

describe('attacks: template networks and the egress proxy', function () {
  this.timeout(300_000);
  onOwnHosts([HOST]);
  let token: string;
  let user: string;
  let bridgeIp: string;
  let front: HttpListener;
  let secret: HttpListener;
  let tls: TlsListener;
  let https: HttpListener;
  const tag = process.pid;
  const ALLOWPY = `att-allow-${tag}`;
  const FULLPY = `att-fullpy-${tag}`;
  const FULLTERM = `att-fullterm-${tag}`;
  const settings = () => platform.api.deps.api;
  const ready = (name: string) => eventually(`template ${name} to finish building`, async () => {
    const r = await call('GET', `/api/v1/templates/${name}`, { token: user });
    return r.body.status !== 'building' && r.body;
  }, 240_000);
  const py = async (code: string, template: string) => {
    const r = await call('POST', '/api/v1/tasks', { token: user, body: { capability: 'pythonExec', mode: 'sync', input: { code, template } } });
    assert.equal(r.status, 200, JSON.stringify(r.body));
    return r.body.result as { output: string; stderr: string };
  };
  const term = async (body: Record<string, unknown>) => {
    const r = await call('POST', '/api/v1/commands/terminal', { token: user, body });
    assert.equal(r.status, 200, JSON.stringify(r.body));
    return r.body as { session_id: string; stdout: string; stderr: string };
  };
  // The operator opens the listeners' address (this machine's bridge) and names it.
  const egressEnv = () => ({ DURABOX_EGRESS_PRIVATE_CIDRS: `${bridgeIp}/32`, DURABOX_EGRESS_HOSTS: `allowed.durabox.test=${bridgeIp},evil.durabox.test=${bridgeIp}` });

  before(async function () {
    this.timeout(240_000);
    token = await newToken();
    user = (await platform.otherAccount('egress')).token;
    bridgeIp = bridgeAddress();
    front = await httpListener(bridgeIp);
    secret = await httpListener(bridgeIp);
    tls = await tlsListener(bridgeIp);
    https = await httpsListener(bridgeIp);
    await platform.startWorker(HOST, egressEnv());
    const r = await call('POST', '/api/v1/templates', { token: user, body: {
      name: ALLOWPY, base: 'python', network: 'allowlist',
      allow: [`allowed.durabox.test:${front.port}`, `allowed.durabox.test:${tls.port}`, `${bridgeIp}:${tls.port}`, `allowed.durabox.test:${https.port}`, `${bridgeIp}:${https.port}`],
    } });
    assert.equal(r.status, 201, JSON.stringify(r.body));
    assert.equal((await ready(ALLOWPY)).status, 'ready');
  });

  after(() => {
    for (const l of [front, secret, tls, https]) l?.server.close();
  });

  it('a network: full template is refused where the operator does not offer it (the default), for admins too, naming network', async () => {
    for (const [who, t] of [['account', user], ['admin', token]] as const) {
      const r = await call('POST', '/api/v1/templates', { token: t, body: { name: `att-refused-${tag}`, base: 'python', network: 'full' } });
      assert.equal(r.status, 400, `${who}: ${JSON.stringify(r.body)}`);
      assert.match(r.body.error, /^network: /);
      assert.match(r.body.error, /DURABOX_TEMPLATE_NETWORKS/);
    }
    const none = await call('POST', '/api/v1/templates', { token: user, body: { name: `att-none-${tag}`, base: 'python', network: 'none' } });
    assert.equal(none.status, 201, JSON.stringify(none.body));
    await call('DELETE', `/api/v1/templates/att-none-${tag}`, { token: user });
  });

  describe('where the operator offers full (DURABOX_TEMPLATE_NETWORKS=none,allowlist,full)', () => {
    let offered: typeof platform.api.deps.api.templateNetworks;

    before(async function () {
      this.timeout(280_000);
      offered = settings().templateNetworks;
      settings().templateNetworks = ['none', 'allowlist', 'full'];
      for (const body of [{ name: FULLPY, base: 'python', network: 'full' }, { name: FULLTERM, base: 'terminal', network: 'full' }]) {
        const r = await call('POST', '/api/v1/templates', { token: user, body });
        assert.equal(r.status, 201, JSON.stringify(r.body));
      }
      for (const name of [FULLPY, FULLTERM]) assert.equal((await ready(name)).status, 'ready', name);
      // First without the bridge opened: what a full sandbox reaches on a host whose operator opened nothing.
      await platform.workers.get(HOST)!.stop();
      await platform.startWorker(HOST, {});
    });

    after(() => {
      settings().templateNetworks = offered;
    });

    it('a full sandbox (pythonExec) cannot reach a listener on the host\'s bridge address, neither directly nor through the proxy', async () => {
      const hits = secret.seen.length;
      const out = await py([
        'import socket, urllib.request, urllib.error',
        's = socket.socket()',
        's.settimeout(5)',
        'try:',
        `    s.connect(("${bridgeIp}", ${secret.port})); print("direct connected")`,
        'except OSError:',
        '    print("direct no route")',
        'try:',
        `    print("fetched", urllib.request.urlopen("http://${bridgeIp}:${secret.port}/", timeout=10).read().decode().strip())`,
        'except urllib.error.HTTPError as e:',
        '    print("proxy refused", e.code)',
        'except OSError as e:',
        '    print("proxy error", e)',
      ].join('\n'), FULLPY);
      assert.equal(out.output, 'direct no route\nproxy refused 403\n', out.stderr);
      assert.equal(secret.seen.length, hits, 'the listener got no request');
    });

    it('a full session reaches neither another full sandbox nor the host\'s bridge, directly or through the proxy', async () => {
      const other = await term({ command: 'nohup python3 -m http.server 8000 >/dev/null 2>&1 & sleep 1; hostname -i', template: FULLTERM });
      const otherIp = other.stdout.trim();
      assert.match(otherIp, /^\d+\.\d+\.\d+\.\d+$/, other.stderr);
      const code = (url: string, extra = '') => `curl -sS -o /dev/null -w '%{http_code}' --max-time 5 ${extra} ${url}; echo " exit=$?"`;
      const r = await term({
        template: FULLTERM,
        command: [
          code(`http://${otherIp}:8000/`, "--noproxy '*'"),
          code(`http://${bridgeIp}:${secret.port}/`, "--noproxy '*'"),
          code(`http://${otherIp}:8000/`),
          code(`http://${bridgeIp}:${secret.port}/`),
        ].join('; '),
      });
      const lines = r.stdout.trim().split('\n');
      assert.equal(lines.length, 4, r.stdout + r.stderr);
      for (const direct of lines.slice(0, 2)) assert.match(direct, /^000 exit=(7|28)$/, r.stderr);
      assert.deepEqual(lines.slice(2), ['403 exit=0', '403 exit=0'], r.stderr);
      await call('DELETE', `/api/v1/sessions/${other.session_id}`, { token: user });
      await call('DELETE', `/api/v1/sessions/${r.session_id}`, { token: user });
    });

    it('a full sandbox reaches what the operator opened (the stand-in for the public internet), by address and by any name, through the proxy, in pythonExec and in a session', async () => {
      await platform.workers.get(HOST)!.stop();
      await platform.startWorker(HOST, egressEnv());
      const out = await py(`import urllib.request\nprint(urllib.request.urlopen("http://${bridgeIp}:${front.port}/open", timeout=10).read().decode().strip())`, FULLPY);
      assert.equal(out.output, `/open host=${bridgeIp}:${front.port}\n`, out.stderr);
      const r = await term({ command: `curl -sS --max-time 10 http://evil.durabox.test:${front.port}/named; getent hosts evil.durabox.test | cut -d" " -f1`, template: FULLTERM });
      assert.equal(r.stdout, `/named host=evil.durabox.test:${front.port}\n${bridgeIp}\n`, r.stderr);
      await call('DELETE', `/api/v1/sessions/${r.session_id}`, { token: user });
    });
  });

  it('every request of a kept-alive proxy connection is checked: a second one for a host not allowed is refused, never sent to the first one\'s server', async () => {
    const a = `allowed.durabox.test:${front.port}`;
    const out = await py(`${PROXY_CLIENT}
s = socket.create_connection(PROXY, timeout=10)
f = s.makefile("rb")
request(s, f, "http://${a}/first", "${a}")
request(s, f, "http://${a}/again", "${a}")
request(s, f, "http://${bridgeIp}:${secret.port}/second", "${bridgeIp}:${secret.port}")
`, ALLOWPY);
    const lines = out.output.trim().split('\n');
    assert.match(lines[2], /^403 /, out.output + out.stderr);
    assert.equal(lines[0], `200 /first host=${a}`, out.stderr);
    // Kept alive for the same server, each request in the form its server reads.
    assert.equal(lines[1], `200 /again host=${a}`, out.stderr);
    assert.ok(!front.seen.some((s) => s.includes('/second')), `the allowed server never saw the second target: ${front.seen.join(', ')}`);
    assert.ok(!secret.seen.some((s) => s.includes('/second')));
  });

  it('an absolute-URI request whose Host header names another host is refused', async () => {
    const a = `allowed.durabox.test:${front.port}`;
    const out = await py(`${PROXY_CLIENT}
s = socket.create_connection(PROXY, timeout=10)
f = s.makefile("rb")
request(s, f, "http://${a}/fronted", "evil.durabox.test")
s = socket.create_connection(PROXY, timeout=10)
f = s.makefile("rb")
request(s, f, "http://${a}/same", "ALLOWED.durabox.test:${front.port}")
`, ALLOWPY);
    const lines = out.output.trim().split('\n');
    assert.match(lines[0], /^403 /, out.output + out.stderr);
    assert.equal(lines[1], `200 /same host=ALLOWED.durabox.test:${front.port}`, out.stderr);
    assert.ok(!front.seen.some((s) => s.includes('/fronted')), `the allowed server never saw the fronted request: ${front.seen.join(', ')}`);
  });

  it('plain HTTP inside a CONNECT tunnel is checked as well: a Host header naming another server is refused, on any request of the tunnel', async () => {
    const a = `allowed.durabox.test:${front.port}`;
    const out = await py(`${PROXY_CLIENT}
def plain_tunnel(hosts):
    s = socket.create_connection(PROXY, timeout=10)
    f = s.makefile("rb")
    s.sendall(b"CONNECT ${a} HTTP/1.1\\r\\nHost: ${a}\\r\\n\\r\\n")
    print("tunnel", head(f)[0])
    for i, h in enumerate(hosts):
        request(s, f, f"/tunnel-{i}", h)
plain_tunnel(["${a}", "evil.durabox.test"])
`, ALLOWPY);
    const lines = out.output.trim().split('\n');
    assert.equal(lines[0], 'tunnel 200', out.output + out.stderr);
    assert.equal(lines[1], `200 /tunnel-0 host=${a}`, out.output + out.stderr);
    assert.match(lines[2], /^403 /, out.output + out.stderr);
    assert.ok(!front.seen.some((s) => s.includes('evil')), `the allowed server never saw a request for another host: ${front.seen.join(', ')}`);
  });

  it('a CONNECT tunnel whose TLS ClientHello names another server than the one allowed is closed before the server sees it', async () => {
    const out = await py(`${PROXY_CLIENT}
tunnel("allowed.durabox.test:${tls.port}", "allowed.durabox.test")
tunnel("allowed.durabox.test:${tls.port}", "evil.durabox.test")
tunnel("${bridgeIp}:${tls.port}", "evil.durabox.test")
tunnel("${bridgeIp}:${tls.port}", None)
`, ALLOWPY);
    assert.equal(out.output, '200 passed\n200 closed\n200 closed\n200 passed\n', out.stderr);
    assert.ok(!tls.seen.some((d) => d.includes('evil.durabox.test')), 'no ClientHello for another name reached the server');

    // A real TLS client: its own name passes (and by address, with no name), another name does not.
    const real = await py(`${PROXY_CLIENT}
tls_get("allowed.durabox.test:${https.port}", "allowed.durabox.test", "/own-name")
tls_get("allowed.durabox.test:${https.port}", "evil.durabox.test", "/other-name")
tls_get("${bridgeIp}:${https.port}", None, "/by-address")
`, ALLOWPY);
    assert.equal(real.output, '200 tls HTTP/1.1 200 OK\n200 tls refused\n200 tls HTTP/1.1 200 OK\n', real.stderr);
    assert.deepEqual(https.seen, ['/own-name', '/by-address']);
  });
});
