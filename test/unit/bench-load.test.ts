import assert from 'node:assert/strict';
import { failed } from '../../bench/figures.js';
import { measureInterleaved, measureSequential, roundOrder } from '../../bench/load.js';

describe('bench: latency of operations side by side', () => {
  it('turns the order of each round, so no operation always goes first', () => {
    assert.deepEqual([0, 1, 2, 3].map((r) => roundOrder(3, r)), [[0, 1, 2], [1, 2, 0], [2, 0, 1], [0, 1, 2]]);
    assert.deepEqual(roundOrder(1, 5), [0]);
  });

  it('runs each operation warm-up + samples times, round by round, and times only the samples', async () => {
    const calls: string[] = [];
    const op = (name: string) => async () => { calls.push(name); };
    const runs = await measureInterleaved([op('a'), op('b'), op('c')], { samples: 3, warmup: 1 });
    assert.deepEqual(calls, ['a', 'b', 'c', 'b', 'c', 'a', 'c', 'a', 'b', 'a', 'b', 'c']);
    for (const r of runs) {
      assert.ok(!failed(r));
      assert.equal(r.latency.n, 3);
      assert.equal(r.samplesMs.length, 3);
      assert.equal(r.errors, 0);
    }
  });

  it('counts a failed sample against its own operation only', async () => {
    let n = 0;
    const flaky = async () => { if (++n === 3) throw new Error('once'); };
    const [a, b] = await measureInterleaved([flaky, async () => undefined], { samples: 4, warmup: 0 });
    assert.ok(!failed(a) && !failed(b));
    assert.equal(a.errors, 1);
    assert.deepEqual(a.errorMessages, [{ message: 'once', count: 1 }]);
    assert.equal(a.latency.n, 3);
    assert.equal(b.errors, 0);
    assert.equal(b.latency.n, 4);
  });

  it('gives up on an operation after five failures in a row and goes on with the others', async () => {
    let brokenCalls = 0;
    const broken = async () => { brokenCalls++; throw new Error('down'); };
    const [a, b] = await measureInterleaved([broken, async () => undefined], { samples: 10, warmup: 0 });
    assert.deepEqual(a, { error: 'down' });
    assert.equal(brokenCalls, 5);
    assert.ok(!failed(b));
    assert.equal(b.latency.n, 10);
  });

  it('runs an untimed clean-up step after the clock stops', async () => {
    let cleaned = 0;
    const [r] = await measureInterleaved([async () => async () => { cleaned++; }], { samples: 2, warmup: 1 });
    assert.equal(cleaned, 3);
    assert.ok(!failed(r));
  });

  it('one operation alone still throws as before when it keeps failing', async () => {
    await assert.rejects(measureSequential(async () => { throw new Error('no'); }, { samples: 3, warmup: 0 }), /all 3 runs failed: no/);
    await assert.rejects(measureSequential(async () => { throw new Error('no'); }, { samples: 9, warmup: 0 }), /^Error: no$/);
  });
});
