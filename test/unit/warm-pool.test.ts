// The warm pools' one create-and-refill loop (sandbox/warm-pool.ts), with made-up items in place of
// containers: how many it keeps, a refill after a take, a failed warm-up logged and tried again at the
// next refill, what it gives back, and that after its close nothing is kept: idle ones are discarded and
// so is every one still being made.
import assert from 'node:assert/strict';
import { WarmPool } from '../../sandbox/warm-pool.js';

/** A pool of numbered items whose creations finish when the test says (`finish`), or fail. */
function pool(warm: number) {
  let next = 0;
  const pending: Array<{ resolve: (n: number) => void; reject: (e: Error) => void }> = [];
  const discarded: number[] = [];
  const errors: unknown[] = [];
  const p = new WarmPool<number>({
    warm,
    create: () => new Promise<number>((resolve, reject) => pending.push({ resolve, reject })),
    discard: async (n) => { discarded.push(n); },
    onError: (e) => errors.push(e),
  });
  const settle = () => new Promise((r) => setImmediate(r));
  return {
    p, discarded, errors,
    get making() { return pending.length; },
    async finish() { for (const c of pending.splice(0)) c.resolve(next++); await settle(); },
    async fail() { for (const c of pending.splice(0)) c.reject(new Error('docker said no')); await settle(); },
  };
}

describe('warm pool', () => {
  it('makes `warm` at once, never more while they start, and refills what is taken', async () => {
    const t = pool(3);
    t.p.refill();
    t.p.refill(); // a second refill while they start makes no more
    assert.equal(t.making, 3);
    await t.finish();
    assert.deepEqual(t.p.idle, [0, 1, 2]);
    t.p.refill();
    assert.equal(t.making, 0, 'full: nothing made');
    assert.equal(t.p.take(), 0, 'the oldest first');
    t.p.refill();
    assert.equal(t.making, 1);
    await t.finish();
    assert.deepEqual(t.p.idle, [1, 2, 3]);
  });

  it('a pool of none makes nothing, and a take from it is undefined', async () => {
    const t = pool(0);
    t.p.refill();
    assert.equal(t.making, 0);
    assert.equal(t.p.take(), undefined);
  });

  it('logs a failed warm-up, keeps nothing of it, and tries again at the next refill', async () => {
    const t = pool(2);
    t.p.refill();
    await t.fail();
    assert.equal(t.errors.length, 2);
    assert.match(String(t.errors[0]), /docker said no/);
    assert.deepEqual(t.p.idle, []);
    t.p.refill();
    assert.equal(t.making, 2);
    await t.finish();
    assert.equal(t.p.idle.length, 2);
  });

  it('takes one back only while open and under the most idle it may keep', async () => {
    const t = pool(0);
    assert.equal(t.p.giveBack(7, 1), true);
    assert.equal(t.p.giveBack(8, 1), false, 'one idle is the most');
    assert.equal(t.p.giveBack(8), true, 'no most: kept');
    await t.p.close();
    assert.equal(t.p.giveBack(9), false, 'closed');
    assert.deepEqual(t.p.idle, []);
  });

  it('at its close discards the idle ones and those still being made, and makes no more', async () => {
    const t = pool(2);
    t.p.refill();
    await t.finish();
    t.p.take();
    t.p.refill(); // one being made when the pool closes
    await t.p.close();
    assert.ok(t.p.closed);
    assert.deepEqual(t.discarded, [1]);
    await t.finish();
    assert.deepEqual(t.discarded, [1, 2], 'made after the close: discarded, not kept');
    assert.deepEqual(t.p.idle, []);
    t.p.refill();
    assert.equal(t.making, 0);
  });
});
