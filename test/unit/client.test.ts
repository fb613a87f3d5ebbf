// The typed client (client/index.ts) against a small HTTP server of the test's own on loopback: what
// goes on the wire (method, path, query, headers, body) and how answers and errors come back.
import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Readable } from 'node:stream';
import { DuraboxApiError, DuraboxClient, ROUTES } from '../../client/index.js';
import { OPERATIONS } from '../../contract/operations.js';

interface Seen { method: string; url: string; headers: IncomingMessage['headers']; body: Buffer }
type Reply = (res: ServerResponse) => void;

describe('typed client', () => {
  let server: Server;
  let baseUrl: string;
  let seen: Seen[];
  let reply: Reply;

  before(async () => {
    server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        seen.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers, body: Buffer.concat(chunks) });
        reply(res);
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  after(() => new Promise<void>((resolve) => server.close(() => resolve())));
  beforeEach(() => {
    seen = [];
    reply = answer(200, {});
  });

  it('has one route per operation record, with its method, path and auth', () => {
    assert.deepEqual(Object.keys(ROUTES).sort(), Object.keys(OPERATIONS).sort());
    for (const [id, op] of Object.entries(OPERATIONS)) {
      const kind = 'rawBody' in op ? 'raw' : 'body' in op ? 'json' : undefined;
      assert.deepEqual(ROUTES[id as keyof typeof ROUTES], [op.method, op.path, op.auth, ...(kind ? [kind] : [])], id);
    }
  });

  it('fills path parameters (encoded), sends the bearer token and a JSON body, answers the JSON', async () => {
    reply = answer(201, { session_id: 'new', forked_from: 'a b/c' });
    const client = new DuraboxClient({ baseUrl: `${baseUrl}/`, token: 'tok-1' });
    const forked = await client.forkSession({ id: 'a b/c', body: { lease_ttl_sec: 60 } });
    assert.equal(forked.session_id, 'new');
    assert.equal(seen[0].method, 'POST');
    assert.equal(seen[0].url, '/api/v1/sessions/a%20b%2Fc/fork');
    assert.equal(seen[0].headers.authorization, 'Bearer tok-1');
    assert.equal(seen[0].headers['content-type'], 'application/json');
    assert.deepEqual(JSON.parse(seen[0].body.toString()), { lease_ttl_sec: 60 });
  });

  it('sends a JSON body of {} when every field of it is optional and none is given', async () => {
    await new DuraboxClient({ baseUrl, token: 't' }).forkSession({ id: 's' });
    assert.equal(seen[0].body.toString(), '{}');
    assert.equal(seen[0].headers['content-type'], 'application/json');
  });

  it('writes the query, leaving out undefined values; a call without a body sends none', async () => {
    reply = answer(200, { items: [], total: 0, page: 2, page_size: 5 });
    const page = await new DuraboxClient({ baseUrl, cookie: 'durabox_session=c1' }).listWorkers({ query: { page: 2, page_size: 5, status: undefined } });
    assert.equal(page.page, 2);
    assert.equal(seen[0].method, 'GET');
    assert.equal(seen[0].url, '/api/v1/workers?page=2&page_size=5');
    assert.equal(seen[0].headers.cookie, 'durabox_session=c1');
    assert.equal(seen[0].headers.authorization, undefined);
    assert.equal(seen[0].headers['content-type'], undefined);
    assert.equal(seen[0].body.length, 0);
  });

  it('authenticates each operation as its record says: token, worker credential, login cookie, or nothing', async () => {
    const client = new DuraboxClient({ baseUrl, token: 'tok', worker: { id: 'w1', secret: 's3' }, cookie: 'durabox_session=c' });
    reply = answer(200, { status: 'ok' });
    await client.health();
    reply = answer(204);
    await client.registryGoodbye();
    reply = answer(200, { items: [] });
    await client.listTokens();
    reply = answer(200, { items: [] });
    await client.listSnapshots();
    assert.deepEqual(seen.map((s) => [s.url, s.headers.authorization, s.headers.cookie]), [
      ['/healthz', undefined, undefined],
      ['/api/v1/registry/goodbye', 'Bearer w1:s3', undefined],
      ['/api/v1/console/tokens', undefined, 'durabox_session=c'],
      ['/api/v1/snapshots', 'Bearer tok', undefined],
    ]);
  });

  it('answers undefined for 204', async () => {
    reply = answer(204);
    assert.equal(await new DuraboxClient({ baseUrl, token: 't' }).deleteSession({ id: 's1' }), undefined);
    assert.equal(seen[0].method, 'DELETE');
  });

  it('sends an upload\'s bytes as they are, with its content type, and a Node stream chunked', async () => {
    reply = answer(201, { path: '/workspace/a.bin', size: 3 });
    const client = new DuraboxClient({ baseUrl, token: 't' });
    const written = await client.writeSessionFile({ id: 's1', query: { path: '/workspace/a.bin' }, body: new Uint8Array([0, 1, 255]) });
    assert.equal(written.path, '/workspace/a.bin');
    assert.equal(seen[0].method, 'PUT');
    assert.equal(seen[0].url, '/api/v1/sessions/s1/files?path=%2Fworkspace%2Fa.bin');
    assert.equal(seen[0].headers['content-type'], 'application/octet-stream');
    assert.deepEqual([...seen[0].body], [0, 1, 255]);

    reply = answer(201, { seq: 1 });
    const worker = new DuraboxClient({ baseUrl, worker: { id: 'w', secret: 'x' } });
    await worker.registryPutSnapshot({ query: { account_id: 'a', session_id: 's' }, body: Readable.from([Buffer.from('ab'), Buffer.from('cd')]), contentType: 'application/gzip' }, { headers: { 'x-durabox-grant': 'g' } });
    assert.equal(seen[1].headers['content-type'], 'application/gzip');
    assert.equal(seen[1].headers['transfer-encoding'], 'chunked');
    assert.equal(seen[1].headers['x-durabox-grant'], 'g');
    assert.equal(seen[1].body.toString(), 'abcd');
  });

  it('answers a body that is not JSON as the unread Response', async () => {
    reply = (res) => {
      res.writeHead(200, { 'content-type': 'image/png' });
      res.end(Buffer.from([137, 80, 78, 71]));
    };
    const png = await new DuraboxClient({ baseUrl, token: 't' }).browserScreenshot({ id: 's', body: { full_page: true } });
    assert.ok(png instanceof Response);
    assert.deepEqual([...new Uint8Array(await png.arrayBuffer())], [137, 80, 78, 71]);
    assert.equal(seen[0].url, '/api/v1/sessions/s/browser/screenshot');
  });

  it('answers a download as the unread Response even when its bytes are JSON, and a directory as its listing', async () => {
    const client = new DuraboxClient({ baseUrl, token: 't' });
    reply = (res) => res.writeHead(200, { 'content-type': 'application/json', 'content-disposition': 'attachment; filename="a.json"' }).end('{"path":"not a listing"}');
    const file = await client.readSessionFile({ id: 's', query: { path: '/workspace/a.json' } });
    assert.ok(file instanceof Response);
    assert.equal(await file.text(), '{"path":"not a listing"}');
    reply = answer(200, { path: '/workspace', entries: [] });
    assert.deepEqual(await client.readSessionFile({ id: 's', query: { path: '/workspace' } }), { path: '/workspace', entries: [] });
  });

  it('throws DuraboxApiError with the status, the body\'s error and a session error\'s code and message', async () => {
    const client = new DuraboxClient({ baseUrl, token: 't' });
    reply = answer(404, { error: 'session not found', code: 'session_not_found', message: 'session s9 is not running' });
    const e = await client.getSession({ id: 's9' }).catch((x: unknown) => x);
    assert.ok(e instanceof DuraboxApiError);
    assert.equal(e.status, 404);
    assert.equal(e.code, 'session_not_found');
    assert.equal(e.error, 'session not found');
    assert.equal(e.message, 'session s9 is not running');
    assert.equal(e.operation, 'getSession');

    reply = answer(400, { error: 'invalid request body: name: too long' });
    const bad = await client.createTemplate({ body: { name: 'x', base: 'python' } }).catch((x: unknown) => x) as DuraboxApiError;
    assert.equal(bad.status, 400);
    assert.equal(bad.code, undefined);
    assert.equal(bad.message, 'invalid request body: name: too long');

    reply = (res) => {
      res.writeHead(502, { 'content-type': 'text/plain' });
      res.end('bad gateway');
    };
    const plain = await client.listTemplates().catch((x: unknown) => x) as DuraboxApiError;
    assert.equal(plain.status, 502);
    assert.equal(plain.error, 'bad gateway');
    assert.equal(plain.body, 'bad gateway');
  });

  it('send answers the Response whatever its status, with the call\'s own headers', async () => {
    reply = answer(409, { error: 'fenced' });
    const res = await new DuraboxClient({ baseUrl, worker: { id: 'w', secret: 's' } })
      .send('registryClaimSnapshot', { query: { account_id: 'a', session_id: 'b' } }, { headers: { 'x-durabox-grant': 'g1' } });
    assert.equal(res.status, 409);
    assert.deepEqual(await res.json(), { error: 'fenced' });
    assert.equal(seen[0].url, '/api/v1/registry/snapshots/claim?account_id=a&session_id=b');
    assert.equal(seen[0].headers['x-durabox-grant'], 'g1');
  });

  it('refuses a missing path parameter before sending anything', async () => {
    const client = new DuraboxClient({ baseUrl, token: 't' });
    await assert.rejects(client.getSession({ id: '' }), /getSession: the path parameter id is missing/);
    assert.equal(seen.length, 0);
  });

  it('gives up after timeoutMs, and a custom fetch stands in for the global one', async () => {
    reply = (res) => setTimeout(() => answer(200, {})(res), 500);
    await assert.rejects(new DuraboxClient({ baseUrl, token: 't', timeoutMs: 50 }).listSnapshots(), (e: Error) => e.name === 'TimeoutError');

    const urls: string[] = [];
    const recording = new DuraboxClient({
      baseUrl: 'http://api.invalid',
      credentials: 'same-origin',
      fetch: async (url, init) => {
        urls.push(`${init.method} ${url} ${init.credentials}`);
        return new Response(JSON.stringify({ items: [] }), { status: 200, headers: { 'content-type': 'application/json' } });
      },
    });
    assert.deepEqual(await recording.consoleTemplates(), { items: [] });
    assert.deepEqual(urls, ['GET http://api.invalid/api/v1/console/templates same-origin']);
  });
});

function answer(status: number, body?: unknown): Reply {
  return (res) => {
    if (body === undefined) {
      res.writeHead(status).end();
      return;
    }
    res.writeHead(status, { 'content-type': 'application/json; charset=utf-8' }).end(JSON.stringify(body));
  };
}
