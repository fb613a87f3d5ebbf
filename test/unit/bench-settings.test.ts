import assert from 'node:assert/strict';
import { readBenchSettings } from '../../bench/settings.js';

describe('bench: settings', () => {
  it('scaling clients and session levels default to spec §10\'s table', () => {
    const s = readBenchSettings({});
    assert.deepEqual(s.scalingClients, [1, 4, 16, 64]);
    assert.equal(s.scalingSec, 20);
    assert.deepEqual(s.sessionLevels, [200, 1000]);
  });

  it('reads ascending comma-separated lists', () => {
    const s = readBenchSettings({ BENCH_SCALING_CLIENTS: '2, 8', BENCH_SESSION_LEVELS: '10,30' });
    assert.deepEqual(s.scalingClients, [2, 8]);
    assert.deepEqual(s.sessionLevels, [10, 30]);
  });

  it('refuses a list out of order, with a zero or with something not a number', () => {
    for (const bad of ['4,1', '1,1', '0,4', '1,x', '1,,4']) {
      assert.throws(() => readBenchSettings({ BENCH_SESSION_LEVELS: bad }), /BENCH_SESSION_LEVELS must be ascending/, bad);
    }
  });

  it('refuses the old BENCH_IDLE_SESSIONS rather than silently opening the default levels', () => {
    assert.throws(() => readBenchSettings({ BENCH_IDLE_SESSIONS: '10' }), /BENCH_SESSION_LEVELS/);
  });
});
