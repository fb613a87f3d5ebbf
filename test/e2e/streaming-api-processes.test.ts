// Output reaches a client of any API process: the worker posts it to one, PostgreSQL NOTIFY tells the
// others. (The embedded database serves one process only, so this suite runs on PostgreSQL.)
import assert from 'node:assert/strict';
import { startApiPlatform, type ApiPlatform } from '../../api/platform.js';
import { platform } from './support/hooks.js';
import { call, newToken } from './support/http.js';
import { collect, openEvents, SLOW_PRINT } from './support/sse.js';

describe('streaming across API processes', function () {
  this.timeout(120_000);
  let token: string;
  let second: ApiPlatform | undefined;

  before(async () => {
    token = await newToken();
    second = await startApiPlatform({ ...platform.config.api, httpPort: 0, httpHost: '127.0.0.1' }, platform.config.temporal);
  });
  after(async () => { await second?.close(); });

  it('reaches a client connected to another API process (PostgreSQL LISTEN/NOTIFY)', async () => {
    // Started through the first API (the worker posts its output there), followed through the second.
    const started = await call('POST', '/api/v1/tasks', { token, body: { capability: 'pythonExec', input: { code: SLOW_PRINT }, mode: 'async' } });
    const all = await collect((await openEvents(`${second!.url}/api/v1/tasks/${started.body.task_id}/events`, { token })).events);
    const first = all.find((e) => e.event === 'stdout');
    const result = all[all.length - 1];
    assert.equal(first?.data.text, 'first\n');
    assert.ok(result.at - first!.at >= 2000, 'live, not replayed at the end');
    assert.equal(result.data.status, 'succeeded');
  });
});
