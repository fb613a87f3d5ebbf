import assert from 'node:assert/strict';
import { readBenchSettings } from '../../bench/settings.js';

describe('bench: settings', () => {
  it('scaling clients default to spec §10\'s table', () => {
    const s = readBenchSettings({});
    assert.deepEqual(s.scalingClients, [1, 4, 16, 64]);
    assert.equal(s.scalingSec, 20);
  });

  it('reads ascending comma-separated lists', () => {
    assert.deepEqual(readBenchSettings({ BENCH_SCALING_CLIENTS: '2, 8' }).scalingClients, [2, 8]);
  });

  it('refuses a list out of order, with a zero or with something not a number', () => {
    for (const bad of ['4,1', '1,1', '0,4', '1,x', '1,,4']) {
      assert.throws(() => readBenchSettings({ BENCH_SCALING_CLIENTS: bad }), /BENCH_SCALING_CLIENTS must be ascending/, bad);
    }
  });
});
