import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startApiPlatform } from '../../api/platform.js';
import { platform } from './support/hooks.js';

describe('embedded database (PGlite, the `npm start` default without DATABASE_URL)', function () {
  this.timeout(90_000);
  const dataDir = mkdtempSync(join(tmpdir(), 'durabox-pglite-'));
  after(() => rmSync(dataDir, { recursive: true, force: true }));

  it('serves login, tokens and tasks, and keeps login sessions across a restart', async () => {
    const config = { ...platform.config.api, databaseUrl: undefined, dataDir, httpPort: 0, adminPassword: 'embedded-pw' };
    let api = await startApiPlatform(config, platform.config.temporal);
    try {
      assert.equal(api.firstAdmin?.username, 'admin');
      // Workers report to the run's main API; tell this one that a python worker is online, as a heartbeat would.
      await api.deps.workers.putCredential({ nodeId: 'embedded-python', secretHash: 'unused' });
      await api.deps.workers.report('embedded-python', { node_name: 'test', executor_kind: 'docker', version: '0', labels: {}, capabilities: [{ name: 'python', max_inflight: 1, inflight: 0 }], offline_after_ms: 600_000 }, true);
      const login = await fetch(`${api.url}/api/v1/console/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username: 'admin', password: 'embedded-pw' }) });
      assert.equal(login.status, 200);
      const cookie = login.headers.get('set-cookie')!.split(';')[0];
      const tok = await (await fetch(`${api.url}/api/v1/console/tokens`, { method: 'POST', headers: { 'content-type': 'application/json', cookie }, body: JSON.stringify({ name: 'embedded' }) })).json();
      const echo = await fetch(`${api.url}/api/v1/commands/echo`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${tok.token}` }, body: JSON.stringify({ message: 'from pglite' }) });
      assert.equal(echo.status, 200);
      assert.deepEqual(await echo.json(), { message: 'from pglite' });

      await api.close();
      api = await startApiPlatform(config, platform.config.temporal);
      assert.equal(api.firstAdmin, undefined, 'the admin is created once');
      const session = await fetch(`${api.url}/api/v1/console/session`, { headers: { cookie } });
      assert.equal(session.status, 200, 'still logged in after a restart');
      assert.equal((await session.json()).account.username, 'admin');

      // Deletes count their rows on PGlite as on PostgreSQL: 204, then the thing is gone.
      const del = await fetch(`${api.url}/api/v1/console/tokens/${tok.id}`, { method: 'DELETE', headers: { cookie } });
      assert.equal(del.status, 204);
      const refused = await fetch(`${api.url}/api/v1/commands/echo`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${tok.token}` }, body: JSON.stringify({ message: 'x' }) });
      assert.equal(refused.status, 401, 'the deleted token no longer works');
      assert.equal(await api.deps.workers.report('embedded-python', { node_name: 'test', executor_kind: 'docker', version: '0', labels: {}, capabilities: [], offline_after_ms: 1000 }, false), true, 'a heartbeat of a known worker is accepted');
      const delWorker = await fetch(`${api.url}/api/v1/workers/embedded-python`, { method: 'DELETE', headers: { cookie } });
      assert.equal(delWorker.status, 204);
    } finally {
      await api.close();
    }
  });
});
