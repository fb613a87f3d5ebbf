import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import Koa from 'koa';
import { sendLogLinesTo } from '../../config/log.js';
import { DuraboxError } from '../../contract/errors.js';
import { errorMiddleware } from '../../api/errors.js';
import { requestLog } from '../../api/request-log.js';

describe('the API\'s request lines', () => {
  const lines: Array<Record<string, any>> = [];
  let server: Server;
  let url: string;

  before(async () => {
    sendLogLinesTo((line) => lines.push(JSON.parse(line)));
    const app = new Koa();
    app.use(requestLog);
    app.use(errorMiddleware);
    app.use((ctx) => {
      if (ctx.path === '/boom') throw new Error('the database went away');
      if (ctx.path === '/timeout') throw new DuraboxError('timeout', 'execution exceeded timeout_ms=1000');
      if (ctx.path === '/broken') throw new DuraboxError('sandbox_broken');
      ctx.body = { ok: true };
    });
    server = createServer(app.callback());
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  after(() => {
    server.close();
    sendLogLinesTo((line) => process.stdout.write(line));
  });

  const lineOf = (requestId: string) => lines.find((l) => l.request_id === requestId)!;

  it('an unexpected failure answers 500 and is logged at error with its stack', async () => {
    const r = await fetch(`${url}/boom?token=dbx_in_the_query`, { headers: { 'x-request-id': 'u-boom' } });
    assert.equal(r.status, 500);
    const l = lineOf('u-boom');
    assert.equal(l.level, 'error');
    assert.equal(l.status, 500);
    assert.equal(l.path, '/boom');
    assert.match(l.err.stack, /the database went away\n\s+at /);
    assert.ok(!JSON.stringify(l).includes('dbx_in_the_query'), 'the query string is never logged');
  });

  it('a user\'s timeout answers 504 and is an info line with its code, without a stack', async () => {
    const r = await fetch(`${url}/timeout`, { headers: { 'x-request-id': 'u-timeout' } });
    assert.equal(r.status, 504);
    const l = lineOf('u-timeout');
    assert.deepEqual([l.level, l.status, l.error_code, l.err], ['info', 504, 'timeout', undefined]);
  });

  it('a platform fault with a code (a broken sandbox) is a warning', async () => {
    await fetch(`${url}/broken`, { headers: { 'x-request-id': 'u-broken' } });
    assert.deepEqual([lineOf('u-broken').level, lineOf('u-broken').error_code], ['warn', 'sandbox_broken']);
  });

  it('echoes the client\'s request id, and makes one for a client that sent none', async () => {
    assert.equal((await fetch(url, { headers: { 'x-request-id': 'u-ok' } })).headers.get('x-request-id'), 'u-ok');
    assert.equal(lineOf('u-ok').level, 'info');
    const made = (await fetch(url)).headers.get('x-request-id')!;
    assert.match(made, /^[0-9a-f-]{36}$/);
    assert.ok(lineOf(made));
  });
});
