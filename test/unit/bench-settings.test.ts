import assert from 'node:assert/strict';
import { readBenchSettings } from '../../bench/settings.js';

describe('bench: settings', () => {
  it('scaling clients and session levels default to spec §10\'s table', () => {
    const s = readBenchSettings({});
    assert.deepEqual(s.scalingClients, [1, 4, 16, 64]);
    assert.equal(s.scalingSec, 20);
    assert.deepEqual(s.sessionLevels, [200, 1000]);
  });

  it('MCP rounds default to BENCH_SAMPLES, at most 40 (a round holds a task polled for about a second)', () => {
    assert.equal(readBenchSettings({}).mcpSamples, 40);
    assert.equal(readBenchSettings({ BENCH_SAMPLES: '10' }).mcpSamples, 10);
    assert.equal(readBenchSettings({ BENCH_SAMPLES: '10', BENCH_MCP_SAMPLES: '100' }).mcpSamples, 100);
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

describe('bench: BENCH_ONLY', () => {
  it('is absent by default: every figure is measured', () => {
    assert.equal(readBenchSettings({}).only, undefined);
    assert.equal(readBenchSettings({ BENCH_ONLY: ' ' }).only, undefined);
  });

  it('reads comma-separated figure ids, which may hold spaces, once each', () => {
    const s = readBenchSettings({ BENCH_ONLY: 'append zero-loss p50, zero-loss 10k files overhead,append zero-loss p50' });
    assert.deepEqual(s.only, ['append zero-loss p50', 'zero-loss 10k files overhead']);
  });

  it('reads an entry ending in * as every id it begins, in catalog order, beside exact ids', () => {
    const s = readBenchSettings({ BENCH_ONLY: 'append 10k files*, terminal p50' });
    assert.deepEqual(s.only, ['append 10k files off p50', 'append 10k files interval p50', 'append 10k files zero-loss p50', 'terminal p50']);
    assert.throws(() => readBenchSettings({ BENCH_ONLY: 'nothing like this*' }), /unknown figure id\(s\) "nothing like this\*"/);
  });

  it('refuses an id the catalog does not have, naming it and the known ones', () => {
    assert.throws(() => readBenchSettings({ BENCH_ONLY: 'terminal p50,zero p50' }), /BENCH_ONLY: unknown figure id\(s\) "zero p50"; known: .*append zero-loss p50/);
    assert.throws(() => readBenchSettings({ BENCH_ONLY: 'terminal p50,' }), /unknown figure id\(s\) ""/);
  });
});
