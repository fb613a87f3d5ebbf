import assert from 'node:assert/strict';
import { KeyedGate } from '../../control/keyed-gate.js';

const tick = () => new Promise((r) => setImmediate(r));

describe('keyed gate (calls in flight per session)', () => {
  it('runs at most `limit` calls of a key at once, the rest in arrival order, and other keys unhindered', async () => {
    const gate = new KeyedGate(2);
    const release: Array<() => void> = [];
    const started: string[] = [];
    const call = (name: string) => () => new Promise<string>((resolve) => { started.push(name); release.push(() => resolve(name)); });
    const a = ['a1', 'a2', 'a3', 'a4'].map((n) => gate.run('a', call(n)));
    const b = gate.run('b', call('b1'));
    await tick();
    assert.deepEqual(started, ['a1', 'a2', 'b1']);
    release.shift()!(); // a1 ends: a3 takes its slot
    await tick();
    assert.deepEqual(started, ['a1', 'a2', 'b1', 'a3']);
    while (release.length) { release.shift()!(); await tick(); }
    assert.deepEqual(await Promise.all([...a, b]), ['a1', 'a2', 'a3', 'a4', 'b1']);
    assert.deepEqual(started, ['a1', 'a2', 'b1', 'a3', 'a4']);
    assert.equal(gate.size, 0, 'no lane is kept once its calls are done');
  });

  it('a failing call frees its slot and its error reaches its caller', async () => {
    const gate = new KeyedGate(1);
    const failed = gate.run('k', async () => { throw new Error('boom'); });
    const next = gate.run('k', async () => 'next');
    await assert.rejects(failed, /boom/);
    assert.equal(await next, 'next');
    assert.equal(gate.size, 0);
  });

  it('refuses a limit below one', () => {
    assert.throws(() => new KeyedGate(0), /at least 1/);
  });
});
