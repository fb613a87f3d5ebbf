// Reference API §5 (worker management, admin dashboard auth), replayed against durabox.
import assert from 'node:assert/strict';
import { platform } from '../e2e/support/hooks.js';
import { call, login } from '../e2e/support/http.js';
import { assertError, assertTime } from './support/reference.js';

const WORKER_ITEM_FIELDS = ['capabilities', 'executor_kind', 'labels', 'last_seen_at', 'node_id', 'node_name', 'registered_at', 'status', 'version'];

describe('reference API §5 worker management', () => {
  let admin: string;
  before(async () => { admin = await login(); });

  describe('§5.1 GET /api/v1/workers', () => {
    it('200 {items[{node_id, node_name, executor_kind, capabilities[{name, max_inflight}], labels, version, status, registered_at, last_seen_at}], total, page, page_size} with defaults page 1, page_size 20', async () => {
      const r = await call('GET', '/api/v1/workers', { cookie: admin });
      assert.equal(r.status, 200);
      assert.deepEqual(Object.keys(r.body).sort(), ['items', 'page', 'page_size', 'total']);
      assert.equal(r.body.page, 1);
      assert.equal(r.body.page_size, 20);
      assert.ok(Number.isInteger(r.body.total) && r.body.total >= 1);
      assert.ok(r.body.items.length <= 20);
      const main = r.body.items.find((w: { node_id: string }) => w.node_id === platform.workerId('w-main'));
      assert.ok(main, 'the running worker is listed');
      assert.deepEqual(Object.keys(main).sort(), WORKER_ITEM_FIELDS);
      assert.equal(typeof main.node_name, 'string');
      assert.equal(typeof main.executor_kind, 'string');
      assert.equal(typeof main.version, 'string');
      assert.equal(main.status, 'online');
      assert.ok(main.capabilities.length > 0);
      for (const c of main.capabilities) {
        assert.deepEqual(Object.keys(c).sort(), ['max_inflight', 'name']);
        assert.equal(typeof c.name, 'string');
        assert.ok(Number.isInteger(c.max_inflight));
      }
      assert.equal(typeof main.labels, 'object');
      for (const v of Object.values(main.labels)) assert.equal(typeof v, 'string');
      assertTime(main.registered_at, 'registered_at');
      assertTime(main.last_seen_at, 'last_seen_at');
    });

    it('status=all|online|offline filters, page and page_size page', async () => {
      const fresh = await call('POST', '/api/v1/workers', { cookie: admin });
      const all = await call('GET', '/api/v1/workers?page=1&page_size=100&status=all', { cookie: admin });
      assert.equal(all.status, 200);
      assert.equal(all.body.page_size, 100);
      const online = await call('GET', '/api/v1/workers?status=online&page_size=100', { cookie: admin });
      const offline = await call('GET', '/api/v1/workers?status=offline&page_size=100', { cookie: admin });
      assert.ok(online.body.items.every((w: { status: string }) => w.status === 'online'));
      assert.ok(offline.body.items.every((w: { status: string }) => w.status === 'offline'));
      assert.ok(offline.body.items.some((w: { node_id: string }) => w.node_id === fresh.body.node_id), 'a never-started worker is offline');
      assert.equal(online.body.total + offline.body.total, all.body.total);
      const p1 = await call('GET', '/api/v1/workers?page=1&page_size=1', { cookie: admin });
      const p2 = await call('GET', '/api/v1/workers?page=2&page_size=1', { cookie: admin });
      assert.equal(p1.body.items.length, 1);
      assert.equal(p2.body.items.length, 1);
      assert.equal(p2.body.page, 2);
      assert.notEqual(p1.body.items[0].node_id, p2.body.items[0].node_id);
      await call('DELETE', `/api/v1/workers/${fresh.body.node_id}`, { cookie: admin });
    });

    it('400 for invalid query values', async () => {
      // page_size above 100: durabox answers 400 (documented in docs/compatibility.md) where the limit is stated as "max 100".
      for (const q of ['page=0', 'page=-1', 'page=abc', 'page_size=0', 'page_size=abc', 'page_size=101', 'status=busy']) {
        assertError(await call('GET', `/api/v1/workers?${q}`, { cookie: admin }), 400);
      }
    });

    it('401 without a login, 403 for a non-admin', async () => {
      assertError(await call('GET', '/api/v1/workers'), 401);
      const other = await platform.otherAccount('wrk-nonadmin');
      assertError(await call('GET', '/api/v1/workers', { cookie: await login(other.account.username, 'pw') }), 403);
    });
  });

  describe('§5.2 GET /api/v1/workers/stats', () => {
    it('200 {total, online, offline, stale, stale_after_sec, generated_at}, stale_after_sec default 30', async () => {
      const r = await call('GET', '/api/v1/workers/stats', { cookie: admin });
      assert.equal(r.status, 200);
      assert.deepEqual(Object.keys(r.body).sort(), ['generated_at', 'offline', 'online', 'stale', 'stale_after_sec', 'total']);
      for (const f of ['total', 'online', 'offline', 'stale']) assert.ok(Number.isInteger(r.body[f]) && r.body[f] >= 0, f);
      assert.equal(r.body.stale_after_sec, 30);
      assert.equal(r.body.online + r.body.offline, r.body.total);
      assert.ok(r.body.online >= 1);
      assertTime(r.body.generated_at, 'generated_at');
      const given = await call('GET', '/api/v1/workers/stats?stale_after_sec=45', { cookie: admin });
      assert.equal(given.status, 200);
      assert.equal(given.body.stale_after_sec, 45);
    });

    it('400 for a stale_after_sec that is not a positive integer', async () => {
      for (const q of ['0', '-5', 'abc']) assertError(await call('GET', `/api/v1/workers/stats?stale_after_sec=${q}`, { cookie: admin }), 400);
    });
  });

  describe('§5.3 GET /api/v1/workers/inflight', () => {
    it('200 {workers[{node_id, capabilities[{name, inflight, max_inflight}]}], generated_at}', async () => {
      const r = await call('GET', '/api/v1/workers/inflight', { cookie: admin });
      assert.equal(r.status, 200);
      assert.deepEqual(Object.keys(r.body).sort(), ['generated_at', 'workers']);
      assertTime(r.body.generated_at, 'generated_at');
      const main = r.body.workers.find((w: { node_id: string }) => w.node_id === platform.workerId('w-main'));
      assert.ok(main, 'the running worker is listed');
      assert.deepEqual(Object.keys(main).sort(), ['capabilities', 'node_id']);
      assert.ok(main.capabilities.length > 0);
      for (const c of main.capabilities) {
        assert.deepEqual(Object.keys(c).sort(), ['inflight', 'max_inflight', 'name']);
        assert.ok(Number.isInteger(c.inflight) && c.inflight >= 0);
        assert.ok(Number.isInteger(c.max_inflight) && c.max_inflight >= c.inflight);
      }
    });
  });

  describe('§5.4 POST /api/v1/workers', () => {
    it('201 {node_id, command} with no request body; the command carries the node id and a secret', async () => {
      const r = await call('POST', '/api/v1/workers', { cookie: admin });
      assert.equal(r.status, 201, JSON.stringify(r.body));
      assert.equal(typeof r.body.node_id, 'string');
      assert.ok(r.body.node_id.length > 0);
      assert.equal(typeof r.body.command, 'string');
      assert.ok(r.body.command.includes(r.body.node_id), 'the start command names the worker');
      // Deliberate difference: durabox's variables are DURABOX_WORKER_ID / DURABOX_WORKER_SECRET (not WORKER_ID / WORKER_SECRET).
      assert.match(r.body.command, /DURABOX_WORKER_SECRET=\S+/);
      const again = await call('POST', '/api/v1/workers', { cookie: admin });
      assert.notEqual(again.body.node_id, r.body.node_id);
      for (const id of [r.body.node_id, again.body.node_id]) await call('DELETE', `/api/v1/workers/${id}`, { cookie: admin });
    });

    it('401 without a login, 403 for a non-admin', async () => {
      assertError(await call('POST', '/api/v1/workers'), 401);
      const other = await platform.otherAccount('wrk-create');
      assertError(await call('POST', '/api/v1/workers', { cookie: await login(other.account.username, 'pw') }), 403);
    });
  });

  describe('§5.5 DELETE /api/v1/workers/:node_id', () => {
    it('204 deleted, then 404; 404 for an unknown worker', async () => {
      const r = await call('POST', '/api/v1/workers', { cookie: admin });
      const d = await call('DELETE', `/api/v1/workers/${r.body.node_id}`, { cookie: admin });
      assert.equal(d.status, 204);
      assert.equal(d.body, undefined);
      const list = await call('GET', '/api/v1/workers?page_size=100', { cookie: admin });
      assert.ok(!list.body.items.some((w: { node_id: string }) => w.node_id === r.body.node_id), 'gone from the list');
      assertError(await call('DELETE', `/api/v1/workers/${r.body.node_id}`, { cookie: admin }), 404);
      assertError(await call('DELETE', '/api/v1/workers/2f51f8f9-77f2-4c1a-a4f5-2036fc9fcb9e', { cookie: admin }), 404);
    });
  });

  describe('§5.6 GET /api/v1/workers/:node_id/startup-command', () => {
    it('always 410 Gone with {error}', async () => {
      const r = await call('POST', '/api/v1/workers', { cookie: admin });
      const g = await call('GET', `/api/v1/workers/${r.body.node_id}/startup-command`, { cookie: admin });
      assertError(g, 410);
      assert.ok(!JSON.stringify(g.body).includes(r.body.command), 'never the command');
      assertError(await call('GET', '/api/v1/workers/unknown-node/startup-command', { cookie: admin }), 410);
      await call('DELETE', `/api/v1/workers/${r.body.node_id}`, { cookie: admin });
    });
  });
});
