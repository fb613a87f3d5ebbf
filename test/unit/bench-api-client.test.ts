// The bench's API client against a stand-in of the test's own on loopback: it logs in, makes its token
// with the login cookie, then calls with the token; its checks read the status as well as the body.
import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { ApiError, DuraboxApi } from '../../bench/api-client.js';

interface Seen { method: string; url: string; headers: IncomingMessage['headers']; body: string }

describe('bench: API client', () => {
  let server: Server;
  let baseUrl: string;
  const seen: Seen[] = [];
  let taskStatus = 200;

  before(async () => {
    server = createServer((req, res) => {
      let body = '';
      req.on('data', (c: Buffer) => { body += c.toString(); });
      req.on('end', () => {
        seen.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers, body });
        const send = (status: number, b: unknown, headers: Record<string, string> = {}) => res.writeHead(status, { 'content-type': 'application/json', ...headers }).end(JSON.stringify(b));
        if (req.url === '/api/v1/console/login') return send(200, { authenticated: true }, { 'set-cookie': 'durabox_session=c42; Path=/; HttpOnly' });
        if (req.url === '/api/v1/console/tokens') return send(201, { id: 'tok_1', token: 'dbx_secret', generated: true });
        if (req.url === '/api/v1/tasks') return send(taskStatus, { task_id: 't1', status: taskStatus === 200 ? 'succeeded' : 'running', result: { output: 'hi\n' } });
        if (req.url === '/api/v1/sessions/s%201/fork') return send(201, { session_id: 's2', forked_from: 's 1' });
        if (req.method === 'DELETE') return res.writeHead(204).end();
        send(404, { error: 'not found' });
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  after(() => new Promise<void>((resolve) => server.close(() => resolve())));

  it('logs in, creates its token by the login cookie, and calls with the token', async () => {
    const api = await DuraboxApi.connect(baseUrl, { username: 'admin', password: 'pw' }, 5000);
    assert.equal(api.token, 'dbx_secret');
    assert.deepEqual(JSON.parse(seen[0].body), { username: 'admin', password: 'pw' });
    assert.equal(seen[1].headers.cookie, 'durabox_session=c42');
    assert.match(JSON.parse(seen[1].body).name, /^bench-/);

    assert.equal(await api.pythonExec('print("hi")', 'hi\n'), 't1');
    const task = seen[2];
    assert.equal(task.headers.authorization, 'Bearer dbx_secret');
    assert.deepEqual(JSON.parse(task.body), { capability: 'pythonExec', input: { code: 'print("hi")' }, mode: 'sync' });

    assert.equal(await api.fork('s 1'), 's2');
    await api.deleteSession('s2');
    assert.deepEqual(seen.slice(3).map((s) => `${s.method} ${s.url}`), ['POST /api/v1/sessions/s%201/fork', 'DELETE /api/v1/sessions/s2']);
  });

  it('refuses a task that answered 202 (still running) where it waited for the result', async () => {
    taskStatus = 202;
    await assert.rejects(new DuraboxApi(baseUrl, 'dbx_secret', 5000).pythonExec('1', 'hi\n'), (e: Error) => e instanceof ApiError && /pythonExec answered 202/.test(e.message));
    taskStatus = 200;
  });
});
