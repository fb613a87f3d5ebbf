import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { CheckpointTooLarge, compress, decompress, digestOf } from '../../sandbox/workspace-checkpoint.js';

describe('workspace checkpoints: compression and digest', () => {
  // Any bytes stand for the tar here: the digest and compression do not read it as a tar.
  const tar = Buffer.concat([Buffer.alloc(4096, 'a'), randomBytes(4096), Buffer.alloc(1024)]);

  it('gives the same digest for the same bytes and another for one changed byte', () => {
    assert.equal(digestOf(tar), digestOf(Buffer.from(tar)));
    const changed = Buffer.from(tar);
    changed[10] ^= 1;
    assert.notEqual(digestOf(changed), digestOf(tar));
    assert.match(digestOf(tar), /^[0-9a-f]{64}$/);
  });

  it('round-trips through gzip, checked against the digest it was stored under', async () => {
    const stored = await compress(tar);
    assert.ok(stored.length < tar.length, 'the repeated parts compress');
    assert.deepEqual(await decompress(stored, digestOf(tar), tar.length), tar);
  });

  it('stops inflating at its bound: a small checkpoint of many zeros is refused as too large, not held whole', async () => {
    const bomb = await compress(Buffer.alloc(64 * 1024 * 1024));
    assert.ok(bomb.length < 128 * 1024, `a small checkpoint: ${bomb.length}`);
    await assert.rejects(decompress(bomb, '', 1024 * 1024), (e: Error) => e instanceof CheckpointTooLarge && /inflates to more than 1048576 bytes/.test(e.message));
    assert.equal((await decompress(bomb, '', 64 * 1024 * 1024)).length, 64 * 1024 * 1024, 'up to the bound it inflates');
  });

  it('refuses a checkpoint whose bytes do not match its digest', async () => {
    const other = await compress(Buffer.alloc(2048, 'b'));
    await assert.rejects(decompress(other, digestOf(tar), 1 << 20), /does not match its digest/);
  });

  it('refuses bytes that are not gzip', async () => {
    await assert.rejects(decompress(Buffer.from('not gzip at all'), digestOf(tar), 1 << 20));
  });
});
