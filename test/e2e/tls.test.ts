// TLS on every link a deployment crosses, with certificates the test makes: an API and a runtime worker
// that reach Temporal only through a front that demands a client certificate (mutual TLS, as a
// production Temporal cluster does), and a worker that reports to the API over HTTPS.
import assert from 'node:assert/strict';
import { request } from 'node:https';
import { connect as netConnect } from 'node:net';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createServer as createTlsServer, type Server as TlsServer } from 'node:tls';
import { NativeConnection } from '@temporalio/worker';
import { startApiPlatform, type ApiPlatform } from '../../api/platform.js';
import { platform } from './support/hooks.js';
import { login, newToken } from './support/http.js';
import { TestPki } from './support/pki.js';

/** A JSON call over HTTPS that trusts only `ca`. */
function httpsCall(url: string, ca: string, opts: { method?: string; token?: string; body?: unknown } = {}): Promise<{ status: number; body: any }> {
  return new Promise((resolve, reject) => {
    const payload = opts.body === undefined ? undefined : JSON.stringify(opts.body);
    const req = request(url, {
      method: opts.method ?? 'GET',
      ca,
      headers: { ...(opts.token ? { authorization: `Bearer ${opts.token}` } : {}), ...(payload ? { 'content-type': 'application/json' } : {}) },
    }, (res) => {
      let text = '';
      res.on('data', (c) => { text += c; });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text ? JSON.parse(text) : undefined }));
    });
    req.on('error', reject);
    req.end(payload);
  });
}

describe('TLS: mutual TLS to Temporal and HTTPS between workers and the API', () => {
  const TEMPORAL_NAME = 'temporal.durabox.test';
  let pki: TestPki;
  let front: TlsServer;
  let frontAddress: string;
  const seen = { authorized: new Set<string>(), refused: 0 };
  let api: ApiPlatform | undefined;
  let apiClient: { cert: string; key: string };
  let workerClient: { cert: string; key: string };

  before(async () => {
    pki = new TestPki();
    const temporalCert = pki.server(TEMPORAL_NAME, [TEMPORAL_NAME]);
    apiClient = pki.client('durabox-api');
    workerClient = pki.client('durabox-worker');
    // Temporal behind a TLS front that asks every client for a certificate of the test's CA.
    const [devHost, devPort] = platform.devServer.address.split(':');
    front = createTlsServer({
      cert: readFileSync(temporalCert.cert),
      key: readFileSync(temporalCert.key),
      ca: pki.caPem,
      requestCert: true,
      rejectUnauthorized: true,
      ALPNProtocols: ['h2'],
    }, (socket) => {
      seen.authorized.add(String((socket.getPeerCertificate() as { subject?: { CN?: string } }).subject?.CN));
      const upstream = netConnect(Number(devPort), devHost);
      socket.pipe(upstream).pipe(socket);
      socket.on('error', () => upstream.destroy());
      upstream.on('error', () => socket.destroy());
    });
    front.on('tlsClientError', () => { seen.refused += 1; });
    await new Promise<void>((r) => front.listen(0, '127.0.0.1', r));
    frontAddress = `127.0.0.1:${(front.address() as { port: number }).port}`;
  });

  after(async () => {
    await platform.workers.get('tls-worker')?.stop();
    await platform.workers.get('tls-untrusting')?.stop();
    await api?.close();
    await new Promise((r) => front?.close(r));
    if (!platform.workers.get('w-main')) await platform.startWorker('w-main');
  });

  it('refuses a client without a certificate of the CA, and one without TLS', async function () {
    this.timeout(60_000);
    const before = seen.refused;
    const noCert = await NativeConnection.connect({ address: frontAddress, tls: { serverRootCACertificate: Buffer.from(pki.caPem), serverNameOverride: TEMPORAL_NAME } }).then(
      async (c) => { await c.close(); return undefined; },
      (e: Error) => e,
    );
    assert.ok(noCert instanceof Error, 'a connection without a client certificate was accepted');
    const plain = await NativeConnection.connect({ address: frontAddress }).then(async (c) => { await c.close(); return undefined; }, (e: Error) => e);
    assert.ok(plain instanceof Error, 'a plaintext connection was accepted');
    assert.ok(seen.refused > before, 'the front saw the refused handshakes');
    assert.equal(seen.authorized.size, 0);
  });

  it('an API and a worker on mutual TLS to Temporal, the worker reporting over HTTPS, run a task end to end', async function () {
    this.timeout(180_000);
    const apiCert = pki.server('durabox api', ['IP:127.0.0.1', 'localhost']);
    // A second API process of the same platform (same database and keys), its own links all on TLS.
    api = await startApiPlatform(
      {
        ...platform.config.api,
        httpHost: '127.0.0.1',
        httpPort: 0,
        https: apiCert,
        dataDir: mkdtempSync(join(tmpdir(), 'durabox-tls-api-')),
        // Workers of this API reach Temporal themselves, with their own certificates.
        hostGateway: undefined,
      },
      { ...platform.config.temporal, address: frontAddress, tls: { ca: pki.ca, cert: apiClient.cert, key: apiClient.key, serverName: TEMPORAL_NAME } },
    );
    assert.match(api.url, /^https:\/\/127\.0\.0\.1:\d+$/);
    assert.ok(seen.authorized.has('durabox-api'), 'the API connected to Temporal with its client certificate');

    const admin = await login();
    const token = await newToken(admin);
    // The platform's own worker stands aside, so the TLS worker runs the task.
    await platform.workers.get('w-main')?.stop();
    const tlsEnv = {
      DURABOX_API_URL: api.url,
      TEMPORAL_ADDRESS: frontAddress,
      TEMPORAL_TLS_CA: pki.ca,
      TEMPORAL_TLS_CERT: workerClient.cert,
      TEMPORAL_TLS_KEY: workerClient.key,
      TEMPORAL_TLS_SERVER_NAME: TEMPORAL_NAME,
      DURABOX_RUNTIMES: 'python',
    };

    // Without the API's CA the worker does not trust the API: it never gets as far as its start report.
    const untrusting = await platform.startWorker('tls-untrusting', tlsEnv).then(() => undefined, (e: Error) => e);
    await platform.workers.get('tls-untrusting')?.stop();
    assert.ok(untrusting, 'a worker that does not trust the API\'s certificate started');
    assert.match(untrusting.message, /does not trust/);
    assert.match(untrusting.message, /DURABOX_API_CA/);

    const worker = await platform.startWorker('tls-worker', { ...tlsEnv, DURABOX_API_CA: pki.ca });
    assert.ok(seen.authorized.has('durabox-worker'), 'the worker connected to Temporal with its client certificate');
    const r = await httpsCall(`${api.url}/api/v1/tasks`, pki.caPem, {
      method: 'POST',
      token,
      body: { capability: 'pythonExec', input: { code: 'print("over tls")' }, mode: 'sync' },
    });
    assert.equal(r.status, 200, JSON.stringify(r.body));
    assert.equal(r.body.result.output, 'over tls\n');
    // The worker's start report and heartbeats reached the API over HTTPS.
    const row = await platform.api.deps.db('workers').where({ node_id: worker.id }).first();
    assert.ok(row?.last_seen_at, 'the worker reported itself over HTTPS');
  });

  it('a worker refuses a plain-HTTP API on another address unless DURABOX_API_INSECURE is set', async function () {
    this.timeout(60_000);
    const refused = await platform.startWorker('plain-http', { DURABOX_API_URL: 'http://172.17.0.1:9' }).then(() => undefined, (e: Error) => e);
    await platform.workers.get('plain-http')?.stop();
    assert.ok(refused, 'a worker started with a plain-HTTP API URL to another address');
    assert.match(refused.message, /DURABOX_API_INSECURE/);
    assert.match(refused.message, /https:\/\//);
  });
});
