// The runtime worker's registry client against an API stand-in of the test's own on loopback (HTTP, and
// HTTPS with a certificate made here): what each call sends, and how the worker reads refusals, retries
// at start, streams checkpoint parts and trusts (or not) the API's certificate.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { text } from 'node:stream/consumers';
import type { WorkerSettings } from '../../config/index.js';
import { DuraboxError } from '../../contract/errors.js';
import { ApiNotTrusted, CredentialRejected, RegistryClient } from '../../workers/registry-client.js';

interface Seen { method: string; url: string; headers: IncomingMessage['headers']; body: Buffer }
type Handler = (seen: Seen, res: ServerResponse) => void;

const ACK = { node_id: 'w1', status: 'online', offline_after_ms: 30_000, tunnel_key: 'tk', payload_keys: { current: 'k1', old: [] } };

function settings(apiUrl: string, more: Partial<WorkerSettings> = {}): WorkerSettings {
  return { apiUrl, apiCa: undefined, workerId: 'w1', workerSecret: 's3cret', runtimes: ['python', 'terminal'], maxInflight: 2, heartbeatIntervalSec: 5, heartbeatJitterPct: 10, ...more } as WorkerSettings;
}

function json(res: ServerResponse, status: number, body?: unknown): void {
  if (body === undefined) res.writeHead(status).end();
  else res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
}

/** Records every request and answers it with the handler of its path (404 for any other). */
function recorder(handlers: Record<string, Handler>) {
  const seen: Seen[] = [];
  const listener = (req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const s = { method: req.method ?? '', url: req.url ?? '', headers: req.headers, body: Buffer.concat(chunks) };
      seen.push(s);
      const handler = handlers[`${s.method} ${s.url.split('?')[0]}`];
      if (handler) handler(s, res);
      else json(res, 404, { error: 'no such route' });
    });
  };
  return { seen, listener };
}

async function listen(server: Server): Promise<number> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return (server.address() as AddressInfo).port;
}

describe('runtime worker: registry client', () => {
  const servers: Server[] = [];
  afterEach(async () => {
    await Promise.all(servers.splice(0).map((s) => new Promise<void>((resolve) => { s.closeAllConnections(); s.close(() => resolve()); })));
  });

  async function api(handlers: Record<string, Handler>) {
    const r = recorder(handlers);
    const server = createServer(r.listener);
    servers.push(server);
    return { seen: r.seen, url: `http://127.0.0.1:${await listen(server)}` };
  }

  it('reports itself at start with its credential and a CSR, and keeps the keys the API gives', async () => {
    const { seen, url } = await api({ 'POST /api/v1/registry/heartbeat': (_, res) => json(res, 200, ACK) });
    const client = await RegistryClient.connect(settings(url), { tunnelAddress: '10.0.0.5:7000' });
    assert.deepEqual(client.payloadKeys, ACK.payload_keys);
    assert.equal(client.tunnelKey, 'tk');
    assert.equal(seen.length, 1);
    assert.equal(seen[0].headers.authorization, 'Bearer w1:s3cret');
    assert.equal(seen[0].headers['content-type'], 'application/json');
    const report = JSON.parse(seen[0].body.toString()) as Record<string, unknown>;
    assert.equal(report.event, 'start');
    assert.match(String(report.csr), /BEGIN CERTIFICATE REQUEST/);
    assert.equal(report.tunnel_address, '10.0.0.5:7000');
    assert.deepEqual(report.capabilities, [{ name: 'python', max_inflight: 2, inflight: 0 }, { name: 'terminal', max_inflight: 2, inflight: 0 }]);
  });

  it('retries an API that is not ready yet, and stops at once on a refused credential', async () => {
    let calls = 0;
    const flaky = await api({ 'POST /api/v1/registry/heartbeat': (_, res) => (++calls === 1 ? json(res, 503, { error: 'starting' }) : json(res, 200, ACK)) });
    await RegistryClient.connect(settings(flaky.url));
    assert.equal(flaky.seen.length, 2);

    const refusing = await api({ 'POST /api/v1/registry/heartbeat': (_, res) => json(res, 401, { error: 'unknown or deleted credential' }) });
    await assert.rejects(RegistryClient.connect(settings(refusing.url)), (e: Error) => e instanceof CredentialRejected && /rejected the credential of worker w1: unknown or deleted credential/.test(e.message));
    assert.equal(refusing.seen.length, 1);
  });

  it('asks for live sessions and templates, reports builds and output, and says goodbye once', async () => {
    const { seen, url } = await api({
      'POST /api/v1/registry/heartbeat': (_, res) => json(res, 200, ACK),
      'GET /api/v1/registry/sessions': (_, res) => json(res, 200, { container_ids: ['c1', 'c2'] }),
      'GET /api/v1/registry/templates': (_, res) => json(res, 200, { items: [{ image: 'durabox/t:1' }] }),
      'POST /api/v1/registry/templates/built': (_, res) => json(res, 204),
      'POST /api/v1/registry/output': (_, res) => json(res, 204),
      'POST /api/v1/registry/goodbye': (_, res) => json(res, 204),
    });
    const client = await RegistryClient.connect(settings(url));
    assert.deepEqual([...await client.liveSessions()], ['c1', 'c2']);
    assert.deepEqual((await client.templates()).map((t) => t.image), ['durabox/t:1']);
    await client.templateBuilt('durabox/t:1', { ok: true, seconds: 2, log: 'built' } as never);
    await client.postOutput({ streams: [] });
    await client.close();
    await client.close();
    assert.deepEqual(seen.slice(1).map((s) => `${s.method} ${s.url}`), [
      'GET /api/v1/registry/sessions',
      'GET /api/v1/registry/templates?runtimes=python%2Cterminal',
      'POST /api/v1/registry/templates/built',
      'POST /api/v1/registry/output',
      'POST /api/v1/registry/goodbye',
    ]);
    assert.deepEqual(JSON.parse(seen[3].body.toString()), { image: 'durabox/t:1', ok: true, seconds: 2, log: 'built' });
    assert.equal(seen[5].body.length, 0);
    assert.ok(seen.every((s) => s.headers.authorization === 'Bearer w1:s3cret'));
  });

  it('streams a checkpoint part up chunked with its grant, and reads a fenced answer as fenced', async () => {
    let fence = false;
    const { seen, url } = await api({
      'POST /api/v1/registry/heartbeat': (_, res) => json(res, 200, ACK),
      'PUT /api/v1/registry/snapshots': (_, res) => (fence ? json(res, 409, { error: 'fenced: the session moved' }) : json(res, 201, { seq: 3, digest: 'd', raw_bytes: 8, bytes: 4 })),
      'POST /api/v1/registry/snapshots/claim': (_, res) => json(res, 200, { parts: [{ seq: 1, kind: 'full', digest: 'd1', raw_bytes: 9, bytes: 5 }] }),
    });
    const client = await RegistryClient.connect(settings(url));
    const stored = await client.putSnapshot({ accountId: 'a1', sessionId: 's1', grant: 'g1', kind: 'delta' }, Readable.from([Buffer.from('gz'), Buffer.from('ip')]));
    assert.equal(stored.seq, 3);
    const put = seen[1];
    assert.equal(put.url, '/api/v1/registry/snapshots?account_id=a1&session_id=s1&kind=delta');
    assert.equal(put.headers['x-durabox-grant'], 'g1');
    assert.equal(put.headers['content-type'], 'application/gzip');
    assert.equal(put.headers['transfer-encoding'], 'chunked');
    assert.equal(put.body.toString(), 'gzip');

    await client.putSnapshot({ accountId: 'a1', sessionId: 's1', grant: 'g1', digest: 'dd' }, Buffer.from('whole'));
    assert.equal(seen[2].headers['content-length'], '5');
    assert.equal(seen[2].url, '/api/v1/registry/snapshots?account_id=a1&session_id=s1&digest=dd');

    assert.deepEqual((await client.claimSnapshot({ accountId: 'a1', sessionId: 's1', grant: 'g2' })).map((p) => p.seq), [1]);
    assert.equal(seen[3].url, '/api/v1/registry/snapshots/claim?account_id=a1&session_id=s1');
    assert.equal(seen[3].headers['x-durabox-grant'], 'g2');

    fence = true;
    await assert.rejects(client.putSnapshot({ accountId: 'a1', sessionId: 's1', grant: 'g1' }, Buffer.from('x')), (e: Error) => e instanceof DuraboxError && e.code === 'fenced' && /session moved/.test(e.message));
  });

  it('reads a checkpoint part whole or as a stream, with its digest; none is undefined', async () => {
    const { seen, url } = await api({
      'POST /api/v1/registry/heartbeat': (_, res) => json(res, 200, ACK),
      'GET /api/v1/registry/snapshots': (s, res) => {
        if (s.url.includes('seq=9')) return json(res, 404, { error: 'no such part' });
        res.writeHead(200, { 'content-type': 'application/gzip', 'x-snapshot-digest': 'sha-1' });
        res.write('part-');
        setTimeout(() => res.end('bytes'), 20);
      },
    });
    const client = await RegistryClient.connect(settings(url));
    const whole = await client.getSnapshot({ accountId: 'a1', sessionId: 's1', grant: 'g', seq: 2 });
    assert.deepEqual(whole && { data: whole.data.toString(), digest: whole.digest }, { data: 'part-bytes', digest: 'sha-1' });
    assert.equal(seen[1].url, '/api/v1/registry/snapshots?account_id=a1&session_id=s1&seq=2');
    const opened = await client.openSnapshot({ accountId: 'a1', sessionId: 's1', grant: 'g' });
    assert.ok(opened);
    assert.equal(opened.digest, 'sha-1');
    assert.equal(await text(opened.body), 'part-bytes');
    assert.equal(await client.getSnapshot({ accountId: 'a1', sessionId: 's1', grant: 'g', seq: 9 }), undefined);
    assert.equal(await client.openSnapshot({ accountId: 'a1', sessionId: 's1', grant: 'g', seq: 9 }), undefined);
  });

  describe('over HTTPS', () => {
    let dir: string;
    before(() => {
      dir = mkdtempSync(join(tmpdir(), 'durabox-registry-tls-'));
      execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '1', '-subj', '/CN=127.0.0.1',
        '-addext', 'subjectAltName=IP:127.0.0.1', '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem')], { stdio: 'ignore' });
    });
    after(() => rmSync(dir, { recursive: true, force: true }));

    async function tlsApi() {
      const r = recorder({ 'POST /api/v1/registry/heartbeat': (_, res) => json(res, 200, ACK) });
      const server = createHttpsServer({ key: readFileSync(join(dir, 'key.pem')), cert: readFileSync(join(dir, 'cert.pem')) }, r.listener);
      servers.push(server);
      return { seen: r.seen, url: `https://127.0.0.1:${await listen(server)}` };
    }

    it('refuses at once an API whose certificate it does not trust, naming DURABOX_API_CA', async () => {
      const { url } = await tlsApi();
      await assert.rejects(RegistryClient.connect(settings(url)), (e: Error) => e instanceof ApiNotTrusted && /DURABOX_API_CA/.test(e.message));
    });

    it('trusts the CA given in DURABOX_API_CA', async () => {
      const { seen, url } = await tlsApi();
      const client = await RegistryClient.connect(settings(url, { apiCa: join(dir, 'cert.pem') }));
      assert.equal(client.tunnelKey, 'tk');
      assert.equal(seen.length, 1);
    });
  });
});
